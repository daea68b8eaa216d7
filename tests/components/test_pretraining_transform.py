"""The Transform executor's changes to TFX's: here, TFT's inspection questions answered from one trace."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components.pretraining_transform.component import traced_once_for_inspection

SPECS = {
    "x": tf.TensorSpec([None], tf.float32),
    "y": tf.TensorSpec([None], tf.float32),
    "unused": tf.TensorSpec([None], tf.string),
}


def _traced_function():
    traces = []

    def preprocessing_fn(inputs):
        traces.append(True)
        return {"centered": inputs["x"] - tft.mean(inputs["y"]), "x_twice": inputs["x"] * 2.0}

    return preprocessing_fn, traces


def _questions(preprocessing_fn):
    return (
        sorted(tft.get_analyze_input_columns(preprocessing_fn, SPECS)),
        sorted(tft.get_transform_input_columns(preprocessing_fn, SPECS)),
        sorted(tft.get_analyze_input_columns(preprocessing_fn, SPECS)),
    )


def test_the_executor_traces_a_preprocessing_fn_once_for_tfts_three_questions_with_the_same_answers():
    preprocessing_fn, traces = _traced_function()
    expected = _questions(preprocessing_fn)
    assert expected == (["y"], ["x"], ["y"])  # the analyzer reads y; once analysed, the outputs need only x
    assert len(traces) == 3  # TFT alone: a trace per question

    preprocessing_fn, traces = _traced_function()
    with traced_once_for_inspection():
        assert _questions(preprocessing_fn) == expected
        other_fn, other_traces = _traced_function()  # another function is traced for itself
        assert _questions(other_fn) == expected and len(other_traces) == 1
    assert len(traces) == 1

    _questions(preprocessing_fn)  # outside the executor's call, TFT's own behaviour again
    assert len(traces) == 4
