"""The Trainer's input: the same examples in the same order on any machine, in any process, at any split."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from configs.run_config import PretrainingDataConfig, TrainerConfig
from models import features
from models.pretraining.bert_pretrainer import ROW_IN_STEP
from models.pretraining.training_input import READ_FILES_AT_ONCE, read_batches, step_batches

SPEC = {features.INPUT_WORD_IDS: tf.io.FixedLenFeature([2], tf.int64)}


def write_files(folder, files: int = 6, records: int = 10) -> str:
    """`files` gzipped TFRecord files of tf.Examples whose first id is `100 * file + record`."""
    folder.mkdir()
    for index in range(files):
        with tf.io.TFRecordWriter(
            str(folder / f"part-{index}.gz"), tf.io.TFRecordOptions(compression_type="GZIP")
        ) as w:
            for record in range(records):
                value = tf.train.Int64List(value=[100 * index + record, 0])
                feature = {features.INPUT_WORD_IDS: tf.train.Feature(int64_list=value)}
                w.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return str(folder / "*.gz")


def interleave_cycle_lengths(dataset: tf.data.Dataset) -> list[int]:
    """The cycle length of every file interleave in a dataset's graph, as tf.data resolved it."""
    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    lengths = []
    for nodes in [graph.node, *(f.node_def for f in graph.library.function)]:
        constants = {n.name: n.attr["value"].tensor for n in nodes if n.op == "Const"}
        for node in nodes:
            if node.op.startswith("ParallelInterleaveDataset"):
                cycle_length = node.input[-5].split(":")[0]  # then block length and three more
                lengths.append(int(tf.make_ndarray(constants[cycle_length])))
    return lengths


def test_files_are_read_a_fixed_number_at_a_time_not_one_per_core(tmp_path):
    """TFXIO's reader (tfx_bsl's `make_tf_record_dataset`) leaves the interleave's cycle length to tf.data
    (AUTOTUNE), which resolves it from the machine's parallelism: a run resumed on another machine read the records
    in another order. Here it is a constant."""
    pattern = write_files(tmp_path / "data")
    assert interleave_cycle_lengths(read_batches([pattern], SPEC, 8, seed=5)) == [READ_FILES_AT_ONCE]


def test_the_order_does_not_depend_on_what_the_process_read_before(tmp_path):
    """tf.data's reshuffling drew its seeds from a generator shared by the process's datasets with the same seed:
    a second reader of the same files gave another order."""
    pattern = write_files(tmp_path / "data")
    tf.random.set_seed(5)
    first = [b[features.INPUT_WORD_IDS].numpy() for b in read_batches([pattern], SPEC, 8, seed=5).take(15)]
    again = [b[features.INPUT_WORD_IDS].numpy() for b in read_batches([pattern], SPEC, 8, seed=5).take(15)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    # 60 records: batches 0-6 hold 56 of the first epoch; batches 8-14 lie in the second, in another order.
    first_epoch = [int(v) for b in first[:7] for v in b[:, 0]]
    second_epoch = [int(v) for b in first[8:15] for v in b[:, 0]]
    assert first_epoch != second_epoch


def test_step_batches_are_the_batches_of_a_step_and_number_their_rows(tmp_path):
    pattern = write_files(tmp_path / "data")
    tf.random.set_seed(5)
    config = TrainerConfig(batch_size=4, gradient_accumulation_steps=2, seed=5)
    data = PretrainingDataConfig(max_seq_length=8, max_predictions_per_seq=2)
    split = next(iter(step_batches([pattern], SPEC, config, data, "", 0)))
    whole = next(iter(read_batches([pattern], SPEC, 8, seed=5)))
    np.testing.assert_array_equal(split[features.INPUT_WORD_IDS], whole[features.INPUT_WORD_IDS])
    np.testing.assert_array_equal(split[ROW_IN_STEP], np.arange(8))
