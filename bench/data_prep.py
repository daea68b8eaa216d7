"""Benchmark: pre-training data preparation (TextExampleGen -> StatisticsGen -> SchemaGen -> Transform).

Runs the data part of the pipeline, exactly as `create_pipeline` wires it, on the local orchestrator
with the local Beam settings (or `--beam-arg`s), in a child process whose whole process tree
(Beam workers included) is sampled for resident memory. Then prints:

- each component's time, instances/s and real (non-padding) tokens/s of the Transform;
- peak RSS: the sum over the run's process tree, sampled every 0.2 s;
- the instance statistics (`models.pretraining_data.instance_statistics`): full-length share, mean real tokens,
  masked share of eligible tokens, 80/10/10, random-next share;
- the same-run reference: the seconds tensorflow_text's FastBertTokenizer alone takes to tokenize
  the corpus's cleaned sentences with the learned vocabulary, and the Transform's time as a multiple;
- with `--original-dir` (a clone of github.com/google-research/bert), Google's original
  `create_pretraining_data.py` on the same cleaned sentences (one per line, a blank line between documents,
  written before its clock starts) with our learned vocabulary and the same settings, under the same memory
  sampler; and the ratio of the whole data part's real tokens/s (wall time of the child process: every
  component, the orchestrator and the imports) to the original's (wall time of its process).

The defaults are the settings of issue 7 (vocabulary 30,522, seq 128, 20 predictions, dupe factor 5):

    .venv/bin/python bench/data_prep.py --corpus-dir ../shared/data/slices --pattern enwiki_10mb.txt
    .venv/bin/python bench/data_prep.py --corpus-dir ../shared/data/corpus --pattern '*/wiki_*'

Add `--original-dir /path/to/bert` to run the original script beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from configs import pipeline_contract as contract

ISSUE_SETTINGS = [
    "data.vocab_size=30522",
    "data.max_seq_length=128",
    "data.max_predictions_per_seq=20",
    "data.dupe_factor=5",
    "trainer.later_phases=[]",  # one phase: the data part of one length (the smoke preset's second is at 128)
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus-dir", type=Path, required=True)
    parser.add_argument("--pattern", default="*", help="glob of corpus files under --corpus-dir")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bert_tfx_bench/data_prep"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--beam-arg", action="append", default=[], help="extra Beam option (repeatable)")
    parser.add_argument("--no-reference", action="store_true", help="skip the tokenizer-alone reference")
    parser.add_argument(
        "--original-dir", type=Path, help="a clone of github.com/google-research/bert: run its script beside ours"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def _config(args):
    from configs import presets

    overrides = ISSUE_SETTINGS + [f"corpus.input_pattern={args.pattern}", "pipeline_name=bench-data-prep"] + args.set
    return presets.load("smoke", overrides)


def run_data_pipeline(args) -> None:
    """The child: the data nodes on LocalDagRunner, caching off, a fresh SQLite store."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from tfx.orchestration.pipeline import Pipeline

    from inspection import store
    from pipeline.beam_options import beam_args
    from pipeline.bert_pipeline import PipelinePaths, data_nodes, with_step_beam_args
    from pipeline.console import quiet_libraries

    quiet_libraries()
    config = _config(args)
    paths = PipelinePaths(
        corpus_dir=str(args.corpus_dir.resolve()),
        glue_dir="",
        pipeline_root=str(args.work_dir / "pipeline_root"),
        serving_dir="",
    )
    components = data_nodes(config, paths).components()
    with_step_beam_args(components, config.beam)  # `--set beam.step_args=...`, as a run applies them
    pipeline = Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=components,
        enable_cache=False,
        metadata_connection_config=store.sqlite_config(args.work_dir / "metadata.sqlite"),
        beam_pipeline_args=beam_args(config.beam) + args.beam_arg,
    )
    LocalDagRunner().run(pipeline)


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants, keeping the peak."""

    def __init__(self, pid: int, period_s: float = 0.2):
        self._root = psutil.Process(pid)
        self._period = period_s
        self.peak_bytes = 0
        self.samples: list[tuple[float, int]] = []  # (seconds since the epoch, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for process in [self._root, *self._root.children(recursive=True)]:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak_bytes = max(self.peak_bytes, total)
            self.samples.append((time.time(), total))
            self._stop.wait(self._period)


def _executions(store_path: Path):
    from inspection.records import MetadataReader
    from inspection.store import open_store, sqlite_config

    reader = MetadataReader(open_store(sqlite_config(store_path)))
    return reader.runs()[0].executions


def _latest(pipeline_root: Path, component: str, output: str) -> Path:
    runs = sorted((pipeline_root / component / output).iterdir(), key=lambda p: int(p.name))
    return runs[-1]


def _cleaned_documents(corpus_dir: Path, pattern: str, min_chars: int):
    """The corpus's documents as TextExampleGen cleans them, file by file in name order."""
    import glob

    from components.text_example_gen.corpus_reader import read_documents

    for path in sorted(p for p in glob.glob(str(corpus_dir / pattern)) if os.path.isfile(p)):
        yield from read_documents(path, min_chars=min_chars)


