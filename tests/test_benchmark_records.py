"""benchmarks/records.py: the claims that keep one run's checkpoints from another's."""

import pytest

from benchmarks.records import CLAIM_FILE, claim_checkpoint, release_checkpoint


def test_a_claimed_directory_refuses_other_settings_and_is_left_as_it_was(tmp_path):
    directory = claim_checkpoint(tmp_path / "rrd-0", {"weight": 10.0})
    (directory / "epoch-00003").mkdir()
    with pytest.raises(SystemExit, match="holds the state of a run"):
        claim_checkpoint(directory, {"weight": 0.1})
    assert sorted(p.name for p in directory.iterdir()) == sorted([CLAIM_FILE, "epoch-00003"])
    assert claim_checkpoint(directory, {"weight": 10.0}) == directory  # its own run resumes


def test_a_released_claim_lets_a_run_of_other_settings_start(tmp_path):
    directory = claim_checkpoint(tmp_path / "rrd-0", {"weight": 10.0})
    release_checkpoint(directory)
    assert not directory.exists()
    claim_checkpoint(directory, {"weight": 0.1})


def test_release_leaves_a_directory_that_still_holds_state(tmp_path):
    directory = claim_checkpoint(tmp_path / "rrd-0", {"weight": 10.0})
    (directory / "epoch-00003").mkdir()
    release_checkpoint(directory)
    assert sorted(p.name for p in directory.iterdir()) == sorted([CLAIM_FILE, "epoch-00003"])
    with pytest.raises(SystemExit):
        claim_checkpoint(directory, {"weight": 0.1})
