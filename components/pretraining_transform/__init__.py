"""PretrainingTransform: TFX Transform with a fixed number of documents per batch."""
