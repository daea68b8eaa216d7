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


MNLI_DEV_HEADER = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
    "sentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
)


def test_mnli_official_dev_layout_has_three_classes(tmp_path):
    path = tmp_path / "dev_matched.tsv"
    rows = [
        ["0", "1", "1e", "fiction", "(", "(", "(", "(", "A man.", "A person.", "entailment"] + ["entailment"] * 5,
        ["1", "2", "2n", "slate", "(", "(", "(", "(", "A dog.", "A cat.", "neutral"] + ["neutral"] * 5,
        ["2", "3", "3c", "travel", "(", "(", "(", "(", "Hot.", "Cold.", "contradiction"] * 1 + ["contradiction"] * 5,
    ]
    path.write_text(MNLI_DEV_HEADER + "\n" + "".join("\t".join(row) + "\n" for row in rows))
    records = list(read_tsv(str(path), TASKS["mnli"]))
    assert [(r.sentence1, r.sentence2, r.label) for r in records] == [
        ("A man.", "A person.", 1),
        ("A dog.", "A cat.", 2),
        ("Hot.", "Cold.", 0),
    ]


def test_stsb_labels_are_float_scores(tmp_path):
    path = tmp_path / "dev.tsv"
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    path.write_text(f"{header}\n0\tg\tf\t2012\t1\tnone\tnone\tA man.\tA guy.\t4.750\n")
    (record,) = read_tsv(str(path), TASKS["stsb"])
    assert (record.sentence1, record.sentence2, record.label) == ("A man.", "A guy.", 4.75)
    assert isinstance(record.label, float)


def test_test_files_are_keyed_by_their_id_column(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("id\tquestion1\tquestion2\n7\tWhy?\tHow?\n12\tWho?\tWhom?\n")
    records = list(read_tsv(str(path), TASKS["qqp"], labelled=False))
    assert [(r.idx, r.sentence1, r.sentence2, r.label) for r in records] == [
        (7, "Why?", "How?", None),
        (12, "Who?", "Whom?", None),
    ]


def test_cola_train_has_no_header_and_its_test_file_has_one(tmp_path):
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode the sailors the.\n")
    test.write_text("index\tsentence\n0\tBill whistled.\n")
    assert [(r.sentence1, r.label) for r in read_tsv(str(train), TASKS["cola"])] == [
        ("The sailors rode.", 1),
        ("Rode the sailors the.", 0),
    ]
    assert [(r.idx, r.sentence1) for r in read_tsv(str(test), TASKS["cola"], labelled=False)] == [(0, "Bill whistled.")]


# Each bad file: its name, task, whether it is labelled, its text, and what the error must say (file, line,
# what was expected).
BAD_FILES = {
    "too few columns": (
        "train.tsv",
        "mrpc",
        True,
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly one sentence\n",
        r"train.tsv:2: 4 tab-separated columns; mrpc rows of this file have exactly 5",
    ),
    "too many columns, refused not shifted": (
        "dev.tsv",
        "rte",
        True,
        "index\tsentence1\tsentence2\tlabel\n0\tA cat\tsat.\tAn animal.\tentailment\n",
        r"dev.tsv:2: 5 tab-separated columns; rte rows of this file have exactly 4 \(a tab",
    ),
    "unknown label": (
        "train.tsv",
        "sst2",
        True,
        "sentence\tlabel\nfine\t2\n",
        r"train.tsv:2: label '2' in column 2; sst2 labels are 0, 1",
    ),
    "unknown MNLI label": (
        "dev_matched.tsv",
        "mnli",
        True,
        MNLI_DEV_HEADER + "\n" + "\t".join(["0"] * 8 + ["A.", "B."] + ["-"] * 6) + "\n",
        r"dev_matched.tsv:2: label '-' in column 16; mnli labels are contradiction, entailment, neutral",
    ),
    "score out of range": (
        "train.tsv",
        "stsb",
        True,
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tg\tf\ty\t0\tn\tn\tA.\tB.\t5.5\n",
        r"train.tsv:2: score '5.5' in column 10; stsb scores are numbers from 0 to 5",
    ),
    "missing header, not dropped as one": (
        "train.tsv",
        "sst2",
        True,
        "it 's great\t1\nbad .\t0\n",
        r"train.tsv:1: a data row where a header was expected; sst2 train/dev files start with a header naming "
        r"the columns 'sentence', 'label'",
    ),
    "unexpected header": (
        "train.tsv",
        "sst2",
        True,
        "text\tlabel\nfine\t1\n",
        r"train.tsv:1: header 'text\\tlabel' where a header was expected; .* \(missing: sentence\)",
    ),
    "test id that is not a number": (
        "test.tsv",
        "rte",
        False,
        "index\tsentence1\tsentence2\nx7\tA.\tB.\n",
        r"test.tsv:2: id 'x7' in column 'index'; expected an integer",
    ),
    "a header where there is none": (
        "cola.tsv",
        "cola",
        True,
        "source\tlabel\tnote\tsentence\ngj04\t1\t\tFine.\n",
        r"cola.tsv:1: label 'label' in column 2; .* \(cola files have no header",
    ),
}


@pytest.mark.parametrize("name, task, labelled, text, expected", BAD_FILES.values(), ids=BAD_FILES)
def test_bad_input_names_file_line_and_expectation(tmp_path, name, task, labelled, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(GlueFormatError, match=expected):
        list(read_tsv(str(path), TASKS[task], labelled=labelled))


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
        ("stsb", 5749, 1500),
        ("rte", 2490, 277),
        ("wnli", 635, 71),
        ("qnli", None, 5463),  # train: a 10% sample
        ("mnli", 48, 48),  # samples in the official layout
        ("qqp", 32, 32),
    ],
)
def test_full_glue_files_read_in_their_official_layout(task, train_rows, dev_rows):
    files = {f.split: SHARED_DATA_DIR / "glue" / f.path for f in TASKS[task].files}
    train = list(read_tsv(str(files["train"]), TASKS[task]))
    assert train_rows is None or len(train) == train_rows
    assert len(list(read_tsv(str(files["eval"]), TASKS[task]))) == dev_rows
    for glue_file in TASKS[task].test_files:
        path = SHARED_DATA_DIR / "glue" / glue_file.path
        if path.exists():
            ids = [record.idx for record in read_tsv(str(path), TASKS[task], labelled=False)]
            assert ids == list(range(len(ids))), "official test files number their rows from 0"


def test_the_byte_order_mark_of_mrpcs_download_is_allowed(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes("\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA.\tB.\n".encode())
    (record,) = read_tsv(str(path), TASKS["mrpc"])
    assert (record.idx, record.sentence1, record.sentence2, record.label) == (0, "A.", "B.", 1)
