"""The two-tower example of docs/methods.md runs as written: a plain tfrs.Model distils."""

import pathlib
import re

import numpy as np

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "methods.md"


def example_source():
    text = DOC.read_text()
    section = text[text.index("**Your own TFRS model.**"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_two_tower_model_distils_with_a_task_beside_retrieval():
    namespace = {}
    exec(compile(example_source(), str(DOC), "exec"), namespace)  # noqa: S102 (our own doc)
    history, model, teacher = namespace["history"], namespace["model"], namespace["teacher"]
    assert np.all(np.isfinite(history.history["rrd_loss"])) and history.history["rrd_loss"][0] > 0
    assert np.all(np.isfinite(history.history["loss"]))
    trained = {v.ref() for v in model.trainable_variables}
    assert {v.ref() for v in model.user_tower.trainable_variables} <= trained
    assert not any(v.ref() in trained for v in teacher.variables)
