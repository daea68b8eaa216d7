"""Distributed pre-training in real processes: MirroredStrategy over two logical CPUs, and
MultiWorkerMirroredStrategy with two worker processes on localhost (TF_CONFIG)."""

import json
import os
import socket
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
from tests.models.tiny import pretraining_batch, tiny_backbone

data = [pretraining_batch(batch_size=8, seed=s) for s in range(3)]
keras.utils.set_random_seed(0)
initial = BertPretrainer(tiny_backbone())
initial(data[0])
weights = initial.get_weights()

def train(strategy):
    with strategy.scope():
        model = BertPretrainer(tiny_backbone())
        # SGD, not Adam: Adam's update barely changes if every gradient doubles, SGD's doubles.
        model.compile(optimizer=keras.optimizers.SGD(0.5), jit_compile=False)
        model(data[0])
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

MULTI_WORKER = """
import json, os, sys, numpy as np, tensorflow as tf, keras
from configs.run_config import PretrainingDataConfig, TrainerConfig
from models.pretraining import distribution
from models.pretraining.trainer_module import build_pretrainer, export_encoder
from tests.models.tiny import MODEL, VOCAB, pretraining_batch, write_vocab
from pathlib import Path

out = Path(sys.argv[1])
strategy = distribution.strategy_for("multi_worker")
config = TrainerConfig(train_steps=4, warmup_steps=1, batch_size=8, jit_compile=False)
data = [pretraining_batch(batch_size=8, seed=s) for s in range(4)]
stacked = {k: np.concatenate([d[k] for d in data]) for k in data[0]}
dataset = tf.data.Dataset.from_tensor_slices(stacked).batch(8).repeat()
with strategy.scope():
    keras.utils.set_random_seed(0)
    model = build_pretrainer(MODEL, len(VOCAB), config)
    model(data[0])  # built in scope, as run_fn does
history = model.fit(dataset, epochs=1, steps_per_epoch=4, verbose=0)
vocab = write_vocab(out / f"vocab_{os.getpid()}.txt")
serving_dir = str(out / "model" / "Format-Serving")
export_encoder(model.backbone, PretrainingDataConfig(max_seq_length=16), vocab, serving_dir, strategy)
print(json.dumps({"chief": distribution.is_chief(strategy), "replicas": strategy.num_replicas_in_sync,
                  "steps": int(model.optimizer.iterations.numpy()), "loss": float(history.history["loss"][-1])}))
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


def test_mirrored_over_two_devices_trains_like_one_device_at_the_same_global_batch():
    result = finished(run_python(MIRRORED))
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3, "three SGD steps changed the weights"
    assert result["max_weight_difference"] < 1e-5
    # (gradient_norm is each replica's own, of its half of the batch: not compared.)
    for name in ("loss", "lm_example_loss", "next_sentence_loss", "masked_lm_accuracy", "next_sentence_accuracy"):
        assert result["two_logs"][name] == pytest.approx(result["one_logs"][name], rel=1e-4), name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multi_worker_training_on_localhost_writes_one_model(tmp_path):
    workers = [f"localhost:{free_port()}" for _ in range(2)]
    processes = [
        run_python(
            MULTI_WORKER,
            str(tmp_path),
            env={"TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    results = [finished(p) for p in processes]
    assert [r["chief"] for r in results] == [True, False]
    assert all(r["replicas"] == 2 and r["steps"] == 4 for r in results)
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-5), "one synchronous training"
    written = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert written == ["Format-Serving", "checkpoint"], "the chief's model only; the worker's scratch is gone"
    assert (tmp_path / "model" / "Format-Serving" / "saved_model.pb").exists()
