"""GlueExampleGen: a GLUE task folder (train.tsv, dev.tsv) -> Examples with `train` and `eval` splits."""

from __future__ import annotations

import posixpath

from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2

from components.file_example_gen import JsonConfiguredExampleGen
from components.glue_example_gen import executor
from configs import glue_tasks


class GlueExampleGen(JsonConfiguredExampleGen):
    """Reads one GLUE task: train.tsv becomes the `train` split, dev.tsv the `eval` split.

    The task's folder is part of the split patterns (`SST-2/train.tsv`), so `input_base` is the GLUE
    root itself and may be a runtime parameter of a compiled pipeline.

    Args:
        glue_dir: GLUE data root holding one folder per task (`SST-2/`, `MRPC/`, ...), or a
            RuntimeParameter giving it when the compiled pipeline is run.
        task: task name, a key of `configs.glue_tasks.TASKS`.
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, glue_dir: str | data_types.RuntimeParameter, task: str):
        folder = glue_tasks.get_task(task).directory
        input_config = example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name="train", pattern=posixpath.join(folder, glue_tasks.TRAIN_FILE)),
                example_gen_pb2.Input.Split(name="eval", pattern=posixpath.join(folder, glue_tasks.DEV_FILE)),
            ]
        )
        super().__init__(
            input_base=glue_dir,
            reader_config={"task": task},
            input_config=input_config,
        )
