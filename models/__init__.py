"""Code that runs inside TensorFlow: tokenization, Transform, the BERT models, GLUE tasks."""
