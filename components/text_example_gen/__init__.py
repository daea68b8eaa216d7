"""TextExampleGen: raw text corpora -> one cleaned tf.Example per document."""