def _tokenizer_reference(corpus_dir: Path, pattern: str, vocab_path: Path, min_chars: int) -> tuple[float, int]:
    """Seconds FastBertTokenizer needs for the corpus's cleaned sentences, and the tokens it made."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    vocab = vocab_path.read_text(encoding="utf-8").splitlines()
    tokenizer = tf_text.FastBertTokenizer(vocab, token_out_type=tf.int64, lower_case_nfd_strip_accents=True)
    batches, batch = [], []
    for document in _cleaned_documents(corpus_dir, pattern, min_chars):
        batch.extend(document.sentences)
        if len(batch) >= 4096:
            batches.append(tf.constant(batch))
            batch = []
    if batch:
        batches.append(tf.constant(batch))
    tokenize = tf.function(lambda s: tokenizer.tokenize(s).flat_values)
    tokenize(batches[0])  # trace once, outside the timing
    start, tokens = time.perf_counter(), 0
    for sentences in batches:
        tokens += int(tf.size(tokenize(sentences)))
    return time.perf_counter() - start, tokens


def _write_original_input(corpus_dir: Path, pattern: str, min_chars: int, out_path: Path) -> None:
    """The corpus's cleaned sentences in the original script's input format."""
    with out_path.open("w", encoding="utf-8") as out:
        for document in _cleaned_documents(corpus_dir, pattern, min_chars):
            out.write("\n".join(document.sentences))
            out.write("\n\n")


def _original_statistics(path: Path, vocab_path: Path) -> dict:
    """Instances, real tokens, random-next share and [UNK] targets of the original script's output."""
    import numpy as np
    import tensorflow as tf

    unk_id = vocab_path.read_text(encoding="utf-8").splitlines().index("[UNK]")
    instances = real_tokens = random_next = unk_targets = full_length = 0
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        example = tf.train.Example.FromString(record).features.feature
        mask = np.array(example["input_mask"].int64_list.value)
        weights = np.array(example["masked_lm_weights"].float_list.value)
        targets = np.array(example["masked_lm_ids"].int64_list.value)
        instances += 1
        real_tokens += int(mask.sum())
        full_length += int(mask.all())
        random_next += int(example["next_sentence_labels"].int64_list.value[0])
        unk_targets += int(((targets == unk_id) & (weights > 0)).sum())
    return {
        "instances": instances,
        "real_tokens": real_tokens,
        "full_length_share": full_length / instances,
        "random_next_share": random_next / instances,
        "unk_targets": unk_targets,
    }


