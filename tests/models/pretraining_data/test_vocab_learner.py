import collections

import pytest
import tensorflow as tf

from models import features
from models.encoder import tokenization
from models.pretraining_data.vocab_learner import check_vocabulary, learn_vocabulary
from tests.conftest import DATA_DIR


def test_learned_vocabulary_starts_with_special_tokens_and_tokenizes_without_unknowns(tmp_path):
    from components.text_example_gen.corpus_reader import read_documents

    sentences = [s for d in read_documents(str(sorted(DATA_DIR.glob("corpus/*.gz"))[0]), 200) for s in d.sentences]
    words = tokenization.basic_tokenizer(lower_case=True).tokenize(tf.constant(sentences)).flat_values.numpy()
    counts = collections.Counter(w.decode("utf-8") for w in words)
    vocab = learn_vocabulary(
        counts.items(), vocab_size=1500, reserved_tokens=list(features.SPECIAL_TOKENS), max_alphabet=200
    )

    assert vocab[: len(features.SPECIAL_TOKENS)] == list(features.SPECIAL_TOKENS)
    assert 1000 < len(vocab) <= 1500 and len(set(vocab)) == len(vocab)
    assert any(token.startswith("##") for token in vocab)
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in vocab))
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(str(path)), lower_case=True)
    ids = tokenization.tokenize(tokenizer, tf.constant(sentences[:500])).flat_values.numpy()
    assert (ids == features.UNK_ID).mean() < 0.01
    assert ids.max() < len(vocab)


def test_word_counts_reach_the_trainer_exactly_in_bounded_strings():
    from models.pretraining_data.vocab_learner import _repeated_words

    strings = list(_repeated_words([("the", 25), ("cat", 3)], per_string=10))
    assert [len(s.split()) for s in strings] == [10, 10, 5, 3]
    assert collections.Counter(w for s in strings for w in s.split()) == {"the": 25, "cat": 3}


def test_same_counts_give_the_same_vocabulary_in_any_order():
    # Many characters of equal frequency and more of them than the alphabet keeps: the trainer alone
    # broke such ties in hash-map order, so the vocabulary (and every instance) changed between runs.
    import random

    rng = random.Random(0)
    letters = [chr(c) for c in range(0x4E00, 0x4E00 + 300)]  # 300 CJK characters
    counts = [("".join(rng.choice(letters) for _ in range(rng.randint(2, 6))), rng.randint(1, 3)) for _ in range(3000)]
    vocabularies = set()
    for attempt in range(6):
        shuffled = counts[:]
        random.Random(attempt).shuffle(shuffled)
        vocabularies.add(tuple(learn_vocabulary(shuffled, 800, list(features.SPECIAL_TOKENS), max_alphabet=120)))
    assert len(vocabularies) == 1
    [vocab] = vocabularies
    singles = [t for t in vocab if len(t) == 1 and t not in features.SPECIAL_TOKENS]
    assert len(singles) == 120


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (
            ["[PAD]", "[UNK]", "[SEP]", "[CLS]", "[MASK]", "cat"],
            r"line 3 is '\[SEP\]'; this pipeline needs \[PAD\] \[UNK\] \[CLS\]",
        ),
        (["[PAD]", "[UNK]", "[CLS]", "[SEP]"], r"line 5 is .*|4 lines"),
        ([*features.SPECIAL_TOKENS], r"5 lines; a vocabulary needs tokens after"),
        ([*features.SPECIAL_TOKENS, "cat", "dog", "cat"], r"line 8 repeats 'cat' of line 6"),
        ([*features.SPECIAL_TOKENS, "cat", "big dog"], r"line 7 is 'big dog'; every line must be one token"),
        ([*features.SPECIAL_TOKENS, "cat", ""], r"line 7 is ''"),
    ],
)
def test_a_given_vocabulary_that_does_not_fit_names_the_line(tokens, message):
    with pytest.raises(ValueError, match=message):
        check_vocabulary(tokens, list(features.SPECIAL_TOKENS), "data.vocab_file=v.txt")


def test_a_given_vocabulary_of_this_pipelines_layout_passes():
    check_vocabulary([*features.SPECIAL_TOKENS, "cat", "##s"], list(features.SPECIAL_TOKENS), "data.vocab_file=v.txt")
