"""Reading the files inside artifacts, on local disk or remote storage (`gs://`, `s3://`, `hdfs://`).

Local files are read with the standard library; remote ones with TensorFlow's file systems, imported only
then: the metadata commands read local runs without paying TensorFlow's import (about 20 s on 2 cores).
"""

from __future__ import annotations

import glob as glob_lib
import json
import os
from pathlib import Path
from typing import Any


def is_remote(path: str) -> bool:
    """Whether `path` is on a remote file system (`scheme://...`)."""
    return "://" in path


def _gfile():
    import tensorflow as tf  # remote file systems only; see the module docstring

    return tf.io.gfile


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if is_remote(path):
        gfile = _gfile()
        return gfile.GFile(path, "rb").read() if gfile.exists(path) else None
    return Path(path).read_bytes() if os.path.exists(path) else None


def read_json(path: str) -> Any:
    """The file's JSON value, or None when it does not exist."""
    data = read_bytes(path)
    return json.loads(data) if data is not None else None


def glob(pattern: str) -> list[str]:
    """The paths matching `pattern`, sorted."""
    return sorted(_gfile().glob(pattern) if is_remote(pattern) else glob_lib.glob(pattern))
