"""The twelve ranking methods give the same losses as tasks as they did as ``kdtfrs.methods``.

The expected per-row weighted losses were computed by the last ``kdtfrs.methods`` code (commit
2f77d5f) on the fixtures of tests/tasks/conftest.py, the batch seed below and a refresh at
epoch 2 (RD's dynamic weights on), with the small hyperparameters of ``SMALL``.
"""

import numpy as np
import pytest

from kdtfrs import tasks
from kdtfrs.embeddings import Embeddings
from tests.tasks import task_checks as checks

SMALL = checks.SMALL_RANKING

METHODS_PER_ROW = {
    "kd": [
        2.26013327, 2.2971952, 2.39057779, 2.3060708, 2.54890442, 2.33654237, 2.19943666,
        2.31499171, 2.30338025, 2.26013327, 2.43003535, 2.26013327],
    "blackd": [
        0.121374883, 0.12058343, 0.123338066, 0.119115129, 0.11683289, 0.119032681, 0.119875006,
        0.121946476, 0.122673988, 0.121374883, 0.117724098, 0.121374883],
    "mse": [
        0.153984502, 0.0396033525, 0.201502815, 0.0884829983, 0.277054369, 0.0865916908,
        0.143245488, 0.0569789484, 0.10726665, 0.148471907, 0.186964437, 0.0701843277],
    "bce": [
        0.804889858, 0.707012117, 0.699293137, 0.743027687, 0.859962165, 0.686527908,
        0.688871324, 0.720718086, 0.714637876, 0.763289988, 0.740599751, 0.730379999],
    "rd": [
        0.0695654079, 0.0647360235, 0.048319608, 0.091793932, 0.0774552897, 0.0882482454,
        0.0784229487, 0.0818106607, 0.0835205093, 0.0699267387, 0.0627289861, 0.0699419081],
    "cd": [
        1.23827088, 0.987789273, 1.36411691, 1.11418808, 1.33938551, 1.16927302, 1.09875083,
        1.28009105, 1.15972912, 1.18812513, 1.11199343, 1.27790976],
    "rrd": [
        1.57450378, 1.27436066, 1.38184166, 1.12697577, 1.42537856, 1.22172832, 1.3598578,
        1.28814971, 1.28873575, 1.43230522, 1.2692374, 1.27352095],
    "ir_rrd": [
        0.0185495969, 0.0160152968, 0.020038195, 0.0177337416, 0.01932206, 0.0177840497,
        0.0169854295, 0.0190604702, 0.0185509715, 0.0175549984, 0.0167673118, 0.019106051],
    "sld": [
        0.0042722472, 0.00489388779, 0.00683237007, 0.00494179921, 0.00487483293, 0.00600375468,
        0.00448269304, 0.00444780523, 0.00635670265, 0.00519156689, 0.00350527163, 0.00682866154],
    "dcd": [
        0.123788774, 0.129832119, 0.135527223, 0.120390743, 0.147503808, 0.148868442,
        0.130158931, 0.129898354, 0.12788026, 0.134443313, 0.121999279, 0.134318009],
    "unkd": [
        0.505278289, 0.347801387, 0.218993053, 0.582284391, 0.478841007, 0.247389331,
        0.413341045, 0.338484049, 0.440248013, 0.283857703, 0.436922461, 0.190122828],
    "rce_kd": [
        1249.63123, 1192.95923, 939.125916, 928.862915, 1316.8125, 1210.50647, 852.896667,
        1223.71606, 1183.8689, 1270.72424, 886.746887, 1244.4679],
}


@pytest.mark.parametrize("method_id", sorted(SMALL))
def test_task_loss_equals_the_methods_loss(method_id, signals, train, student, features):
    task = tasks.get(method_id, **SMALL[method_id])
    task.prepare(signals, train, student)
    task.refresh(student, 2)
    embeddings = Embeddings.of(student, training=True)
    expected = np.array(METHODS_PER_ROW[method_id])
    np.testing.assert_allclose(task.weighted_loss(features, embeddings, checks.SEED).numpy(),
                               expected, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(task(features, embeddings, seed=checks.SEED).numpy(),
                               expected.mean(), rtol=2e-5)
    assert task.loss_tracker.result().numpy() == pytest.approx(expected.mean(), rel=2e-5)
