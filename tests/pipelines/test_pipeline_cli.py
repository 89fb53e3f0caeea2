"""``kdtfrs pipeline ...`` flags: documented defaults, and what is refused before any run."""

import pytest

from kdtfrs import cli


def _actions():
    parser = cli.build_parser(method_ids=["kd", "rrd"])
    pipeline = parser._subparsers._group_actions[0].choices["pipeline"]
    return pipeline._subparsers._group_actions[0].choices


def test_every_pipeline_option_says_its_default():
    formatter = cli._HelpFormatter("kdtfrs")
    for name, action_parser in _actions().items():
        for action in action_parser._actions:
            if not action.option_strings or action.required or action.nargs == 0:
                continue
            assert "default" in formatter._get_help_string(action), (name, action.dest)


def test_run_refuses_a_folder_that_holds_something_else(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["pipeline", "run", "--output", str(tmp_path)]) == cli.EXIT_USAGE
    assert "is not empty and holds no pipeline run" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_run_refuses_a_data_folder_without_the_three_splits(tmp_path, capsys):
    (tmp_path / "data" / "train").mkdir(parents=True)
    code = cli.main(["pipeline", "run", "--data", str(tmp_path / "data"),
                     "--output", str(tmp_path / "run")])
    assert code == cli.EXIT_USAGE
    assert "eval, test missing" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--param", "num_interesting=0"], "method 'rrd' with {'num_interesting': 0}"),
    (["--method", "kd", "--param", "speed=3"], "method 'kd' with {'speed': 3}"),
])
def test_run_refuses_bad_method_parameters(tmp_path, capsys, flags, message):
    assert cli.main(["pipeline", "run", "--output", str(tmp_path / "run"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "data").exists()
