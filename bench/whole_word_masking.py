"""Whole-word masking on real text: how well it fills the masked-LM budget, and what it costs, against the rule of
an earlier revision measured in the same run.

    python bench/whole_word_masking.py PIPELINE_ROOT [--reference-rev 8054e9d] [--groups 6]

PIPELINE_ROOT is a finished run's pipeline root (e.g. `outputs/bert-smoke/pipeline_root`): its TextExampleGen
records are tokenized with its Transform vocabulary and packed into BERT's instances (seq 128, 20 predictions),
then masked by whole words with this checkout's `models/pretraining_data/masking.py` and with the reference
revision's (`git show REV:models/pretraining_data/masking.py`, loaded beside it). Prints, for each: the share of
eligible tokens chosen, the instances whose targets fall short of their budget, and milliseconds per masking call.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from configs.run_config import PretrainingDataConfig  # noqa: E402
from models import features  # noqa: E402
from models.encoder import tokenization  # noqa: E402
from models.pretraining_data import keyed_random, masking, sentence_pairs  # noqa: E402
from models.pretraining_data.documents import Documents  # noqa: E402


def reference_masking(rev: str):
    """The masking module as it was at `rev`, loaded under another name."""
    command = ["git", "show", f"{rev}:models/pretraining_data/masking.py"]
    source = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "masking_reference.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("masking_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["masking_reference"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def vocabulary_of(pipeline_root: str) -> str:
    """The run's learned vocabulary (its latest Transform output)."""
    pattern = f"{pipeline_root}/Transform/transform_graph/*/transform_fn/assets/{features.VOCAB_FILE}"
    return sorted(glob.glob(pattern))[-1]


def instances_of(pipeline_root: str, vocab: str, groups: int, config: PretrainingDataConfig):
    """BERT's unmasked instances of the first `groups` train records, their mask keys and `##` flags."""
    files = glob.glob(f"{pipeline_root}/TextExampleGen/examples/*/Split-train/*")
    table = tokenization.vocab_table(vocab)
    continuation = masking.continuation_table(vocab)
    for raw in tf.data.TFRecordDataset(files, compression_type="GZIP").take(groups):
        record = tf.train.Example.FromString(raw.numpy()).features.feature
        counts = tf.constant(list(record[features.DOCUMENT_SENTENCES].int64_list.value), tf.int64)
        words = tokenization.basic_tokenizer(config.lower_case).tokenize(
            tf.constant(list(record[features.SENTENCES].bytes_list.value))
        )
        documents = Documents(
            sentence_ids=tokenization.word_pieces(table).tokenize(words).merge_dims(-2, -1),
            sentence_counts=counts,
            group=tf.zeros_like(counts),
            keys=keyed_random.string_key(config.seed, tf.constant(list(record[features.DOC_ID].bytes_list.value))),
        )
        instances, keys = sentence_pairs.build_instances(documents, config)
        word_ids = instances[features.INPUT_WORD_IDS]
        yield word_ids, instances[features.INPUT_MASK], keys, masking.continuation_of(continuation, word_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline_root")
    parser.add_argument("--reference-rev", default="8054e9d", help="the revision whose rule is the reference")
    parser.add_argument("--groups", type=int, default=6, help="TextExampleGen records (groups of documents) to use")
    args = parser.parse_args()
    config = PretrainingDataConfig(max_seq_length=128, max_predictions_per_seq=20, whole_word_masking=True)
    rules = {"this checkout": masking, f"at {args.reference_rev}": reference_masking(args.reference_rev)}
    totals = {name: {"chosen": 0, "eligible": 0, "short": 0, "seconds": 0.0, "calls": 0} for name in rules}
    vocab = vocabulary_of(args.pipeline_root)
    vocab_size = len(Path(vocab).read_text().splitlines())
    instances = 0
    for word_ids, mask, keys, is_continuation in instances_of(args.pipeline_root, vocab, args.groups, config):
        instances += len(word_ids)
        eligible = (mask.numpy() > 0) & ~np.isin(word_ids.numpy(), [features.CLS_ID, features.SEP_ID, features.UNK_ID])
        budget = np.minimum(np.maximum(np.round(eligible.sum(axis=1) * np.float32(0.15)), 1), 20)
        for name, rule in rules.items():
            settings = rule.MaskingSettings.from_config(config)
            # In a graph, as Transform and the Trainer's input pipeline run it; the first call traces.
            graph = tf.function(
                lambda w, m, k, v, c, rule=rule, settings=settings: rule.mask_instances(w, m, k, v, settings, c)
            )
            inputs = (word_ids, mask, keys, tf.constant(vocab_size, tf.int64), is_continuation)
            masked = graph(*inputs)
            start = time.perf_counter()
            for _ in range(3):
                masked = graph(*inputs)
            totals[name]["seconds"] += (time.perf_counter() - start) / 3
            totals[name]["calls"] += 1
            chosen = masked[features.MASKED_LM_WEIGHTS].numpy().sum(axis=1)
            totals[name]["chosen"] += int(chosen.sum())
            totals[name]["eligible"] += int(eligible.sum())
            totals[name]["short"] += int((chosen < budget).sum())
    print(f"{instances:,} instances of {args.groups} groups, seq 128, 20 predictions, whole-word masking")
    for name, t in totals.items():
        print(
            f"{name:>16}: {t['chosen'] / t['eligible']:.2%} of eligible tokens chosen; "
            f"{t['short']:,} instances ({t['short'] / instances:.1%}) short of their budget; "
            f"{1000 * t['seconds'] / t['calls']:.1f} ms per group's masking"
        )


if __name__ == "__main__":
    main()
