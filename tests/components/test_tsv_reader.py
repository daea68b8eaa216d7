import pytest

from components.glue_example_gen.tsv_reader import GlueFormatError, read_tsv
from configs.glue_tasks import TASKS
from tests.conftest import DATA_DIR, SHARED_DATA_DIR


def test_single_sentence_task_reads_label_and_text(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\nit \'s "great" \t1\nbad .\t0\n')
    records = list(read_tsv(str(path), TASKS["sst2"]))
    assert [(r.idx, r.sentence1, r.sentence2, r.label) for r in records] == [
        (0, 'it \'s "great" ', "", 1),
        (1, "bad .", "", 0),
    ]


def test_pair_task_with_string_labels(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text(
        "index\tsentence1\tsentence2\tlabel\n0\tA cat.\tAn animal.\tentailment\n1\tA.\tB.\tnot_entailment\n"
    )
    records = list(read_tsv(str(path), TASKS["rte"]))
    assert [(r.sentence1, r.sentence2, r.label) for r in records] == [("A cat.", "An animal.", 1), ("A.", "B.", 0)]


def test_too_few_columns_names_file_line_and_expectation(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly one sentence\n")
    with pytest.raises(GlueFormatError, match=r"train.tsv:2: 4 tab-separated columns; mrpc rows have exactly 5"):
        list(read_tsv(str(path), TASKS["mrpc"]))


def test_unknown_label_is_reported(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\nfine\t2\n")
    with pytest.raises(GlueFormatError, match=r"train.tsv:2: label '2' in column 2; sst2 labels are 0, 1"):
        list(read_tsv(str(path), TASKS["sst2"]))


@pytest.mark.parametrize("task, dev_rows", [("sst2", 872), ("mrpc", 408)])
def test_bundled_samples_hold_full_dev_sets(task, dev_rows):
    directory = DATA_DIR / "glue" / TASKS[task].directory
    assert len(list(read_tsv(str(directory / "dev.tsv"), TASKS[task]))) == dev_rows
    assert len(list(read_tsv(str(directory / "train.tsv"), TASKS[task]))) >= 1000


@pytest.mark.skipif(not SHARED_DATA_DIR.exists(), reason="needs ../shared/data")
@pytest.mark.parametrize(
    "task, train_rows, dev_rows",
    [
        ("cola", 8551, 1043),
        ("sst2", 67349, 872),
        ("mrpc", 3668, 408),
        ("rte", 2490, 277),
        ("wnli", 635, 71),
    ],
)
def test_full_glue_files_have_official_sizes(task, train_rows, dev_rows):
    directory = SHARED_DATA_DIR / "glue" / TASKS[task].directory
    assert len(list(read_tsv(str(directory / "train.tsv"), TASKS[task]))) == train_rows
    assert len(list(read_tsv(str(directory / "dev.tsv"), TASKS[task]))) == dev_rows


def test_too_many_columns_are_refused_not_shifted(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("index\tsentence1\tsentence2\tlabel\n0\tA cat\tsat.\tAn animal.\tentailment\n")
    with pytest.raises(GlueFormatError, match=r"dev.tsv:2: 5 tab-separated columns; rte rows have exactly 4 \(a tab"):
        list(read_tsv(str(path), TASKS["rte"]))


def test_a_missing_header_is_reported_not_dropped_as_one(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("it 's great\t1\nbad .\t0\n")
    with pytest.raises(GlueFormatError, match=r"train.tsv:1: a data row where the header 'sentence\\tlabel' of sst2"):
        list(read_tsv(str(path), TASKS["sst2"]))


def test_an_unexpected_header_is_named(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\nfine\t1\n")
    with pytest.raises(GlueFormatError, match=r"train.tsv:1: header 'text\\tlabel'; sst2 files start with"):
        list(read_tsv(str(path), TASKS["sst2"]))
    cola = tmp_path / "cola.tsv"
    cola.write_text("source\tlabel\tnote\tsentence\ngj04\t1\t\tFine.\n")
    with pytest.raises(GlueFormatError, match=r"cola.tsv:1: label 'label' in column 2; .* \(cola files have no header"):
        list(read_tsv(str(cola), TASKS["cola"]))


def test_the_byte_order_mark_of_mrpcs_download_is_allowed(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA.\tB.\n".encode())
    (record,) = read_tsv(str(path), TASKS["mrpc"])
    assert (record.idx, record.sentence1, record.sentence2, record.label) == (0, "A.", "B.", 1)
