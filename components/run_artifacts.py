"""Artifact types of a run's own records: its resolved configuration and its report.

Type names are `bert_tfx.<Name>`: TFX's Kubeflow v2 compiler accepts only `<namespace>.<Name>` for a custom
artifact type, and TFX's executor entry point in each KFP step imports the class by that name, so the
top-level module `bert_tfx` re-exports these classes (without it a step fails with "Could not import
bert_tfx.RunConfiguration").
"""

from tfx.types import artifact


class RunConfiguration(artifact.Artifact):
    """The resolved run config (`run_config.json`) a pipeline run was built from."""

    TYPE_NAME = "bert_tfx.RunConfiguration"


class RunReport(artifact.Artifact):
    """A run's report: `index.html`, `report.md` and their pictures."""

    TYPE_NAME = "bert_tfx.RunReport"


class ExportedEncoder(artifact.Artifact):
    """The pre-trained encoder in the formats other libraries load: `huggingface/`, `keras_hub/`, `saved_model/`."""

    TYPE_NAME = "bert_tfx.ExportedEncoder"
