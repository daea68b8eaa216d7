"""GlueExampleGen's executor with real Beam: a split per file, STS-B scores, test ids, missing optional files."""

import glob
import shutil

import pytest
import tensorflow as tf

from components.glue_example_gen.component import GlueExampleGen
from components.glue_example_gen.tsv_reader import GlueFormatError
from models import features
from tests.components.example_gens import run_executor
from tests.conftest import DATA_DIR, SHARED_DATA_DIR


def run_example_gen(glue_dir, task, out_dir):
    return run_executor(GlueExampleGen(glue_dir=str(glue_dir), task=task), out_dir)


def read_split(uri, split) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(f"{uri}/Split-{split}/*")):
        for raw in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            feature = tf.train.Example.FromString(raw.numpy()).features.feature
            rows.append({name: feature[name] for name in feature})
    return rows


def test_every_file_becomes_its_split_and_a_missing_test_file_an_empty_one(tmp_path):
    glue = tmp_path / "glue"
    shutil.copytree(DATA_DIR / "glue" / "MRPC", glue / "MRPC")
    (glue / "MRPC" / "test.tsv").unlink()
    examples = run_example_gen(glue, "mrpc", tmp_path / "out")
    assert len(read_split(examples.uri, "train")) == 1000 and len(read_split(examples.uri, "eval")) == 408
    assert read_split(examples.uri, "test") == []


def test_test_split_keeps_ids_and_has_no_label(tmp_path):
    examples = run_example_gen(DATA_DIR / "glue", "sst2", tmp_path / "out")
    test = read_split(examples.uri, "test")
    assert sorted(r[features.GLUE_IDX].int64_list.value[0] for r in test) == list(range(1821))
    assert all(features.GLUE_LABEL not in r for r in test)
    assert all(r[features.GLUE_LABEL].int64_list.value[0] in (0, 1) for r in read_split(examples.uri, "eval"))


@pytest.mark.skipif(not SHARED_DATA_DIR.exists(), reason="needs ../shared/data")
def test_stsb_scores_are_float_labels(tmp_path):
    examples = run_example_gen(SHARED_DATA_DIR / "glue", "stsb", tmp_path / "out")
    scores = [r[features.GLUE_LABEL].float_list.value[0] for r in read_split(examples.uri, "eval")]
    assert len(scores) == 1500 and min(scores) == 0.0 and max(scores) == 5.0


def test_a_missing_dev_file_and_a_bad_row_fail_naming_them(tmp_path):
    glue = tmp_path / "glue"
    (glue / "RTE").mkdir(parents=True)
    (glue / "RTE" / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n")
    with pytest.raises(FileNotFoundError, match="no file matches .*RTE/dev.tsv"):
        run_example_gen(glue, "rte", tmp_path / "out1")
    (glue / "RTE" / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tmaybe\n")
    with pytest.raises(GlueFormatError, match="dev.tsv:2: label 'maybe' in column 4"):
        run_example_gen(glue, "rte", tmp_path / "out2")


@pytest.mark.parametrize("emptied", ["train.tsv", "dev.tsv"])
@pytest.mark.parametrize("content", ["", "index\tsentence1\tsentence2\tlabel\n"])
def test_an_empty_train_or_dev_file_fails_naming_it(tmp_path, emptied, content):
    """An empty train.tsv trained on nothing and the run ended with exit 0; an empty dev.tsv crashed after
    fine-tuning (KeyError 'eval'). A test file may be empty: its split is then empty."""
    glue = tmp_path / "glue"
    (glue / "RTE").mkdir(parents=True)
    rows = "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n"
    for name in ("train.tsv", "dev.tsv"):
        (glue / "RTE" / name).write_text(content if name == emptied else rows)
    (glue / "RTE" / "test.tsv").write_text("index\tsentence1\tsentence2\n")
    with pytest.raises(GlueFormatError, match=rf"RTE/{emptied}: the file holds .*no data row; rte needs examples"):
        run_example_gen(glue, "rte", tmp_path / "out")
