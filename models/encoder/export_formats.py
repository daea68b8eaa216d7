"""Writes an encoder checkpoint in the formats other libraries load: Hugging Face, a keras-hub preset, and the
raw-text SavedModel, a folder each (`configs.pipeline_contract.EXPORT_FORMAT_DIRS`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from configs.pipeline_contract import EXPORT_FORMAT_DIRS
from models.encoder import backbone as backbone_lib
from models.encoder import hf_format, keras_hub_format, text_encoder

FORMATS = tuple(EXPORT_FORMAT_DIRS)


def export_checkpoint(
    checkpoint_dir: str, output_dir: str, max_seq_length: int, formats: Sequence[str] = FORMATS
) -> dict[str, str]:
    """Exports the encoder checkpoint in `checkpoint_dir` (`models.encoder.backbone`) into `output_dir`.

    Args:
        checkpoint_dir: an encoder checkpoint folder; its pre-training heads go into the Hugging Face and
            keras-hub formats when it has them.
        output_dir: where the format folders go.
        max_seq_length: tokens per text of the raw-text SavedModel.
        formats: some of `FORMATS`.

    Returns:
        each format's folder.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export format {', '.join(unknown)}; the formats are {', '.join(FORMATS)}")
    backbone, vocab_path, lower_case = backbone_lib.load_checkpoint(checkpoint_dir)
    heads = backbone_lib.load_heads(checkpoint_dir)
    written = {name: os.path.join(output_dir, EXPORT_FORMAT_DIRS[name]) for name in formats}
    if "hf" in written:
        hf_format.write_hf_model(backbone, heads, vocab_path, lower_case, written["hf"])
    if "keras-hub" in written:
        keras_hub_format.write_keras_hub_preset(backbone, heads, vocab_path, lower_case, written["keras-hub"])
    if "saved-model" in written:
        text_encoder.export_text_encoder(backbone, vocab_path, lower_case, max_seq_length, written["saved-model"])
    return written
