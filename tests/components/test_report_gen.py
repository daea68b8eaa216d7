"""ReportGen reads its input artifacts' properties both as the local orchestrator records them and as a
Kubeflow step receives them (struct values parsed from the producer's reported metadata)."""

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.types import standard_artifacts

from components.report_gen import component
from inspection import run_contents

EXAMPLES_TYPE = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}


def test_corpus_counts_of_a_kubeflow_step_keep_their_zeros():
    runtime_artifact = {
        "name": "run/TextExampleGen/examples",
        "type": EXAMPLES_TYPE,
        "uri": "/nowhere/examples",  # no counts file: the counts must come from the properties
        "metadata": {"corpus_bad_lines": 0.0, "corpus_documents_kept": 120.0, "corpus_dropped_short": 11.0},
    }
    artifacts = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(
        {"examples": json_format.ParseDict({"artifacts": [runtime_artifact]}, pipeline_spec_pb2.ArtifactList())}
    )
    (artifact,) = artifacts["examples"]
    assert run_contents.corpus_counts(component.artifact_ref(artifact)) == {
        "bad_lines": 0,
        "documents_kept": 120,
        "dropped_short": 11,
    }


def test_corpus_counts_as_the_local_orchestrator_records_them():
    examples = standard_artifacts.Examples()
    examples.uri = "/nowhere/examples"
    examples.set_int_custom_property("corpus_bad_lines", 0)
    examples.set_int_custom_property("corpus_documents_kept", 7)
    assert run_contents.corpus_counts(component.artifact_ref(examples)) == {"bad_lines": 0, "documents_kept": 7}
