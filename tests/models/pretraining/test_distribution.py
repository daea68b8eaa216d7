"""Distributed pre-training in a real process: MirroredStrategy over two logical CPUs clips the whole gradient.

Two worker processes on localhost (MultiWorkerMirroredStrategy, TF_CONFIG), killed and resumed, are a cell of
`test_exactness.py`, which also checks that only the chief's encoder is kept."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

MIRRORED = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from models.pretraining.bert_pretrainer import BertPretrainer
from models.training.optimization import SummedGradients
from tests.models.tiny import pretraining_batch, tiny_backbone


class ClippedSGD(SummedGradients, keras.optimizers.SGD):
    pass


data = [pretraining_batch(batch_size=8, seed=s) for s in range(3)]
keras.utils.set_random_seed(0)
initial = BertPretrainer(tiny_backbone())
initial(data[0])
weights = initial.get_weights()

def train(strategy):
    with strategy.scope():
        model = BertPretrainer(tiny_backbone())
        # SGD, whose update is the (clipped) gradient itself: a clip of each replica's half of the gradient, or a
        # sum taken twice, shows in the weights. The bound is far below the gradient's norm (about 3).
        model.compile(optimizer=ClippedSGD(0.5, global_clipnorm=0.1), jit_compile=False)
        model(data[0])
        model.optimizer.build(model.trainable_variables)
    model.set_weights(weights)
    dataset = tf.data.Dataset.from_tensor_slices({k: np.stack([d[k] for d in data]) for k in data[0]})
    history = model.fit(dataset, epochs=1, verbose=0)
    return model, history.history

one, one_logs = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
two_devices = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
two, two_logs = train(two_devices)
print(json.dumps({
    "replicas": two_devices.num_replicas_in_sync,
    "max_weight_difference": max(
        float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(one.trainable_variables, two.trainable_variables)
    ),
    "moved": max(float(np.abs(a - b).max()) for a, b in zip(weights, one.get_weights())),
    "one_logs": {k: float(v[-1]) for k, v in one_logs.items()},
    "two_logs": {k: float(v[-1]) for k, v in two_logs.items()},
}))
"""


def run_python(code: str, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen, timeout: int = 600) -> dict:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-4000:]
    return json.loads(stdout.strip().splitlines()[-1])


def test_mirrored_over_two_devices_clips_the_whole_gradient_as_one_device_does():
    result = finished(run_python(MIRRORED))
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3, "three SGD steps changed the weights"
    assert result["max_weight_difference"] < 1e-6
    names = ("loss", "lm_example_loss", "next_sentence_loss", "masked_lm_accuracy", "next_sentence_accuracy")
    for name in (*names, "gradient_norm"):  # the norm of the whole step's gradient, on every replica
        assert result["two_logs"][name] == pytest.approx(result["one_logs"][name], rel=1e-4), name
