"""Hyperparameter values as a user writes them: ``--param KEY=VALUE`` and ``--config`` files.

They are read as YAML (so ``true``, ``null`` and lists work), with one change: every number
with an exponent (``1e-3``, ``2E5``, ``5e+2``, ``1.5e3``) is a float. PyYAML follows YAML
1.1, whose floats need a dot and a signed exponent, so it reads ``1e-3`` as the string
"1e-3" and a task then refuses ``weight='1e-3'`` although the user wrote a number; YAML 1.2
and JSON read it as a number, and so does kdtfrs.
"""

from __future__ import annotations

import re

import yaml

_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads every exponent-form number as a float."""


# Appended after SafeLoader's own resolvers, which still decide everything they match.
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT,
                              list("-+0123456789."))


def load(text: str):
    """The YAML document ``text``, with ``1e-3``-style numbers as floats (module docstring).

    Raises ``yaml.YAMLError`` when ``text`` is not YAML.
    """
    return yaml.load(text, Loader=_Loader)
