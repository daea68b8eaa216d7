"""Runs the pipeline on TFX's local orchestrator. Thin: paths and runner settings only.

As a script (what `tfx run create --engine=local` executes) it reads the preset and overrides
from `BERT_TFX_PRESET` (default `smoke`) and `BERT_TFX_OVERRIDES` (space-separated `key=value`),
and writes under `BERT_TFX_OUTPUT_DIR` (default `<repo>/outputs`).
"""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import text_format
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from configs import glue_tasks, presets
from configs.pipeline_contract import RUN_CONFIG_FILE
from configs.run_config import RunConfig
from inspection import store as store_lib
from pipeline import defaults
from pipeline.beam_options import beam_args
from pipeline.bert_pipeline import PipelinePaths, create_pipeline
from pipeline.defaults import DEFAULT_DATA_DIR, DEFAULT_OUTPUT_DIR


def pipeline_dir(config: RunConfig, output_dir: Path) -> Path:
    """Everything of one pipeline lives in `<output_dir>/<pipeline_name>/`."""
    return defaults.pipeline_dir(config.pipeline_name, output_dir)


def local_paths(config: RunConfig, output_dir: Path, data_dir: Path = DEFAULT_DATA_DIR) -> PipelinePaths:
    base = pipeline_dir(config, output_dir)
    return PipelinePaths(
        corpus_dir=str(Path(data_dir) / "corpus"),
        glue_dir=str(Path(data_dir) / "glue"),
        pipeline_root=str(base / "pipeline_root"),
        serving_dir=str(base / "serving"),
    )


def check_inputs(config: RunConfig, data_dir: Path) -> None:
    """Fails before anything runs when the data directory, its corpus or a GLUE task folder is missing.

    Raises FileNotFoundError naming the folder and what was expected in it.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist; expected corpus/ and glue/ in it")
    paths = local_paths(config, Path("."), data_dir)
    corpus = Path(paths.corpus_dir)
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus folder {corpus} does not exist; expected the raw text files there")
    if not any(p.is_file() for p in corpus.glob(config.corpus.input_pattern)):
        raise FileNotFoundError(
            f"no file in the corpus folder {corpus} matches corpus.input_pattern={config.corpus.input_pattern!r}"
        )
    for task in config.glue.tasks:
        folder = Path(paths.glue_dir) / glue_tasks.get_task(task).directory
        if not folder.is_dir():
            raise FileNotFoundError(
                f"GLUE folder {folder} for task {task} does not exist (glue.tasks={config.glue.tasks})"
            )


def metadata_path(config: RunConfig, output_dir: Path) -> Path:
    return defaults.metadata_path(config.pipeline_name, output_dir)


def metadata_connection(
    config: RunConfig, output_dir: Path, metadata: metadata_store_pb2.ConnectionConfig | None = None
) -> metadata_store_pb2.ConnectionConfig:
    """The store a local run records into: `metadata`, or `<output_dir>/<pipeline>/metadata.sqlite`."""
    return metadata if metadata is not None else store_lib.sqlite_config(metadata_path(config, output_dir))


def _for_report(connection: metadata_store_pb2.ConnectionConfig) -> str:
    """The connection as text for the ReportGen node: read-only for SQLite, without a MySQL password."""
    copy = metadata_store_pb2.ConnectionConfig()
    copy.CopyFrom(connection)
    if copy.HasField("sqlite"):
        copy.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    if copy.HasField("mysql"):
        copy.mysql.ClearField("password")
    return text_format.MessageToString(copy, as_one_line=True)


def build(
    config: RunConfig,
    output_dir: Path,
    data_dir: Path = DEFAULT_DATA_DIR,
    metadata: metadata_store_pb2.ConnectionConfig | None = None,
) -> Pipeline:
    """The local pipeline: ML Metadata in SQLite (or `metadata`), in-process Beam, caching on."""
    paths = local_paths(config, output_dir, data_dir)
    base = pipeline_dir(config, output_dir)
    base.mkdir(parents=True, exist_ok=True)
    (base / RUN_CONFIG_FILE).write_text(config.to_json() + "\n")
    connection = metadata_connection(config, output_dir, metadata)
    return create_pipeline(
        config,
        paths,
        metadata_connection_config=connection,
        beam_pipeline_args=beam_args(config.beam),
        report_metadata_connection=_for_report(connection),
    )


def run(
    config: RunConfig,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    data_dir: Path = DEFAULT_DATA_DIR,
    metadata: metadata_store_pb2.ConnectionConfig | None = None,
) -> None:
    run_pipeline(build(config, output_dir, data_dir, metadata))


def run_pipeline(pipeline: Pipeline) -> None:
    LocalDagRunner().run(pipeline)


def _config_from_environment() -> RunConfig:
    overrides = os.environ.get("BERT_TFX_OVERRIDES", "").split()
    return presets.load(os.environ.get("BERT_TFX_PRESET", "smoke"), overrides)


if __name__ == "__main__":
    run(_config_from_environment(), Path(os.environ.get("BERT_TFX_OUTPUT_DIR", DEFAULT_OUTPUT_DIR)))
