"""The learning-rate schedule and the optimizers' weight decay."""

import keras
import numpy as np
import pytest

from models.training.optimization import WarmupLinearDecay, create_optimizer


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.0), (5, 5e-4), (10, 1e-3), (60, 5e-4), (100, 1e-4), (110, 0.0), (500, 0.0)],
)
def test_rate_warms_up_linearly_peaks_then_decays_to_zero(step, expected):
    schedule = WarmupLinearDecay(peak_learning_rate=1e-3, warmup_steps=10, total_steps=110)
    assert float(schedule(step)) == pytest.approx(expected, abs=1e-9)


def test_schedule_without_warmup_starts_at_the_peak():
    schedule = WarmupLinearDecay(peak_learning_rate=2e-5, warmup_steps=0, total_steps=100)
    assert float(schedule(0)) == pytest.approx(2e-5)
    assert float(schedule(50)) == pytest.approx(1e-5)


def test_schedule_survives_serialization():
    schedule = WarmupLinearDecay(1e-3, 10, 110)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(restored(60)) == pytest.approx(float(schedule(60)))


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_weight_decay_skips_biases_and_layer_norm(name):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.LayerNormalization()])
    for variable in model.trainable_variables:
        variable.assign(np.ones(variable.shape, np.float32))
    optimizer = create_optimizer(name, 1e-1, warmup_steps=0, total_steps=10, weight_decay=0.5)
    optimizer.apply_gradients([(np.zeros(v.shape, np.float32), v) for v in model.trainable_variables])
    after = {v.path.split("/")[-1]: v.numpy() for v in model.trainable_variables}
    assert (after["kernel"] < 1).all(), "kernels decay"
    for name_ in ("bias", "gamma", "beta"):
        np.testing.assert_array_equal(after[name_], 1.0)


def test_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        create_optimizer("sgd", 1e-3, 0, 10)
