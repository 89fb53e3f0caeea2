"""The one argument validator, kdtfrs.validation.check_number."""

import math

import pytest

from kdtfrs.validation import check_number


@pytest.mark.parametrize("value, kwargs, expected", [
    (1, {"above": 0}, 1.0), (0.5, {"above": 0}, 0.5), (0, {"minimum": 0}, 0.0),
    (3, {"integer": True, "minimum": 1}, 3), (-2.5, {}, -2.5),
])
def test_accepts(value, kwargs, expected):
    result = check_number("x", value, **kwargs)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value, kwargs", [
    (0, {"above": 0}), (-1e-9, {"minimum": 0}), (True, {}), (2.0, {"integer": True}),
    ("1", {}), (None, {}), (math.nan, {}), (math.inf, {"minimum": 0}), (0, {"integer": True,
                                                                             "minimum": 1}),
])
def test_refuses_with_the_name_and_the_value(value, kwargs):
    with pytest.raises(ValueError, match=rf"^`x` must be .*; received x={value!r}\.$"):
        check_number("x", value, **kwargs)
