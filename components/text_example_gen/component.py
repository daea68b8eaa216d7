"""TextExampleGen: a directory of raw text files -> cleaned, de-duplicated documents as tf.Examples.

Output features per document (names in `models.features`): `text` (the cleaned text),
`sentences` (the text split into sentences, for next-sentence pairs), `doc_id`, `title`,
`source` (the file it came from). Splits are made by hashing `doc_id`.
"""

from __future__ import annotations

from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.file_example_gen import JsonConfiguredExampleGen
from components.text_example_gen import executor
from models import features


class TextExampleGen(JsonConfiguredExampleGen):
    """Reads plain text, gzip and WikiExtractor corpora under `input_base`.

    Args:
        input_base: directory holding the corpus files.
        input_pattern: glob of the files to read, relative to `input_base`.
        train_buckets: hash buckets that go to the `train` split.
        eval_buckets: hash buckets that go to the `eval` split.
        min_document_chars: documents shorter than this after cleaning are dropped.
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        input_base: str,
        input_pattern: str = "*",
        train_buckets: int = 19,
        eval_buckets: int = 1,
        min_document_chars: int = 200,
    ):
        input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="corpus", pattern=input_pattern)])
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_buckets),
                ],
                partition_feature_name=features.DOC_ID,
            )
        )
        super().__init__(
            input_base=input_base,
            reader_config={"min_document_chars": min_document_chars},
            input_config=input_config,
            output_config=output_config,
        )
