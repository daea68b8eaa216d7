"""Shared test settings: quiet TensorFlow, and the repository paths tests read from."""

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def kubeflow_module(name: str):
    """A script of `kubeflow/` (a folder of scripts, not a package) imported as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "kubeflow" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
