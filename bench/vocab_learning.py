"""Benchmark: WordPiece vocabulary learning, our analyzer's learner vs tensorflow_text's.

Both learn from the same word counts (BertTokenizer's basic tokenization of the corpus sample),
so the figure compares the learners alone. Prints seconds for each, the speed-up ratio, and a
quality check: word pieces per word and [UNK] rate when tokenizing held-out text with each
vocabulary.

    .venv/bin/python bench/vocab_learning.py [--corpus-glob 'data/corpus/*.gz'] [--vocab-size 2000]
"""

from __future__ import annotations

import argparse
import collections
import glob
import platform
import tempfile
import time

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from components.text_example_gen.corpus_reader import read_documents
from models import features
from models.encoder import tokenization
from models.pretraining_data.vocab_learner import learn_vocabulary


def pieces_per_word(vocab: list[str], sentences: list[str]) -> tuple[float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(token + "\n" for token in vocab))
    tokenizer = tokenization.wordpiece_tokenizer(tokenization.vocab_table(f.name), lower_case=True)
    ids = tokenization.tokenize(tokenizer, tf.constant(sentences)).flat_values.numpy()
    words = tokenization.basic_tokenizer(True).tokenize(tf.constant(sentences)).flat_values.shape[0]
    return len(ids) / words, float((ids == features.UNK_ID).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus-glob", default="data/corpus/*.gz")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--max-alphabet", type=int, default=200)
    args = parser.parse_args()

    sentences = [
        s for path in sorted(glob.glob(args.corpus_glob)) for d in read_documents(path, 200) for s in d.sentences
    ]
    held_out, train = sentences[::10], [s for i, s in enumerate(sentences) if i % 10]
    words = tokenization.basic_tokenizer(True).tokenize(tf.constant(train)).flat_values.numpy()
    counts = collections.Counter(w.decode("utf-8") for w in words)
    print(f"corpus: {len(train)} sentences, {len(words)} words, {len(counts)} distinct; held out {len(held_out)}")
    print(f"machine: {platform.machine()}, {platform.processor() or 'unknown cpu'}, python {platform.python_version()}")

    start = time.perf_counter()
    ours = learn_vocabulary(counts.items(), args.vocab_size, list(features.SPECIAL_TOKENS), args.max_alphabet)
    ours_seconds = time.perf_counter() - start

    start = time.perf_counter()
    reference = wordpiece_tokenizer_learner_lib.learn(
        list(counts.items()),
        vocab_size=args.vocab_size,
        reserved_tokens=list(features.SPECIAL_TOKENS),
        lower_thresh=1,
        max_unique_chars=args.max_alphabet,
    )
    reference_seconds = time.perf_counter() - start

    for name, vocab, seconds in (
        ("ours (tokenizers WordPieceTrainer)", ours, ours_seconds),
        ("reference (tensorflow_text learner)", reference, reference_seconds),
    ):
        per_word, unk = pieces_per_word(vocab, held_out)
        print(f"{name:38s} {seconds:8.2f} s  vocab {len(vocab):6d}  pieces/word {per_word:.3f}  [UNK] {unk:.4%}")
    print(f"speed-up (reference / ours): {reference_seconds / ours_seconds:.1f}x")


if __name__ == "__main__":
    main()
