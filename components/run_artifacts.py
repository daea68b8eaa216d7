"""Artifact types of a run's own records: its resolved configuration and its report.

Type names carry a namespace (`bert_tfx.`): Kubeflow Pipelines v2 requires `<namespace>.<Name>` of a
custom artifact type.
"""

from tfx.types import artifact


class RunConfiguration(artifact.Artifact):
    """The resolved run config (`run_config.json`) a pipeline run was built from."""

    TYPE_NAME = "bert_tfx.RunConfiguration"


class RunReport(artifact.Artifact):
    """A run's report: `index.html`, `report.md` and their pictures."""

    TYPE_NAME = "bert_tfx.RunReport"


RUN_CONFIG_FILE = "run_config.json"
