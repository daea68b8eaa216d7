"""The learning-rate schedule and the optimizers' weight decay."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.training.optimization import WarmupDecay, create_optimizer


@pytest.mark.parametrize(
    "step, expected",
    [(0, 0.0), (5, 5e-4), (10, 1e-3), (60, 5e-4), (100, 1e-4), (110, 0.0), (500, 0.0)],
)
def test_rate_warms_up_linearly_peaks_then_decays_to_zero(step, expected):
    schedule = WarmupDecay(peak_learning_rate=1e-3, warmup=10, total=110)
    assert float(schedule(step)) == pytest.approx(expected, abs=1e-9)


def test_schedule_without_warmup_starts_at_the_peak():
    schedule = WarmupDecay(peak_learning_rate=2e-5, warmup=0, total=100)
    assert float(schedule(0)) == pytest.approx(2e-5)
    assert float(schedule(50)) == pytest.approx(1e-5)


def test_schedule_survives_serialization():
    schedule = WarmupDecay(1e-3, 10, 110, schedule="polynomial", power=2.0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert float(restored(60)) == pytest.approx(float(schedule(60))) == pytest.approx(2.5e-4)


# Peak 1e-3, warm-up 10 steps, zero at 110: the decay span is 100 steps, so step 10 + 100 q is at q.
@pytest.mark.parametrize(
    "schedule, options, expected",
    [
        ("linear", {}, {0: 0.0, 5: 5e-4, 10: 1e-3, 35: 7.5e-4, 60: 5e-4, 85: 2.5e-4, 110: 0.0}),
        ("cosine", {}, {5: 5e-4, 10: 1e-3, 35: 1e-3 * (1 + np.cos(np.pi / 4)) / 2, 60: 5e-4, 110: 0.0}),
        ("polynomial", {"power": 2.0}, {5: 5e-4, 10: 1e-3, 35: 5.625e-4, 60: 2.5e-4, 85: 6.25e-5, 110: 0.0}),
        ("polynomial", {"power": 1.0}, {35: 7.5e-4, 60: 5e-4, 85: 2.5e-4}),
        (
            "constant_then_decay",
            {"decay_fraction": 0.2},
            {5: 5e-4, 10: 1e-3, 60: 1e-3, 90: 1e-3, 95: 7.5e-4, 100: 5e-4, 110: 0.0, 200: 0.0},
        ),
    ],
)
def test_each_schedule_warms_up_then_decays_in_its_shape(schedule, options, expected):
    rate = WarmupDecay(1e-3, 10, 110, schedule=schedule, **options)
    for step, value in expected.items():
        assert float(rate(step)) == pytest.approx(value, abs=1e-9), f"{schedule} at step {step}"


class Clock:
    def __init__(self):
        self.seconds = tf.Variable(0.0, dtype=tf.float64)


def test_a_clock_schedule_follows_the_seconds_of_training_not_the_step():
    clock = Clock()
    rate = WarmupDecay(1e-3, warmup=60.0, total=600.0, schedule="cosine", clock=clock)
    assert float(rate(10_000)) == 0.0, "no time has passed: the start of warm-up, whatever the step"
    clock.seconds.assign(30.0)
    assert float(rate(0)) == pytest.approx(5e-4)
    clock.seconds.assign(330.0)
    assert float(rate(0)) == pytest.approx(5e-4, rel=1e-5), "half way through the decay span"
    compiled = tf.function(lambda step: rate(step), jit_compile=True)
    assert float(compiled(tf.constant(1))) == pytest.approx(5e-4, rel=1e-5)
    clock.seconds.assign(600.0)
    assert float(compiled(tf.constant(1))) == pytest.approx(0.0, abs=1e-9), "read at every call, also compiled"
    with pytest.raises(NotImplementedError):
        rate.get_config()


def test_an_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="schedule='step'; expected one of linear, cosine"):
        WarmupDecay(1e-3, 0, 10, schedule="step")


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
