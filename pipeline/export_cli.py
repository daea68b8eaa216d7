"""`bert-tfx export SOURCE --output DIR [--format hf|keras-hub|saved-model ...]`: any pre-trained encoder, in the
formats other libraries load (`models.encoder.export_formats`).

SOURCE is one of
- a run (its id as `bert-tfx runs` prints it, `latest`, or a unique part of it) or an artifact id: the run's
  Trainer model, or that Model artifact, read from the ML Metadata store (the same store options as the other
  commands);
- a folder: a Trainer Model artifact, an encoder checkpoint (`<model>/checkpoint`), or one of the Trainer's
  resumable checkpoint folders (`<pipeline root>/Trainer/checkpoints/<fingerprint>`, its latest checkpoint, or one
  `.../ckpt-<step>` of it), which also works for a run that was killed or is still training.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from configs import pipeline_contract as contract
from inspection import records

FORMAT_CHOICES = tuple(contract.EXPORT_FORMAT_DIRS)


def add_command(commands) -> argparse.ArgumentParser:
    export = commands.add_parser("export", help="export an encoder for Hugging Face, keras-hub or TF Serving")
    export.add_argument("source", help="run id, `latest`, Model artifact id, or a model or checkpoint folder")
    export.add_argument("--output", type=Path, required=True, help="folder for the formats (a subfolder each)")
    export.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMAT_CHOICES,
        default=None,
        help="a format to write (repeatable; default: all)",
    )
    export.add_argument(
        "--max-seq-length",
        type=int,
        default=None,
        help="tokens per text of the SavedModel (default: the run's; for a folder the store cannot name, --preset's)",
    )
    return export


def _is_training_checkpoint(path: Path) -> bool:
    return (path / "checkpoint").is_file() or Path(f"{path}.index").is_file()


def _sections(custom_config) -> dict | None:
    """The run config sections a Trainer execution's `custom_config` property holds."""
    if isinstance(custom_config, str) and custom_config.startswith("{"):
        return json.loads(custom_config)
    return custom_config if isinstance(custom_config, dict) else None


def trained_length(sections: dict | None) -> int | None:
    """The sequence length a model was trained at last: its Trainer's phase's (the `phase` key of a Trainer's
    `custom_config`), or the last phase's of a whole run config; None when the sections do not say."""
    if not sections or "data" not in sections:
        return None
    later = (sections.get("trainer") or {}).get("later_phases") or []
    number = sections.get(contract.TRAINER_PHASE_KEY, len(later) + 1)
    return later[number - 2]["max_seq_length"] if number > 1 else sections["data"].get("max_seq_length")


def resolve_source(source: str, reader_factory) -> tuple[Path, dict | None]:
    """The folder SOURCE names (a path as given, else the Model artifact of the run or artifact id in the store),
    and the run config sections of the Trainer that made it, when the store says."""
    path = Path(source)
    if path.exists() or Path(f"{source}.index").exists():
        return path, None
    reader: records.MetadataReader = reader_factory()
    if source.isdigit():
        artifact = reader.artifact(source)
        if artifact.type != "Model" or contract.node_kind(artifact.producer or "") != contract.TRAINER:
            raise ValueError(
                f"artifact {source} is a {artifact.type} of {artifact.producer}; export takes the Trainer's Model"
            )
        producer = reader.producer(artifact.id)
        return Path(artifact.uri), _sections(producer.properties.get("custom_config")) if producer else None
    run = reader.run(source)
    models = reader.run_artifacts(run).get(f"{contract.TRAINER}.{contract.MODEL}")
    if not models:
        raise LookupError(
            f"run {run.name} has no Trainer model (did its Trainer finish?); export one of its checkpoints instead: "
            f"<pipeline root>/{contract.TRAINER}/{contract.TRAINER_CHECKPOINTS_DIR}/<fingerprint>"
        )
    return Path(models[-1].uri), records.run_config_of(run.executions)


def encoder_checkpoint(folder: Path, scratch: str) -> tuple[str, dict | None]:
    """The encoder checkpoint folder for `folder`, writing it into `scratch` when `folder` is a training checkpoint;
    and the run config sections the Trainer had, when known."""
    from models.encoder import backbone as backbone_lib

    if (folder / backbone_lib.CONFIG_FILE).is_file():
        return str(folder), None
    if (folder / contract.ENCODER_CHECKPOINT_DIR / backbone_lib.CONFIG_FILE).is_file():
        return str(folder / contract.ENCODER_CHECKPOINT_DIR), None
    if not _is_training_checkpoint(folder):
        raise FileNotFoundError(
            f"{folder} is neither a Trainer model, an encoder checkpoint nor a training checkpoint folder"
        )
    import tensorflow as tf

    from models.pretraining import trainer_module

    checkpoint = tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else str(folder)
    training_dir = folder if folder.is_dir() else folder.parent
    inputs_file = training_dir / contract.TRAINER_INPUTS_FILE
    if checkpoint is None:
        raise FileNotFoundError(f"{folder} holds no readable checkpoint")
    if not inputs_file.is_file():
        raise FileNotFoundError(f"{inputs_file} is missing: the Trainer writes it beside its checkpoints")
    inputs = json.loads(inputs_file.read_text())
    trainer_module.export_encoder_at_checkpoint(checkpoint, inputs["custom_config"], inputs["transform_graph"], scratch)
    return scratch, _sections(inputs["custom_config"])


def main(args: argparse.Namespace, reader_factory) -> int:
    from models.encoder import export_formats

    folder, sections = resolve_source(args.source, reader_factory)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint, trainer_sections = encoder_checkpoint(folder, os.path.join(scratch, "encoder"))
        known = trained_length(sections or trainer_sections)
        max_seq_length = args.max_seq_length or known or args.preset_max_seq_length
        written = export_formats.export_checkpoint(
            checkpoint, str(args.output), max_seq_length, args.formats or FORMAT_CHOICES
        )
    print(f"Exported the encoder of {folder}:")
    for name, path in written.items():
        print(f"  {name:<12} {path}")
    return 0
