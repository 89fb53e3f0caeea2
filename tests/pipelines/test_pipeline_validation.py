"""End to end: corrupted input stops the pipeline at validation, with a readable message, and
nothing is trained or pushed. One run uses Beam's DirectRunner with two worker processes."""

import pytest

from components.data_validation_gate import DataValidationError
from kdtfrs.data import split_random, write_split_csv
from kdtfrs.data.synthetic import make_synthetic
from kdtfrs.experiment import BackboneSpec
from kdtfrs.fitting import FitConfig
from pipelines.commands import run_locally
from pipelines.run_summary import summarize

pytestmark = pytest.mark.slow

OPTIONS = dict(teacher=BackboneSpec(dim=8), student=BackboneSpec(dim=4),
               fit=FitConfig(epochs=1), scratch_baseline=False)


def _non_numeric_user(folder):
    path = folder / "train" / "interactions.csv"
    lines = path.read_text().splitlines()
    lines[3] = "user-17," + lines[3].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")


def _empty_test_split(folder):
    (folder / "test" / "interactions.csv").write_text("user_id,item_id,split\n")


@pytest.mark.parametrize("corrupt, beam_workers, expected", [
    (_non_numeric_user, 2, ["split 'train', feature 'user_id'", "must be an integer"]),
    (_empty_test_split, 1, ["split 'test' holds no interaction", "every split needs"]),
])
def test_corrupted_input_is_stopped_by_validation_and_nothing_is_pushed(
        tmp_path, corrupt, beam_workers, expected):
    data = make_synthetic(num_users=80, num_items=60, mean_interactions_per_user=10, seed=4)
    folder = write_split_csv(split_random(data), tmp_path / "data")
    corrupt(folder)
    output = tmp_path / "run"
    with pytest.raises(DataValidationError) as stopped:
        run_locally(output, str(folder), beam_workers=beam_workers, **OPTIONS)
    message = str(stopped.value)
    assert message.startswith("data validation stopped the pipeline")
    for text in expected:
        assert text in message
    executions = summarize(output / "metadata.sqlite").executions
    assert executions["DataValidationGate"] == "failed"
    assert not {"TeacherTrainer", "StudentTrainer", "Pusher"} & set(executions)
    assert not (output / "serving").exists()
