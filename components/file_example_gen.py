"""A FileBasedExampleGen that carries a JSON reader configuration to its executor.

TFX's FileBasedExampleGen passes reader settings only as an opaque `CustomConfig` proto. Our
ExampleGens need a few typed settings (a GLUE task name, a minimum document length), so they
share this base: the standard ExampleGen parameters (input base, input/output split configs,
span resolution by the FileBasedDriver, caching by input fingerprint) plus `reader_config`, a
JSON object the executor reads back with `reader_config(exec_properties)`.
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

READER_CONFIG_KEY = "reader_config"


class JsonConfiguredExampleGenSpec(component_spec.ComponentSpec):
    """FileBasedExampleGenSpec plus a JSON `reader_config` parameter."""

    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        READER_CONFIG_KEY: component_spec.ExecutionParameter(type=str),
    }
    INPUTS: dict[str, Any] = {}
    OUTPUTS = {
        standard_component_specs.EXAMPLES_KEY: component_spec.ChannelParameter(type=standard_artifacts.Examples),
    }


class JsonConfiguredExampleGen(example_gen_component.FileBasedExampleGen):
    """Base of our file-reading ExampleGens; subclasses set EXECUTOR_SPEC."""

    SPEC_CLASS = JsonConfiguredExampleGenSpec

    def __init__(
        self,
        input_base: str | data_types.RuntimeParameter,
        reader_config: dict[str, Any],
        input_config: example_gen_pb2.Input | None = None,
        output_config: example_gen_pb2.Output | None = None,
    ):
        input_config = input_config or example_gen_utils.make_default_input_config()
        output_config = output_config or example_gen_utils.make_default_output_config(input_config)
        spec = JsonConfiguredExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=output_config,
            custom_config=None,
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            reader_config=json.dumps(reader_config, sort_keys=True),
            examples=channel.Channel(type=standard_artifacts.Examples),
        )
        base_beam_component.BaseBeamComponent.__init__(self, spec=spec)


def reader_config(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The JSON reader configuration an executor received."""
    return json.loads(exec_properties[READER_CONFIG_KEY])


def open_binary(path: str):
    """Opens a local or cloud file for binary reading (readers take it as their `opener`)."""
    return fileio.open(path, "rb")
