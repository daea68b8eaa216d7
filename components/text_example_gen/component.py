"""TextExampleGen: a directory of raw text files -> cleaned, de-duplicated documents, in groups.

One tf.Example per group of about `documents_per_group` documents (names in `models.features`):
`sentences` (all sentences of the group, document after document), `document_sentences` (how many
sentences each document has), and per document `doc_id`, `title` and `source` (the file it came
from); `group_key` decides the split. Each document's split is the hash of its `doc_id`.
"""

from __future__ import annotations

from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2

from components.file_example_gen import JsonConfiguredExampleGen
from components.text_example_gen import executor
from models import features


class TextExampleGen(JsonConfiguredExampleGen):
    """Reads plain text, JSON Lines and WikiExtractor corpora (optionally gzip or bzip2) under `input_base`.

    Args:
        input_base: directory holding the corpus files, or a RuntimeParameter giving it when the
            compiled pipeline is run.
        input_pattern: glob of the files to read, relative to `input_base`.
        train_buckets: hash buckets that go to the `train` split.
        eval_buckets: hash buckets that go to the `eval` split.
        min_document_chars: documents shorter than this after cleaning are dropped.
        on_bad_bytes: invalid UTF-8: "fail" (naming file and line), "replace" or "skip_line".
        documents_per_group: documents per output record, about (random next sentences come from
            the other documents of a group).
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        input_base: str | data_types.RuntimeParameter,
        input_pattern: str = "*",
        train_buckets: int = 19,
        eval_buckets: int = 1,
        min_document_chars: int = 200,
        on_bad_bytes: str = "fail",
        documents_per_group: int = 64,
    ):
        input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="corpus", pattern=input_pattern)])
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_buckets),
                ],
                partition_feature_name=features.GROUP_KEY,
            )
        )
        super().__init__(
            input_base=input_base,
            reader_config={
                "min_document_chars": min_document_chars,
                "on_bad_bytes": on_bad_bytes,
                "documents_per_group": documents_per_group,
            },
            input_config=input_config,
            output_config=output_config,
        )