def run_original(args, config, vocab_path: Path) -> dict:
    """Google's `create_pretraining_data.py` on the same sentences, vocabulary and settings, timed and sampled."""
    work = args.work_dir / "original"
    work.mkdir(parents=True, exist_ok=True)
    input_path, output_path = work / "sentences.txt", work / "instances.tfrecord"
    _write_original_input(args.corpus_dir, args.pattern, config.corpus.min_document_chars, input_path)
    command = [
        sys.executable,
        str(Path(__file__).with_name("original_bert_script.py")),
        str(args.original_dir),
        f"--input_file={input_path}",
        f"--output_file={output_path}",
        f"--vocab_file={vocab_path}",
        f"--do_lower_case={config.data.lower_case}",
        f"--max_seq_length={config.data.max_seq_length}",
        f"--max_predictions_per_seq={config.data.max_predictions_per_seq}",
        f"--dupe_factor={config.data.dupe_factor}",
        f"--masked_lm_prob={config.data.masked_lm_prob}",
        f"--short_seq_prob={config.data.short_seq_prob}",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with TreeMemory(process.pid) as memory:
        code = process.wait()
    wall = time.perf_counter() - start
    if code:
        raise SystemExit(f"the original script failed with exit code {code}: {' '.join(command)}")
    return {"wall_s": wall, "peak_rss_gb": memory.peak_bytes / 1e9, **_original_statistics(output_path, vocab_path)}


def main() -> int:
    args = _parser().parse_args()
    if args.child:
        run_data_pipeline(args)
        return 0

    if args.work_dir.exists():
        shutil.rmtree(args.work_dir)
    args.work_dir.mkdir(parents=True)
    child = [sys.executable, __file__, "--child", *sys.argv[1:]]
    start = time.perf_counter()
    process = subprocess.Popen(child, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    with TreeMemory(process.pid) as memory:
        code = process.wait()
    wall = time.perf_counter() - start
    if code:
        print(f"data pipeline failed with exit code {code}", file=sys.stderr)
        return code

    from models import features
    from models.pretraining_data.instance_statistics import statistics_of, transformed_files

    config = _config(args)
    executions = _executions(args.work_dir / "metadata.sqlite")
    times = {e.node_id: e.duration_s for e in executions}
    peaks = {e.node_id: memory.peak_between(e.started, e.started + e.duration_s) / 1e9 for e in executions}
    root = args.work_dir / "pipeline_root"
    transformed = _latest(root, contract.TRANSFORM, contract.TRANSFORMED_EXAMPLES)
    train = statistics_of(transformed_files(str(transformed), "train")).summary()
    eval_stats = statistics_of(transformed_files(str(transformed), "eval")).summary()
    instances = train["instances"] + eval_stats["instances"]
    real_tokens = train["real_tokens"] + eval_stats["real_tokens"]
    transform_s = times.get(contract.TRANSFORM, float("nan"))
    corpus_bytes = sum(p.stat().st_size for p in args.corpus_dir.glob(args.pattern) if p.is_file())
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "corpus_mb": corpus_bytes / 1e6,
        "settings": ISSUE_SETTINGS + args.set,
        "beam_args": args.beam_arg,
        "wall_s": wall,
        "component_s": times,
        "peak_rss_gb": memory.peak_bytes / 1e9,
        "component_peak_rss_gb": peaks,
        "instances": instances,
        "real_tokens": real_tokens,
        "transform_instances_per_s": instances / transform_s,
        "transform_real_tokens_per_s": real_tokens / transform_s,
        "train": train,
    }
    transform_graph = _latest(root, contract.TRANSFORM, contract.TRANSFORM_GRAPH)
    vocab = transform_graph / "transform_fn" / "assets" / features.VOCAB_FILE
    if not args.no_reference:
        seconds, tokens = _tokenizer_reference(args.corpus_dir, args.pattern, vocab, config.corpus.min_document_chars)
        figures["reference_tokenizer_s"] = seconds
        figures["reference_tokens"] = tokens
        figures["transform_over_tokenizer"] = transform_s / seconds

    figures["data_part_real_tokens_per_s"] = real_tokens / wall
    if args.original_dir:
        original = run_original(args, config, vocab)
        original["real_tokens_per_s"] = original["real_tokens"] / original["wall_s"]
        figures["original"] = original
        figures["data_part_over_original"] = figures["data_part_real_tokens_per_s"] / original["real_tokens_per_s"]

    print(f"machine: {figures['machine']}; corpus {figures['corpus_mb']:.1f} MB; wall {wall:.0f} s")
    for node, seconds in times.items():
        print(f"  {node:<16} {seconds:7.1f} s, peak RSS {peaks[node]:5.2f} GB")
    print(f"peak RSS (process tree): {figures['peak_rss_gb']:.2f} GB")
    print(
        f"instances: {instances:,} ({figures['transform_instances_per_s']:,.0f}/s in Transform); real tokens "
        f"{real_tokens:,} ({figures['transform_real_tokens_per_s']:,.0f}/s)"
    )
    print(
        "train split: full length {full_length_share:.1%}, mean real tokens {mean_real_tokens:.1f}, selected "
        "{selected_share:.2%} of eligible, [MASK]/random/kept {mask_share:.1%}/{random_share:.1%}/{kept_share:.1%}, "
        "random next {random_next_share:.1%}, [UNK] targets {unk_targets}".format(**train)
    )
    if "reference_tokenizer_s" in figures:
        print(
            f"reference: FastBertTokenizer alone {figures['reference_tokenizer_s']:.1f} s for "
            f"{figures['reference_tokens']:,} tokens; Transform = {figures['transform_over_tokenizer']:.1f}x that"
        )
    print(f"whole data part: {wall:.1f} s, {figures['data_part_real_tokens_per_s']:,.0f} real tokens/s")
    if "original" in figures:
        original = figures["original"]
        print(
            f"original create_pretraining_data.py: {original['wall_s']:.1f} s, {original['instances']:,} instances, "
            f"{original['real_tokens']:,} real tokens ({original['real_tokens_per_s']:,.0f}/s), peak RSS "
            f"{original['peak_rss_gb']:.2f} GB, full length {original['full_length_share']:.1%}, random next "
            f"{original['random_next_share']:.1%}, [UNK] targets {original['unk_targets']}"
        )
        print(f"whole data part / original, real tokens/s: {figures['data_part_over_original']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
