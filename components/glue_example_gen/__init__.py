"""GlueExampleGen: one GLUE task's TSV files -> tf.Examples with train and eval splits."""
