"""Runs the pipeline on TFX's local orchestrator. Thin: paths and runner settings only.

As a script (what `tfx run create --engine=local` executes) it reads the preset and overrides
from `BERT_TFX_PRESET` (default `smoke`) and `BERT_TFX_OVERRIDES` (space-separated `key=value`),
and writes under `BERT_TFX_OUTPUT_DIR` (default `<repo>/outputs`).
"""

from __future__ import annotations

import os
from pathlib import Path

from tfx import v1 as tfx

from configs import presets
from configs.run_config import RunConfig
from pipeline.bert_pipeline import PipelinePaths, create_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "outputs"
RUN_CONFIG_FILE = "run_config.json"

# The Python direct runner, asked for explicitly: Beam 2.77's default first tries to download the
# Prism runner, which fails offline.
LOCAL_BEAM_ARGS = ["--runner=DirectRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def run_dir(config: RunConfig, output_dir: Path) -> Path:
    """Everything of one pipeline lives in `<output_dir>/<pipeline_name>/`."""
    return Path(output_dir) / config.pipeline_name


def local_paths(config: RunConfig, output_dir: Path, data_dir: Path = DEFAULT_DATA_DIR) -> PipelinePaths:
    base = run_dir(config, output_dir)
    return PipelinePaths(
        corpus_dir=str(Path(data_dir) / "corpus"),
        glue_dir=str(Path(data_dir) / "glue"),
        pipeline_root=str(base / "pipeline_root"),
        serving_dir=str(base / "serving"),
    )


def metadata_path(config: RunConfig, output_dir: Path) -> Path:
    return run_dir(config, output_dir) / "metadata.sqlite"


def build(config: RunConfig, output_dir: Path, data_dir: Path = DEFAULT_DATA_DIR) -> tfx.dsl.Pipeline:
    """The local pipeline: SQLite ML Metadata, in-process Beam, caching on."""
    paths = local_paths(config, output_dir, data_dir)
    store = metadata_path(config, output_dir)
    store.parent.mkdir(parents=True, exist_ok=True)
    (store.parent / RUN_CONFIG_FILE).write_text(config.to_json() + "\n")
    return create_pipeline(
        config,
        paths,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(str(store)),
        beam_pipeline_args=LOCAL_BEAM_ARGS,
    )


def run(config: RunConfig, output_dir: Path = DEFAULT_OUTPUT_DIR, data_dir: Path = DEFAULT_DATA_DIR) -> None:
    tfx.orchestration.LocalDagRunner().run(build(config, output_dir, data_dir))


def _config_from_environment() -> RunConfig:
    overrides = os.environ.get("BERT_TFX_OVERRIDES", "").split()
    return presets.load(os.environ.get("BERT_TFX_PRESET", "smoke"), overrides)


if __name__ == "__main__":
    run(_config_from_environment(), Path(os.environ.get("BERT_TFX_OUTPUT_DIR", DEFAULT_OUTPUT_DIR)))
