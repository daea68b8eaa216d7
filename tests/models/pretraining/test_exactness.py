"""Pre-training is exact under the settings real runs use: accumulation, replicas, kills and precision, together.

Every run trains the same tiny BERT with what a real run uses: AdamW, global clipping at 1.0, dropout 0.1,
warm-up and linear decay, masked-LM targets whose count varies from one instance to the next (1 to 4 of 4),
and the Trainer's own shuffled input, checkpoints and loop (`exactness_run.py`; XLA in the float32 c cells,
where it compiles each replica's step). Each cell must end with the weights and optimizer state (step, moments,
loss scale, step batches read) of one uninterrupted single-device run over the same step batches of 16
examples, in the same precision:

- a: 2 micro-batches of 8;  b: 2 replicas (MirroredStrategy over two logical CPUs);  c: 2 replicas x 2
  micro-batches;  d-a, d-b, d-c: the same, SIGKILLed and run again (inside a step, between steps, inside a
  step: wherever the kill lands, the resumed run must end where the uninterrupted one does, bit for bit);
  e: two worker processes (MultiWorkerMirroredStrategy), both killed and both run again; only the chief's
  encoder is kept.
- bfloat16 and float16: c and d-c.
- float16 with a loss scale so high that the first steps overflow: skipped steps do not count, the run ends at
  exactly 8 applied steps, and a kill and a re-run change nothing.
- t, d-t: a time budget instead of a step count (`trainer.time_budget_minutes`, the learning rate following the
  training clock, each step timed at 15/8 s by the harness so that the budget is 8 steps), 2 replicas x 2
  micro-batches, uninterrupted and killed inside step 5: both stop at step 8 with 15 s on the clock, as the
  step-counted reference within the float32 bound (the same rates, computed from seconds), and the killed one
  exactly as the uninterrupted one (the clock resumes from the checkpoint).
- mlm-c, mlm-d-c: RoBERTa's objective (`data.objective=mlm`: no next-sentence head or loss), 2 replicas x 2
  micro-batches, uninterrupted and killed inside step 5, against an uninterrupted single device of that objective,
  in float32 and in float16 (the loss scale without the next-sentence loss in the sum).
- ph, d-ph: two phases (`trainer.later_phases`, the second continuing the first's optimizer and schedule over
  the last 4 of the 8 steps, on the same instances), 2 replicas x 2 micro-batches, the second phase's model built
  afresh and restored from the state the first handed over, as two Trainers do: ph ends bit for bit as c (one
  uninterrupted run of that layout); d-ph is killed inside phase 2's step 8 and run again: phase 1 is not trained
  again, phase 2 resumes from its own checkpoint at step 6 and ends bit for bit as ph.
- e-t: the two workers of e on that budget, each timing its steps otherwise (0.75 and 1.25 times 15/8 s), killed
  and run again: they follow one clock (the mean of their step times), so both stop after step 8 with 15.0 s,
  as e does with a step count.

Tolerances. A cell computes the same sums as the reference in another order (split over micro-batches and
replicas, then added), so in float32 each gradient differs from the reference's by rounding, about 1e-7 of its
size; 8 AdamW steps, each moving a weight by at most a few times the learning rate (1e-3) and in proportion to
gradient ratios that rounding changes by ~1e-7, then differ by well under 1e-6 (measured: at most 6e-8), which is
the bound. In bfloat16 and float16 the products are rounded to 8 and 11 bits, so the same reordering changes the
gradients by ~1e-2 and ~1e-3 of their size: bounds of 5e-4 and 1e-4 on the weights (measured: 4.3e-5 and
8.9e-6). Resumed runs repeat exactly the arithmetic of the uninterrupted run with the same layout: bound 0.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models import features
from tests.conftest import REPO_ROOT
from tests.models.tiny import pretraining_batch, write_vocab

PRECISIONS = {"fp32": "", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
TOLERANCE = {"fp32": 1e-6, "bf16": 5e-4, "fp16": 1e-4}
LAYOUTS = {"a": (1, 2), "b": (2, 1), "c": (2, 2)}  # (replicas, micro-batches)
KILLS = {
    "d-a": ("a", 3, "inside"),
    "d-b": ("b", 4, "between"),
    "d-c": ("c", 5, "inside"),
    "d-t": ("t", 5, "inside"),
    "d-ph": ("ph", 7, "inside"),
}
OVERFLOW_SCALE = 2.0**24  # the first ~10 steps overflow in float16 and are skipped


def cells() -> list[tuple[str, str]]:
    """(precision, cell) pairs of the matrix: every cell in float32; in bfloat16 and float16 the combination, 2
    replicas x 2 micro-batches, uninterrupted and killed (what differs between precisions, the rounding and the
    loss scale checked on the summed gradient, is all in that path)."""
    found = [("fp32", cell) for cell in [*LAYOUTS, *KILLS, "e", "t", "e-t", "ph", "mlm-c", "mlm-d-c"]]
    found += [(p, cell) for p in ("bf16", "fp16") for cell in ("c", "d-c")]
    return [*found, ("fp16", "mlm-c"), ("fp16", "mlm-d-c"), ("fp16", "overflow"), ("fp16", "overflow-killed")]


def write_instances(data_dir: Path) -> None:
    """64 instances whose masked-LM targets number 1 to 4 (weights 1, then 0)."""
    data_dir.mkdir(parents=True)
    write_vocab(data_dir / "vocab.txt")
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(data_dir / "instances.gz"), options) as writer:
        for seed in range(8):
            batch = pretraining_batch(batch_size=8, seed=seed)
            for row in range(8):
                weights = np.zeros(4, np.float32)
                weights[: 1 + (row + seed) % 4] = 1.0
                values = {name: batch[name][row] for name in features.PRETRAINING_FEATURES}
                values[features.MASKED_LM_WEIGHTS] = weights
                feature = {
                    name: tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(value)))
                    if name == features.MASKED_LM_WEIGHTS
                    else tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(value)))
                    for name, value in values.items()
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def run_spec(spec: dict, path: Path, env: dict | None = None) -> subprocess.Popen:
    path.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.models.pretraining.exactness_run", str(path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def ended(process: subprocess.Popen, killed: bool = False) -> None:
    output, _ = process.communicate(timeout=900)
    if killed:
        assert process.returncode == -9, f"expected to be killed, ended with {process.returncode}:\n{output[-3000:]}"
    else:
        assert process.returncode == 0, output[-5000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cell_spec(precision: str, cell: str, checkpoints: Path) -> dict:
    """The run of a cell: its layout, and for a killed cell where it is killed (`mlm-<cell>`: the cell under the
    `mlm` objective)."""
    if cell.startswith("mlm-"):
        return {**cell_spec(precision, cell.removeprefix("mlm-"), checkpoints), "objective": "mlm"} | {
            "name": f"{precision}-{cell}",
            "checkpoint_dir": str(checkpoints / f"{precision}-{cell}"),
        }
    if cell.startswith("overflow"):
        spec = {"replicas": 1, "accumulation": 1, "loss_scale": OVERFLOW_SCALE}
        if cell == "overflow-killed":
            spec |= {"kill_at": 3, "kill_where": "inside"}
    elif cell in KILLS:
        layout, step, where = KILLS[cell]
        replicas, accumulation = LAYOUTS.get(layout, LAYOUTS["c"])
        spec = {"replicas": replicas, "accumulation": accumulation, "kill_at": step, "kill_where": where}
        spec |= {"time_budget": True} if layout == "t" else {}
        spec |= {"phases": True} if layout == "ph" else {}
    elif cell in ("t", "ph"):
        spec = {"replicas": 2, "accumulation": 2, {"t": "time_budget", "ph": "phases"}[cell]: True}
    else:
        replicas, accumulation = LAYOUTS.get(cell, (1, 1))
        spec = {"replicas": replicas, "accumulation": accumulation}
    if precision == "fp32" and cell in ("c", "d-c", "ph", "d-ph"):
        spec["jit_compile"] = True  # XLA compiling each replica's step: the path of several GPUs
    return {
        "name": f"{precision}-{cell}",
        "precision": PRECISIONS[precision],
        "checkpoint_dir": str(checkpoints / f"{precision}-{cell}"),
        **spec,
    }


# One process per killed run (a SIGKILL ends it), each first running some of the uninterrupted cells, so that
# every process's start-up (importing TensorFlow) serves several cells. Two run at a time.
PROCESSES = [
    [("fp32", "ref"), ("fp32", "a"), ("fp32", "d-a")],
    [("fp32", "b"), ("fp32", "d-b")],
    [("fp32", "c"), ("fp32", "d-c")],
    [("bf16", "ref"), ("bf16", "c"), ("bf16", "d-c")],
    [("fp16", "ref"), ("fp16", "c"), ("fp16", "d-c")],
    [("fp16", "overflow"), ("fp16", "overflow-killed")],
    [("fp32", "t"), ("fp32", "d-t")],
    [("fp32", "ph"), ("fp32", "d-ph")],
    [("fp32", "mlm-ref"), ("fp32", "mlm-c"), ("fp32", "mlm-d-c")],
    [("fp16", "mlm-ref"), ("fp16", "mlm-c"), ("fp16", "mlm-d-c")],
]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Path:
    """Runs every cell; returns the folder of their final states (`<precision>-<cell>.npz`)."""
    root = tmp_path_factory.mktemp("exactness")
    data_dir, out_dir, checkpoints = root / "data", root / "out", root / "checkpoints"
    write_instances(data_dir)
    out_dir.mkdir()
    common = {"data_dir": str(data_dir), "out_dir": str(out_dir)}

    killed = []
    for first in range(0, len(PROCESSES), 2):
        running = []
        for index, cells_of_process in enumerate(PROCESSES[first : first + 2], start=first):
            runs = [cell_spec(precision, cell, checkpoints) for precision, cell in cells_of_process]
            killed.append(runs[-1])
            running.append(run_spec({**common, "runs": runs}, root / f"process-{index}.json"))
        for process in running:
            ended(process, killed=True)
    resumed = [{k: v for k, v in spec.items() if k not in ("kill_at", "kill_where")} for spec in killed]
    # The mlm objective's model resumes in a process of its own: after models with the next-sentence head, two
    # replicas of a model with other variables met in collectives keyed as the earlier ones' ("Shape mismatch in
    # the collective instance"), a TensorFlow limit of one process, not of a run.
    by_objective = [[spec for spec in resumed if (spec.get("objective") == "mlm") == mlm] for mlm in (False, True)]
    resuming = [run_spec({**common, "runs": runs}, root / f"resumed-{i}.json") for i, runs in enumerate(by_objective)]

    # Two workers, killed at step 5 and run again (beside the resuming process above); then again on a time budget.
    workers = [f"localhost:{free_port()}" for _ in range(2)]
    counted = {**cell_spec("fp32", "e", checkpoints), "replicas": "workers", "export": str(root / "model")}
    budgeted = {**cell_spec("fp32", "e-t", checkpoints), "replicas": "workers", "time_budget": True}
    for worker_run, kill in ((counted, True), (counted, False), (budgeted, True), (budgeted, False)):
        spec = {**common, "runs": [{**worker_run, **({"kill_at": 5} if kill else {})}]}
        cluster = {"cluster": {"worker": workers}}
        processes = [
            run_spec(
                spec,
                root / f"worker-{index}-{worker_run['name']}-{kill}.json",
                env={"TF_CONFIG": json.dumps({**cluster, "task": {"type": "worker", "index": index}})},
            )
            for index in range(2)
        ]
        for process in processes:
            ended(process, killed=kill)
    for process in resuming:
        ended(process)
    return out_dir


def state(out_dir: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(out_dir / f"{name}.npz") as saved:
        return dict(saved)


def max_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest difference between two states' weights and optimizer variables (step and loss scale included)."""
    assert a.keys() == b.keys()
    keys = [k for k in a if not k.startswith("meta/")]
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) for k in keys)


