"""GlueExampleGen: a GLUE task's files -> Examples, one split per file (`train`, `eval`, `test`, ...)."""

from __future__ import annotations

from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2
from tfx.types import component_spec

from components.file_example_gen import ConfiguredExampleGen, ConfiguredExampleGenSpec
from components.glue_example_gen import executor
from configs import glue_tasks


class GlueExampleGenSpec(ConfiguredExampleGenSpec):
    """ConfiguredExampleGenSpec plus the GLUE task's name."""

    PARAMETERS = {
        **ConfiguredExampleGenSpec.PARAMETERS,
        executor.TASK_KEY: component_spec.ExecutionParameter(type=str),
    }


class GlueExampleGen(ConfiguredExampleGen):
    """Reads one GLUE task: train.tsv becomes the `train` split, dev.tsv the `eval` split, test.tsv `test`
    (MNLI: also `eval_mismatched`, `test_mismatched` and the diagnostic set AX as `test_ax`); see
    `configs.glue_tasks`. A missing optional file (a test set) leaves its split empty.

    The files' paths under the GLUE root are the split patterns (`SST-2/train.tsv`), so `input_base` is
    the GLUE root itself and may be a runtime parameter of a compiled pipeline. It takes no config section:
    the task table says everything about the files.

    Args:
        glue_dir: GLUE data root holding one folder per task (`SST-2/`, `MRPC/`, ...), or a
            RuntimeParameter giving it when the compiled pipeline is run.
        task: task name, a key of `configs.glue_tasks.TASKS`.
    """

    SPEC_CLASS = GlueExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, glue_dir: str | data_types.RuntimeParameter, task: str):
        input_config = example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=glue_file.split, pattern=glue_file.path)
                for glue_file in glue_tasks.get_task(task).files
            ]
        )
        super().__init__(input_base=glue_dir, custom_config={}, input_config=input_config, task=task)
