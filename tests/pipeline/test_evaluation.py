from configs.glue_tasks import TASKS
from pipeline.evaluation import glue_eval_config


def test_eval_config_gates_accuracy_everywhere_and_f1_where_asked():
    config = glue_eval_config(TASKS["mrpc"], min_accuracy=0.7, max_accuracy_drop=0.01, min_f1=0.8)
    thresholds = {m.class_name: m.threshold for m in config.metrics_specs[0].metrics if m.HasField("threshold")}
    assert thresholds["BinaryAccuracy"].value_threshold.lower_bound.value == 0.7
    assert thresholds["F1Score"].value_threshold.lower_bound.value == 0.8
    assert thresholds["F1Score"].change_threshold.absolute.value == -0.01
    sst2 = glue_eval_config(TASKS["sst2"], min_accuracy=0.8, max_accuracy_drop=0.01)
    assert [m.class_name for m in sst2.metrics_specs[0].metrics if m.HasField("threshold")] == ["BinaryAccuracy"]
    assert sst2.model_specs[0].prediction_key == "positive_probability"
