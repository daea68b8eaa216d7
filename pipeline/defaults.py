"""Where a local run reads and writes unless told otherwise (no TFX import: the metadata commands use it)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "outputs"
METADATA_FILE = "metadata.sqlite"


def pipeline_dir(pipeline_name: str, output_dir: Path) -> Path:
    """Everything of one pipeline lives in `<output_dir>/<pipeline_name>/`."""
    return Path(output_dir) / pipeline_name


def metadata_path(pipeline_name: str, output_dir: Path) -> Path:
    """The local SQLite ML Metadata store of a pipeline."""
    return pipeline_dir(pipeline_name, output_dir) / METADATA_FILE
