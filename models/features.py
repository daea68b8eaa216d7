"""The one feature contract shared by Transform, Trainer, GLUE fine-tuning and the Evaluator.

Pre-training feature names follow TF Model Garden so tools and checkpoints interoperate. Special
tokens sit at fixed ids at the head of every learned vocabulary.
"""

# Raw corpus features written by TextExampleGen: one tf.Example per group of documents. The group's
# sentences, document after document; how many belong to each document; per document its id, title and
# source file; the key that decides the group's split.
SENTENCES = "sentences"
DOCUMENT_SENTENCES = "document_sentences"
DOC_ID = "doc_id"
TITLE = "title"
SOURCE = "source"
GROUP_KEY = "group_key"

# Pre-training features emitted by Transform.
INPUT_WORD_IDS = "input_word_ids"
INPUT_TYPE_IDS = "input_type_ids"
INPUT_MASK = "input_mask"
MASKED_LM_POSITIONS = "masked_lm_positions"
MASKED_LM_IDS = "masked_lm_ids"
MASKED_LM_WEIGHTS = "masked_lm_weights"
NEXT_SENTENCE_LABELS = "next_sentence_labels"

SEQUENCE_FEATURES = (INPUT_WORD_IDS, INPUT_TYPE_IDS, INPUT_MASK)
PREDICTION_FEATURES = (MASKED_LM_POSITIONS, MASKED_LM_IDS, MASKED_LM_WEIGHTS)
PRETRAINING_FEATURES = SEQUENCE_FEATURES + PREDICTION_FEATURES + (NEXT_SENTENCE_LABELS,)
# Written beside them for the statistics of the instances (the model reads none): the [UNK] tokens of each instance,
# whose share of the real tokens says how much of the corpus the vocabulary could not spell.
UNKNOWN_TOKENS = "unknown_tokens"
INSTANCE_FEATURES = PRETRAINING_FEATURES + (UNKNOWN_TOKENS,)

# next_sentence_labels values, as in the original BERT data: 0 = B follows A, 1 = B is random.
IS_NEXT = 0
IS_RANDOM_NEXT = 1

# The learned WordPiece vocabulary: the Transform analyzer writes it under this file name,
# `preprocessing_fn` annotates it as a transform-graph asset under the same key (read back with
# `TFTransformOutput.vocabulary_file_by_name(VOCAB_FILE)`), and the encoder checkpoint keeps its copy
# under this name too.
VOCAB_FILE = "vocab.txt"

# Special tokens, in vocabulary order: their ids are their positions here.
PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))

# GLUE features written by GlueExampleGen.
GLUE_SENTENCE1 = "sentence1"
GLUE_SENTENCE2 = "sentence2"
GLUE_LABEL = "label"
GLUE_IDX = "idx"

# Outputs of the fine-tuned model's serving signature: class probabilities, or a regression task's score.
PROBABILITIES = "probabilities"
SCORE = "score"
