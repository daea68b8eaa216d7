"""The exactness matrix's cells on the code before issue 22 (10f1a17), for the before/after figures in
docs/benchmarks.md ("What exactness costs"). It imports that commit's modules, so run it from a checkout of it:

    git worktree add ../baseline 10f1a17
    (cd ../baseline && PYTHONPATH=$PWD python ../main/bench/exactness_old_code_cells.py)

Prints, as JSON, the largest weight difference from one device after 8 AdamW steps (clipping 1.0, dropout 0.1,
masks of 1 to 4 targets, step batches of 16) for 2 micro-batches, 2 replicas (MirroredStrategy over two logical
CPUs), 2 replicas x 2 micro-batches, and one device checkpointed at step 4 and resumed in a new model.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile


def main() -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np

    # The modules of 10f1a17 (see the module docstring).
    from models.bert_pretrainer import BertPretrainer
    from models.optimization import create_optimizer
    from models.training_callbacks import PretrainingCheckpoints

    from models import backbone as backbone_lib
    from tests.models.tiny import MODEL, VOCAB, pretraining_batch

    model = dataclasses.replace(MODEL, num_layers=1, dropout=0.1)

    def varying(seed):
        batch = pretraining_batch(batch_size=16, seed=seed)
        weights = np.zeros_like(batch["masked_lm_weights"])
        for row in range(16):
            weights[row, : 1 + (row + seed) % 4] = 1
        return {**batch, "masked_lm_weights": weights}

    data = [varying(seed) for seed in range(8)]
    stacked = {k: np.concatenate([d[k] for d in data]) for k in data[0]}

    def build(strategy, accumulation):
        with strategy.scope():
            keras.utils.set_random_seed(7)
            pretrainer = BertPretrainer(backbone_lib.build_backbone(model, len(VOCAB)))
            optimizer = create_optimizer("adamw", 1e-3, 2, 8, 0.01, 1.0, accumulation)
            pretrainer.compile(optimizer=optimizer, jit_compile=False)
            pretrainer(data[0])
            pretrainer.optimizer.build(pretrainer.trainable_variables)
        return pretrainer

    def fit(pretrainer, accumulation, steps=8, skip=0):
        batches = tf.data.Dataset.from_tensor_slices(stacked).batch(16 // accumulation)
        pretrainer.fit(batches.skip(skip * accumulation).take((steps - skip) * accumulation), epochs=1, verbose=0)
        return pretrainer

    def difference(a, b):
        pairs = zip(a.trainable_variables, b.trainable_variables, strict=True)
        return max(float(np.abs(x.numpy() - y.numpy()).max()) for x, y in pairs)

    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    reference = fit(build(one, 1), 1)
    out = {
        "a (2 micro-batches)": difference(reference, fit(build(one, 2), 2)),
        "b (2 replicas)": difference(reference, fit(build(two, 1), 1)),
    }
    try:
        out["c (2 replicas x 2 micro-batches)"] = difference(reference, fit(build(two, 2), 2))
    except Exception as err:  # the crash the issue reports
        out["c (2 replicas x 2 micro-batches)"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    with tempfile.TemporaryDirectory() as directory:  # killed after a checkpoint at step 4, resumed in a new model
        first = fit(build(one, 1), 1, steps=4)
        PretrainingCheckpoints(directory, first, keep=2).save()
        resumed = build(one, 1)
        PretrainingCheckpoints(directory, resumed, keep=2).restore()
        out["d (one device, resumed at step 4)"] = difference(reference, fit(resumed, 1, steps=8, skip=4))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
