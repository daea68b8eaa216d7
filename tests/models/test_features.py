from models import features


def test_special_tokens_have_fixed_leading_ids():
    assert features.SPECIAL_TOKENS[features.PAD_ID] == "[PAD]"
    assert features.PAD_ID == 0
    assert [
        features.SPECIAL_TOKENS[i] for i in (features.UNK_ID, features.CLS_ID, features.SEP_ID, features.MASK_ID)
    ] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_contract_uses_model_garden_names_once():
    assert features.PRETRAINING_FEATURES == (
        "input_word_ids",
        "input_type_ids",
        "input_mask",
        "masked_lm_positions",
        "masked_lm_ids",
        "masked_lm_weights",
        "next_sentence_labels",
    )
    assert len(set(features.PRETRAINING_FEATURES)) == len(features.PRETRAINING_FEATURES)
