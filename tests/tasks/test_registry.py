"""kdtfrs.tasks.get, configs and constructor validation of every method."""

import pytest

from kdtfrs import tasks
from kdtfrs.tasks import METHODS, RRD
from tests.tasks import task_checks as checks


def test_get_builds_with_hyperparameters_over_defaults():
    method = tasks.get("rrd", weight=0.2)
    assert isinstance(method, RRD)
    assert method.weight == 0.2 and method.num_interesting == 100  # KDs default kept
    assert method.name == "rrd"


def test_every_method_id_is_registered_under_its_own_id():
    assert sorted(METHODS) == ["bce", "blackd", "cd", "dcd", "de", "fitnet", "ftd", "htd",
                               "ir_rrd", "kd", "mse", "pckd_hybrid", "pckd_list", "pckd_pair",
                               "rce_kd", "rd", "rrd", "sld", "unkd", "vkd"]
    for method_id, cls in METHODS.items():
        assert cls.method_id == method_id
        assert tasks.get(method_id).name == method_id


def test_a_preset_builds_its_tasks_and_is_not_a_single_task():
    de, rrd = tasks.build("de_rrd")
    assert (de.method_id, rrd.method_id) == ("de", "rrd")
    assert tasks.build("rrd", weight=0.2)[0].weight == 0.2
    assert "de_rrd" in tasks.method_ids()
    with pytest.raises(ValueError, match=r"'de_rrd' is a preset .*kdtfrs.tasks.build"):
        tasks.get("de_rrd")
    assert set(tasks.describe([de, rrd])) == {"de", "rrd"}


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown distillation method 'rdd'.*'rrd'"):
        tasks.get("rdd")


def test_unknown_hyperparameter_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"bad hyperparameters for method 'rrd'.*topk.*help"):
        tasks.get("rrd", topk=10)


def test_bad_hyperparameter_value_names_the_argument():
    with pytest.raises(ValueError, match=r"`temperature` must be .* > 0; received temperature=-1"):
        tasks.get("kd", temperature=-1)


@pytest.mark.parametrize("method_id", sorted(METHODS))
def test_config_rebuilds_an_equal_method(method_id):
    method = tasks.get(method_id, weight=0.25, name=f"my_{method_id}")
    rebuilt = checks.assert_config_round_trip(method)
    assert rebuilt.name == f"my_{method_id}" and rebuilt.weight == 0.25
    assert type(rebuilt).__name__ == type(method).__name__


@pytest.mark.parametrize("method_id, hyperparameters, argument", [
    ("rrd", {"weight": -0.1}, "weight"),
    ("rrd", {"num_interesting": 0}, "num_interesting"),
    ("rrd", {"num_uninteresting": 2.5}, "num_uninteresting"),
    ("kd", {"num_items": True}, "num_items"),
    ("cd", {"temperature": 0}, "temperature"),
    ("rd", {"dynamic_start_epoch": -1}, "dynamic_start_epoch"),
    ("rd", {"mu": "0.1"}, "mu"),
    ("ir_rrd", {"item_weight": -1.0}, "item_weight"),
    ("ir_rrd", {"item_interesting": 0}, "item_interesting"),
    ("dcd", {"max_rank": 0}, "max_rank"),
    ("unkd", {"num_groups": 0}, "num_groups"),
    ("unkd", {"group_weight_exponent": -1.0}, "group_weight_exponent"),
    ("rce_kd", {"beta": -2.0}, "beta"),
    ("rce_kd", {"max_count": 1.5}, "max_count"),
    ("blackd", {"rank_temperature": 0.0}, "rank_temperature"),
    ("bce", {"label_temperature": 0}, "label_temperature"),
])
def test_constructor_errors_name_the_argument(method_id, hyperparameters, argument):
    value = next(iter(hyperparameters.values()))
    with pytest.raises(ValueError, match=rf"^`{argument}` must be .*received {argument}={value!r}"):
        tasks.get(method_id, **hyperparameters)


def test_the_tensorflow_free_id_list_is_the_registry():
    from kdtfrs.method_ids import METHOD_IDS
    assert tasks.method_ids() == METHOD_IDS
