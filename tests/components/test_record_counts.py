"""Every data step counts the records it wrote, and the step after it fails when it read another number
(`components.record_counts`). Real TFX components and Beam on a bundled corpus file; a record is dropped inside a
step by a writer that loses one element, as a runner that drops elements at a shuffle would."""

import apache_beam as beam
import pytest
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from components import record_counts
from configs import presets
from configs.run_config import BeamConfig
from inspection import store
from pipeline.beam_options import beam_args
from pipeline.bert_pipeline import PipelinePaths, data_nodes
from tests.conftest import DATA_DIR

REAL_WRITE = beam.io.WriteToTFRecord


class _DropOneThen(beam.PTransform):
    """Drops the smallest element (so exactly one, whatever the order), then applies `then`."""

    def __init__(self, then: beam.PTransform):
        super().__init__()
        self.then = then

    def expand(self, pcoll):
        def all_but_the_smallest(keyed):
            values = sorted(keyed[1], key=lambda v: v if isinstance(v, bytes) else v.SerializeToString())
            return values[1:]

        return (
            pcoll
            | "KeyAll" >> beam.Map(lambda value: (0, value))
            | "Together" >> beam.GroupByKey()
            | "DropOne" >> beam.FlatMap(all_but_the_smallest)
            | "Write" >> self.then
        )


def dropping_write(path_part: str):
    """`beam.io.WriteToTFRecord` that loses one record of each file set whose path contains `path_part`."""

    def write(file_path_prefix, *args, **kwargs):
        real = REAL_WRITE(file_path_prefix, *args, **kwargs)
        return _DropOneThen(real) if path_part in str(file_path_prefix) else real

    return write


def run_data_part(root):
    """TextExampleGen -> StatisticsGen -> SchemaGen -> Transform -> InstanceStatisticsGen on one bundled file."""
    config = presets.load(
        "smoke",
        ["pipeline_name=counts", "corpus.input_pattern=wiki_00.gz", "corpus.documents_per_group=8"],
    )
    paths = PipelinePaths(str(DATA_DIR / "corpus"), "", str(root / "pipeline_root"), "")
    root.mkdir(parents=True, exist_ok=True)
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name=config.pipeline_name,
            pipeline_root=paths.pipeline_root,
            components=data_nodes(config, paths).components(),
            enable_cache=False,
            metadata_connection_config=store.sqlite_config(root / "metadata.sqlite"),
            beam_pipeline_args=beam_args(BeamConfig()),
        )
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("writer_path", "checking_step", "writing_step"),
    [
        ("/TextExampleGen/examples/", "StatisticsGen", "TextExampleGen"),
        ("/Transform/transformed_examples/", "InstanceStatisticsGen", "Transform"),
    ],
)
def test_a_record_lost_in_a_writer_stops_the_run_at_the_next_step(
    tmp_path, monkeypatch, writer_path, checking_step, writing_step
):
    monkeypatch.setattr(beam.io, "WriteToTFRecord", dropping_write(writer_path))
    with pytest.raises(record_counts.RecordsLostError) as failure:
        run_data_part(tmp_path)
    message = str(failure.value)
    assert message.startswith(f"{checking_step}: ") and f"but {writing_step} wrote" in message
    written = int(message.split("wrote ")[1].split(" ")[0].replace(",", ""))
    assert f"{checking_step}: {written - 1:,} records of split " in message, "one record short"
    if writing_step == "TextExampleGen":
        assert not (tmp_path / "pipeline_root" / "Transform").exists(), "nothing after the failed step ran"


def test_a_read_count_is_checked_against_what_the_step_before_wrote():
    examples = standard_artifacts.Examples()
    examples.uri = "/root/TextExampleGen/examples/3"
    record_counts.set_written(examples, {"train": 12, "eval": 2})
    assert record_counts.written(examples) == {"train": 12, "eval": 2}
    record_counts.check_read("Transform", examples, "train", 12, [])  # all there: no error
    record_counts.check_read("Transform", examples, "test", 5, [])  # a split the step before did not count
    with pytest.raises(record_counts.RecordsLostError, match=r"^Transform: 11 records of split train .* wrote 12 "):
        record_counts.check_read("Transform", examples, "train", 11, ["--direct_running_mode=multi_threading"])
    with pytest.raises(record_counts.RecordsLostError, match="added between"):
        record_counts.check_read("Transform", examples, "eval", 3, [])
    unrecorded = standard_artifacts.Examples()  # an older run's artifact: nothing to check against
    record_counts.check_read("Transform", unrecorded, "train", 1, [])
