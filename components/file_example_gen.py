"""A FileBasedExampleGen whose `custom_config` is our run config's sections, as every component of ours takes them.

TFX's FileBasedExampleGen passes reader settings only as an opaque `CustomConfig` proto (which neither its
driver nor its executor reads). Our ExampleGens take config sections instead (`configs.run_config.
to_custom_config`: the `corpus` section for TextExampleGen) as a JSON `custom_config`, which the executor
rebuilds with `section_from`, plus any parameters of their own (GlueExampleGen's `task`). Everything else is
TFX's: input base, input/output split configs, span resolution by the FileBasedDriver, caching by input
fingerprint.
"""

from __future__ import annotations

import json
from typing import Any

from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.io import fileio
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2
from tfx.types import channel, component_spec, standard_artifacts, standard_component_specs

CUSTOM_CONFIG_KEY = standard_component_specs.CUSTOM_CONFIG_KEY


class ConfiguredExampleGenSpec(component_spec.ComponentSpec):
    """FileBasedExampleGenSpec with a JSON `custom_config` (config sections) instead of the CustomConfig proto."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        CUSTOM_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS: dict[str, Any] = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }


class ConfiguredExampleGen(example_gen_component.FileBasedExampleGen):
    """Base of our file-reading ExampleGens; subclasses set EXECUTOR_SPEC (and SPEC_CLASS to add parameters).

    Args:
        input_base: the folder the input config's patterns are relative to, or a RuntimeParameter.
        custom_config: config sections (`configs.run_config.to_custom_config`), `{}` for none.
        input_config: the splits to read; defaults to TFX's (one split of every file).
        output_config: the splits to write; defaults to TFX's (train/eval by hash).
        extra_parameters: the subclass spec's own parameters.
    """

    SPEC_CLASS = ConfiguredExampleGenSpec

    def __init__(
        self,
        input_base: str | data_types.RuntimeParameter,
        custom_config: dict[str, Any],
        input_config: example_gen_pb2.Input | None = None,
        output_config: example_gen_pb2.Output | None = None,
        **extra_parameters: Any,
    ):
        input_config = input_config or example_gen_utils.make_default_input_config()
        output_config = output_config or example_gen_utils.make_default_output_config(input_config)
        spec = self.SPEC_CLASS(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=json.dumps(custom_config, sort_keys=True),
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=channel.Channel(type=standard_artifacts.Examples),
            **extra_parameters,
        )
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


def open_binary(path: str):
    """Opens a local or cloud file for binary reading (readers take it as their `opener`)."""
    return fileio.open(path, "rb")