@pytest.mark.parametrize("precision, cell", cells(), ids=[f"{p}-{c}" for p, c in cells()])
def test_every_layout_killed_or_not_ends_as_one_uninterrupted_device(matrix, precision, cell):
    final = state(matrix, f"{precision}-{cell}")
    assert int(final["step"]) == 8, "exactly train_steps optimizer steps"
    if cell.startswith("overflow"):
        reference = state(matrix, "fp16-overflow")
        assert int(final["batches_seen"]) > 8, "the overflowing steps read a batch and were skipped"
        assert max_difference(final, reference) == 0.0
        return
    assert int(final["batches_seen"]) == 8
    objective, cell = ("mlm-", cell.removeprefix("mlm-")) if cell.startswith("mlm-") else ("", cell)
    if cell in ("t", "d-t", "e-t"):
        assert float(final["meta/clock"]) == 15.0, "the budget, spent; the killed run's clock resumed"
    else:  # without a budget each worker keeps its own time: the chief's steps take 0.75 x 15/8 s (WORKER_PACE)
        pace = 0.75 if cell == "e" else 1.0
        assert float(final["meta/clock"]) == 8 * 15 / 8 * pace, "the clock counts (and resumes) without a budget too"
    reference = state(matrix, f"{precision}-{objective}ref")
    assert float(np.load(matrix / f"{precision}-{objective}ref.npz")["meta/moved"]) > 1e-3, "training moved the weights"
    difference = max_difference(final, reference)
    print(f"{precision}-{objective}{cell}: max |difference| from one device {difference:.3g}")
    assert difference <= TOLERANCE[precision]
    if cell in KILLS:
        resumed = state(matrix, f"{precision}-{objective}{KILLS[cell][0]}")
        assert max_difference(final, resumed) == 0.0, "resumed exactly"
    if objective:  # no next-sentence head: fewer weights than BERT's objective
        assert len(final) < len(state(matrix, f"{precision}-ref"))
    if cell == "ph":
        assert max_difference(final, state(matrix, f"{precision}-c")) == 0.0, "handed over without a change"
    if cell in ("ph", "d-ph"):
        trained, restored = int(final["meta/phases_trained"]), int(final["meta/restored_step"])
        assert (trained, restored) == ((2, 0) if cell == "ph" else (1, 6)), "run again: phase 2 only, from step 6"
    if cell == "e-t":
        assert max_difference(final, state(matrix, "fp32-e")) <= TOLERANCE["fp32"], "one clock: as e's steps"
    if cell == "e":
        assert max_difference(final, state(matrix, "fp32-b")) <= TOLERANCE["fp32"]
        written = sorted(p.name for p in (matrix.parent / "model").iterdir())
        assert written == ["Format-Serving", "checkpoint"], "the chief's encoder only; the other worker's scratch went"
        leftovers = [p.name for p in (matrix.parent / "checkpoints").iterdir() if p.name.endswith(".scratch")]
        assert leftovers == [], "the killed worker's checkpoint scratch went when the re-run ended"
