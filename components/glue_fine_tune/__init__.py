"""GlueFineTune: the pre-trained encoder fine-tuned on one GLUE task."""
