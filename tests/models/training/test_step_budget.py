import keras
import numpy as np
import tensorflow as tf

from models.training.step_budget import fit_for_steps


def test_fit_for_steps_takes_exactly_the_step_budget():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensors((np.ones((4, 3), np.float32), np.ones((4, 1), np.float32))).repeat()
    history = fit_for_steps(model, data, total_steps=25, log_every_steps=10, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 25
    assert len(history.history["loss"]) == 3
