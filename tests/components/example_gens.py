"""Runs one of our ExampleGens' executors in-process, with real Beam, the way TFX's launcher calls it."""

from __future__ import annotations

from tfx.dsl.components.base import base_beam_executor, base_component
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from configs.run_config import BeamConfig
from pipeline.beam_options import beam_args  # the options the pipeline runs them with


def run_executor(component: base_component.BaseComponent, out_dir) -> standard_artifacts.Examples:
    """Runs `component`'s executor on its exec properties (protos as JSON, as TFX passes them) into `out_dir`."""
    properties = {
        k: v if isinstance(v, str | int) or v is None else proto_utils.proto_to_json(v)
        for k, v in component.exec_properties.items()
    }
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    executor_class = component.EXECUTOR_SPEC.executor_class
    executor = executor_class(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args(BeamConfig())))
    executor.Do({}, {"examples": [examples]}, properties)
    return examples
