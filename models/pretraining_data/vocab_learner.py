"""Learns a WordPiece vocabulary inside Transform, as a Beam analyzer.

TFT has no WordPiece analyzer, so `learn_wordpiece_vocab` counts the words of each batch in the graph
and hands (word, count) pairs to `tft.experimental.ptransform_analyzer` with `WordpieceVocabLearner`:
Beam adds the counts up across the whole dataset (one dictionary per bundle, merged), then the Rust
WordPiece trainer of Hugging Face `tokenizers` picks the subwords (`##`-prefixed continuations, special
tokens first). The result is written as a
vocabulary file and returned to the graph as an asset path, so the vocabulary travels inside the
transform graph. Tokenization itself stays tensorflow_text's BertTokenizer (greedy
longest-match-first over this vocabulary), in the graph.

Why not tensorflow_text's own learner (`wordpiece_tokenizer_learner_lib`, behind
`bert_vocab_from_dataset`): it is pure Python and took 68 s for a 2,000-token vocabulary over
3 MB of Wikipedia text on our 2-core machine, against 0.4 s here (see docs/benchmarks.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers.models import WordPiece

from models import features


class _SumWordCounts(beam.CombineFn):
    """Batches of (unique words, their counts) -> {word: count} over the whole dataset."""

    def create_accumulator(self) -> dict[bytes, int]:
        return {}

    def add_input(self, totals: dict[bytes, int], batch: list[np.ndarray]) -> dict[bytes, int]:
        for word, count in zip(batch[0].tolist(), batch[1].tolist(), strict=True):
            totals[word] = totals.get(word, 0) + count
        return totals

    def merge_accumulators(self, accumulators) -> dict[bytes, int]:
        accumulators = iter(accumulators)
        totals = next(accumulators)
        for other in accumulators:
            for word, count in other.items():
                totals[word] = totals.get(word, 0) + count
        return totals

    def extract_output(self, totals: dict[bytes, int]) -> list[tuple[bytes, int]]:
        return sorted(totals.items())


class WordpieceVocabLearner(tft_beam.experimental.PTransformAnalyzer):
    """Beam PTransform: batches of (unique words, counts) -> one vocabulary file path.

    Args:
        vocab_size: target vocabulary size, special tokens included.
        reserved_tokens: tokens placed first, in this order (their ids are their positions).
        max_alphabet: the vocabulary keeps at most this many distinct characters.
    """

    def __init__(self, vocab_size: int, reserved_tokens: tuple[str, ...], max_alphabet: int = 1000):
        super().__init__()
        self.vocab_size = vocab_size
        self.reserved_tokens = list(reserved_tokens)
        self.max_alphabet = max_alphabet

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        output_dir = self.base_temp_dir
        return (
            batches
            | "SumWordCounts" >> beam.CombineGlobally(_SumWordCounts())
            | "Learn" >> beam.Map(self._learn_and_write, output_dir)
        )

    def _learn_and_write(self, word_counts: list[tuple[bytes, int]], output_dir: str) -> np.ndarray:
        if not word_counts:
            raise ValueError("WordPiece vocabulary: the corpus has no words; is the train split empty?")
        vocab = learn_vocabulary(
            ((word.decode("utf-8"), count) for word, count in word_counts),
            self.vocab_size,
            self.reserved_tokens,
            self.max_alphabet,
        )
        if vocab[: len(self.reserved_tokens)] != self.reserved_tokens:
            raise AssertionError(f"learned vocabulary does not start with {self.reserved_tokens}: {vocab[:8]}")
        path = os.path.join(output_dir, features.VOCAB_FILE)
        tf.io.gfile.makedirs(output_dir)
        with tf.io.gfile.GFile(path, "w") as f:
            f.write("".join(token + "\n" for token in vocab))
        return np.array(path.encode("utf-8"))


class ProvidedVocabulary(tft_beam.experimental.PTransformAnalyzer):
    """Beam PTransform: the vocabulary file `data.vocab_file` names, checked and written where the learned one
    would be (so it travels in the transform graph as the same asset).

    Args:
        vocab_file: the WordPiece vocabulary, one token per line.
        reserved_tokens: the tokens its first lines must hold, in this order (the feature contract's ids).
    """

    def __init__(self, vocab_file: str, reserved_tokens: tuple[str, ...]):
        super().__init__()
        self.vocab_file = vocab_file
        self.reserved_tokens = list(reserved_tokens)

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return (
            batches
            | "One" >> beam.combiners.Count.Globally()
            | "Copy" >> beam.Map(lambda _, output_dir: self._check_and_copy(output_dir), self.base_temp_dir)
        )

    def _check_and_copy(self, output_dir: str) -> np.ndarray:
        name = f"data.vocab_file={self.vocab_file}"
        if not tf.io.gfile.exists(self.vocab_file):
            raise FileNotFoundError(f"{name}: no such file")
        with tf.io.gfile.GFile(self.vocab_file) as f:
            tokens = f.read().splitlines()
        check_vocabulary(tokens, self.reserved_tokens, name)
        path = os.path.join(output_dir, features.VOCAB_FILE)
        tf.io.gfile.makedirs(output_dir)
        with tf.io.gfile.GFile(path, "w") as f:
            f.write("".join(token + "\n" for token in tokens))
        return np.array(path.encode("utf-8"))


def check_vocabulary(tokens: list[str], reserved_tokens: list[str], name: str) -> None:
    """Raises ValueError naming the line of `tokens` that is not what a vocabulary of this pipeline needs."""
    for line, (token, reserved) in enumerate(zip(tokens, reserved_tokens, strict=False), start=1):
        if token != reserved:
            raise ValueError(
                f"{name}: line {line} is {token!r}; this pipeline needs {' '.join(reserved_tokens)} on lines "
                f"1-{len(reserved_tokens)} (the ids its features use)"
            )
    if len(tokens) <= len(reserved_tokens):
        raise ValueError(f"{name}: {len(tokens)} lines; a vocabulary needs tokens after {' '.join(reserved_tokens)}")
    seen = {}
    for line, token in enumerate(tokens, start=1):
        if not token or any(c.isspace() for c in token):
            raise ValueError(f"{name}: line {line} is {token!r}; every line must be one token without spaces")
        if token in seen:
            raise ValueError(f"{name}: line {line} repeats {token!r} of line {seen[token]}")
        seen[token] = line


def provided_vocab(words: tf.Tensor, vocab_file: str) -> tf.Tensor:
    """Analyzer: the asset path of the vocabulary file `vocab_file` (`ProvidedVocabulary`); `words` only tie it
    to the dataset, as the learned vocabulary's analyzer is."""
    (path,) = tft.experimental.ptransform_analyzer(
        inputs=[tf.unique(words)[0][:1]],
        ptransform=ProvidedVocabulary(vocab_file, features.SPECIAL_TOKENS),
        output_dtypes=[tf.string],
        output_shapes=[[]],
        output_asset_default_values=["\n".join(features.SPECIAL_TOKENS).encode("utf-8")],
        name="provided_vocab",
    )
    return path


CONTINUATION = "##"


def _repeated_words(word_counts: Iterable[tuple[str, int]], per_string: int = 10_000) -> Iterable[str]:
    """The trainer counts whitespace-separated words: each word repeated `count` times, in bounded strings."""
    for word, count in word_counts:
        full, rest = divmod(count, per_string)
        for _ in range(full):
            yield (word + " ") * per_string
        if rest:
            yield (word + " ") * rest


def alphabet(word_counts: list[tuple[str, int]], max_alphabet: int) -> list[str]:
    """The `max_alphabet` most frequent characters, ties broken by the character: the same every run.

    (Left to itself, the trainer breaks ties between equally frequent characters in hash-map order, which
    changes from run to run, and with it the vocabulary and every instance.)
    """
    counts: dict[str, int] = {}
    for word, count in word_counts:
        for char in word:
            counts[char] = counts.get(char, 0) + count
    return sorted(counts, key=lambda c: (-counts[c], c))[:max_alphabet]


def learn_vocabulary(
    word_counts: Iterable[tuple[str, int]], vocab_size: int, reserved_tokens: list[str], max_alphabet: int
) -> list[str]:
    """WordPiece vocabulary (tokens in id order) from (word, count) pairs of normalised words.

    The same counts give the same vocabulary, whatever their order.
    """
    word_counts = sorted(word_counts)
    chars = alphabet(word_counts, max_alphabet)
    # The trainer creates the `##` form of a character the first time it meets it inside a word, in
    # hash-map order, and breaks ties between equally frequent merges by those ids (tokenizers issue
    # #1794): giving it every `##` character up front, in a fixed order, fixes the ids.
    kept = set(chars)
    continuations = sorted({c for word, _ in word_counts for c in word[1:] if c in kept})
    tokenizer = Tokenizer(WordPiece(unk_token=features.UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=[*reserved_tokens, *(CONTINUATION + c for c in continuations)],
        min_frequency=1,
        limit_alphabet=len(chars),
        initial_alphabet=chars,
        continuing_subword_prefix=CONTINUATION,
        show_progress=False,
    )
    tokenizer.train_from_iterator(_repeated_words(word_counts), trainer=trainer)
    return [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]


def learn_wordpiece_vocab(words: tf.Tensor, vocab_size: int, max_alphabet: int) -> tf.Tensor:
    """Analyzer: the asset path of a WordPiece vocabulary learned from all `words` of the dataset.

    Args:
        words: 1-D string tensor of normalised words (see `tokenization.basic_tokenizer`).
        vocab_size: target size, special tokens (`features.SPECIAL_TOKENS`) included.
        max_alphabet: distinct characters kept in the vocabulary.
    """
    unique, _, counts = tf.unique_with_counts(words)
    (path,) = tft.experimental.ptransform_analyzer(
        inputs=[unique, tf.cast(counts, tf.int64)],
        ptransform=WordpieceVocabLearner(vocab_size, features.SPECIAL_TOKENS, max_alphabet),
        output_dtypes=[tf.string],
        output_shapes=[[]],
        output_asset_default_values=["\n".join(features.SPECIAL_TOKENS).encode("utf-8")],
        name="wordpiece_vocab",
    )
    return path
