"""Hyperparameter values as written on the command line and in --config files."""

import argparse

import pytest
import yaml

from kdtfrs import config_values
from kdtfrs.commands import _parse_params


@pytest.mark.parametrize("text, value", [
    ("1e-3", 1e-3), ("2E5", 2e5), ("-5e+2", -500.0), ("1.5e3", 1500.0), (".5e-1", 0.05),
    ("5", 5), ("1.5", 1.5), ("-0.25", -0.25), ("true", True), ("null", None),
    ("[1, 2e-1]", [1, 0.2]), ("paper", "paper"), ("1e", "1e"), ("e5", "e5"),
])
def test_values_read_as_yaml_with_exponent_numbers_as_floats(text, value):
    loaded = config_values.load(text)
    assert loaded == value and type(loaded) is type(value)


def test_pyyaml_itself_is_left_as_it_is():
    config_values.load("1e-3")
    assert yaml.safe_load("1e-3") == "1e-3"


def test_config_files_and_params_read_numbers_alike(tmp_path):
    config = tmp_path / "rrd.yaml"
    config.write_text("weight: 1e-3\nmax_rank: 500\n")
    args = argparse.Namespace(config=str(config), param=["temperature=1e1", "weight=2e-3"])
    assert _parse_params(args) == {"weight": 2e-3, "max_rank": 500, "temperature": 10.0}
    with pytest.raises(ValueError, match="--param 'weight=\\[1': the value is not YAML"):
        _parse_params(argparse.Namespace(config=None, param=["weight=[1"]))
