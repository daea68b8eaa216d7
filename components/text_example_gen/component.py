"""TextExampleGen: a directory of raw text files -> cleaned, de-duplicated documents, in groups.

One tf.Example per group of about `corpus.documents_per_group` documents (names in `models.features`):
`sentences` (all sentences of the group, document after document), `document_sentences` (how many
sentences each document has), and per document `doc_id`, `title` and `source` (the file it came
from); `group_key` decides the split. Each document's split is the hash of its `doc_id`.
"""

from __future__ import annotations

from typing import Any

from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2

from components.file_example_gen import ConfiguredExampleGen
from components.text_example_gen import executor
from configs.run_config import CorpusConfig, section_from
from models import features


class TextExampleGen(ConfiguredExampleGen):
    """Reads plain text, JSON Lines and WikiExtractor corpora (optionally gzip or bzip2) under `input_base`.

    Args:
        input_base: directory holding the corpus files, or a RuntimeParameter giving it when the
            compiled pipeline is run.
        custom_config: the run config's `corpus` section (`configs.run_config.to_custom_config(config, "corpus")`):
            which files to read, the train/eval buckets, cleaning and grouping (`CorpusConfig`).
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, input_base: str | data_types.RuntimeParameter, custom_config: dict[str, Any]):
        corpus = section_from(custom_config, "corpus", CorpusConfig)
        corpus.validate()
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="corpus", pattern=corpus.input_pattern)]
        )
        output_config = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=corpus.train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=corpus.eval_buckets),
                ],
                partition_feature_name=features.GROUP_KEY,
            )
        )
        super().__init__(
            input_base=input_base,
            custom_config=custom_config,
            input_config=input_config,
            output_config=output_config,
        )
