"""The custom artifact types by the names they are recorded under (`bert_tfx.RunConfiguration`, ...).

In a Kubeflow Pipelines step, TFX's executor entry point imports an artifact's class by its type name;
TFX's Kubeflow compiler allows only `<namespace>.<Name>` names, so this top-level module is that namespace.
"""

from components.run_artifacts import ExportedEncoder, RunConfiguration, RunReport

__all__ = ["ExportedEncoder", "RunConfiguration", "RunReport"]
