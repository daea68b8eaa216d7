"""Names of the files our components write into their artifacts (Trainer, GlueFineTune, TextExampleGen).

Imports nothing: the run report and the metadata commands read these files without TensorFlow.
"""

HISTORY_FILE = "history.json"  # Trainer: every metric of every logging period ({"loss": [...], ...})
TRAINING_FILE = "training.json"  # Trainer: steps run, where training resumed from, the checkpoint folder
# GlueFineTune: {"task", "train_steps", "dev": {metric: value} of the model kept, "runs": [...], "spread",
# "constant_baseline", "test_predictions"}; the test predictions in the leaderboard's format in GLUE_PREDICTIONS_DIR.
GLUE_METRICS_FILE = "dev_metrics.json"
GLUE_PREDICTIONS_DIR = "predictions"

# TextExampleGen's counts of what it read and dropped: in this file at the root of its Examples artifact,
# and as the artifact's custom properties named with this prefix (`corpus_documents_kept`, ...).
CORPUS_COUNTS_FILE = "corpus_counts.json"
CORPUS_COUNT_PREFIX = "corpus_"
