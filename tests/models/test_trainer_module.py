"""Where the Trainer keeps its resumable checkpoints: one folder per config and input data."""

from tfx import v1 as tfx

from models.trainer_module import training_checkpoint_dir


def fn_args(execution: int, learning_rate: float = 1e-3, transform: str = "/root/Transform/transform_graph/5"):
    return tfx.components.FnArgs(
        custom_config={"trainer": {"learning_rate": learning_rate}},
        train_files=[f"{transform.replace('transform_graph', 'transformed_examples')}/Split-train/*"],
        transform_output=transform,
        model_run_dir=f"/root/Trainer/model_run/{execution}",
    )


def test_a_rerun_with_the_same_config_and_data_finds_the_same_folder():
    first, rerun = training_checkpoint_dir(fn_args(7)), training_checkpoint_dir(fn_args(9))
    assert first == rerun
    assert first.startswith("/root/Trainer/checkpoints/"), "beside the executions' outputs, not inside one"


def test_a_changed_config_or_changed_data_never_resumes_a_foreign_checkpoint():
    same = training_checkpoint_dir(fn_args(7))
    assert training_checkpoint_dir(fn_args(8, learning_rate=2e-3)) != same
    assert training_checkpoint_dir(fn_args(8, transform="/root/Transform/transform_graph/6")) != same
