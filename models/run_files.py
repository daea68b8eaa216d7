"""Names of the files the Trainer and GlueFineTune write into their ModelRun artifacts.

Imports nothing: the run report and the metadata commands read these files without TensorFlow.
"""

HISTORY_FILE = "history.json"  # Trainer: every metric of every logging period ({"loss": [...], ...})
TRAINING_FILE = "training.json"  # Trainer: steps run, where training resumed from, the checkpoint folder
GLUE_METRICS_FILE = "dev_metrics.json"  # GlueFineTune: {"task", "train_steps", "dev": {...}, "train_history"}
