"""Custom TFX components of the BERT pipeline, each importable by Kubeflow containers."""
