"""Names of the files our components write into their artifacts (Trainer, GlueFineTune, TextExampleGen).

Imports nothing: the run report and the metadata commands read these files without TensorFlow.
"""

HISTORY_FILE = "history.json"  # Trainer: every metric of every logging period ({"loss": [...], ...})
TRAINING_FILE = "training.json"  # Trainer: steps run, where training resumed from, the checkpoint folder
GLUE_METRICS_FILE = "dev_metrics.json"  # GlueFineTune: {"task", "train_steps", "dev": {...}, "train_history"}

# TextExampleGen's counts of what it read and dropped: in this file at the root of its Examples artifact,
# and as the artifact's custom properties named with this prefix (`corpus_documents_kept`, ...).
CORPUS_COUNTS_FILE = "corpus_counts.json"
CORPUS_COUNT_PREFIX = "corpus_"
