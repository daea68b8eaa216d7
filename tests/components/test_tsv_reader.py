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


# Each bad file: its name, task and text, and what the error must say (file, line, what was expected).
BAD_FILES = {
    "too few columns": (
        "train.tsv",
        "mrpc",
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly one sentence\n",
        r"train.tsv:2: 4 tab-separated columns; mrpc rows have exactly 5",
    ),
    "too many columns, refused not shifted": (
        "dev.tsv",
        "rte",
        "index\tsentence1\tsentence2\tlabel\n0\tA cat\tsat.\tAn animal.\tentailment\n",
        r"dev.tsv:2: 5 tab-separated columns; rte rows have exactly 4 \(a tab",
    ),
    "unknown label": (
        "train.tsv",
        "sst2",
        "sentence\tlabel\nfine\t2\n",
        r"train.tsv:2: label '2' in column 2; sst2 labels are 0, 1",
    ),
    "missing header, not dropped as one": (
        "train.tsv",
        "sst2",
        "it 's great\t1\nbad .\t0\n",
        r"train.tsv:1: a data row where the header 'sentence\\tlabel' of sst2",
    ),
    "unexpected header": (
        "train.tsv",
        "sst2",
        "text\tlabel\nfine\t1\n",
        r"train.tsv:1: header 'text\\tlabel'; sst2 files start with",
    ),
    "a header where there is none": (
        "cola.tsv",
        "cola",
        "source\tlabel\tnote\tsentence\ngj04\t1\t\tFine.\n",
        r"cola.tsv:1: label 'label' in column 2; .* \(cola files have no header",
    ),
}


@pytest.mark.parametrize("name, task, text, expected", BAD_FILES.values(), ids=BAD_FILES)
def test_bad_input_names_file_line_and_expectation(tmp_path, name, task, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(GlueFormatError, match=expected):
        list(read_tsv(str(path), TASKS[task]))


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


def test_the_byte_order_mark_of_mrpcs_download_is_allowed(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA.\tB.\n".encode())
    (record,) = read_tsv(str(path), TASKS["mrpc"])
    assert (record.idx, record.sentence1, record.sentence2, record.label) == (0, "A.", "B.", 1)
