"""Artifact types of a run's own records: its resolved configuration and its report."""

from tfx.types import artifact


class RunConfiguration(artifact.Artifact):
    """The resolved run config (`run_config.json`) a pipeline run was built from."""

    TYPE_NAME = "RunConfiguration"


class RunReport(artifact.Artifact):
    """A run's report: `index.html`, `report.md` and their pictures."""

    TYPE_NAME = "RunReport"


RUN_CONFIG_FILE = "run_config.json"
