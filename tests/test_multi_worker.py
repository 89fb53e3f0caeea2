"""Two worker processes on localhost train under MultiWorkerMirroredStrategy (TF_CONFIG, ring
collectives on CPU): the command line and the library; only the chief writes the model
directory and the SavedModel export, both workers end with the same weights, and an
interrupted run resumes on both from the chief's checkpoint to the uninterrupted result.

``tests/multi_worker_job.py`` is the worker; both start together (a module fixture) and must
finish within ``TIMEOUT`` seconds: a worker that hangs (e.g. waiting for a peer's collective)
is killed and the test fails with both workers' output.
"""

import json
import os
import pathlib
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from kdtfrs import model_dir
from kdtfrs._keras import tf
from kdtfrs.provenance import DataSpec
from tests.multi_worker_job import EXPORT_K
from tests.run_helpers import save_untrained, write_csv

pytestmark = pytest.mark.slow

JOB = pathlib.Path(__file__).with_name("multi_worker_job.py")
TIMEOUT = 480
WORKERS = 2


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Runs the workers; yields (work folder, scratch folder, [(status, output)] per worker)."""
    work = tmp_path_factory.mktemp("multi_worker")
    scratch = work / "scratch"  # the workers' TMPDIR: where a non-chief writes
    scratch.mkdir()
    teacher = save_untrained(work / "teacher", write_csv(work / "events.csv", num_users=60),
                             dim=8, seed=1)
    addresses = [f"localhost:{port}" for port in free_ports(WORKERS)]
    processes = []
    for index in range(WORKERS):
        config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TMPDIR": str(scratch),
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        processes.append(subprocess.Popen(
            [sys.executable, str(JOB), str(work), str(teacher)], env=env, cwd=work,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    results = []
    try:
        for process in processes:
            output, _ = process.communicate(timeout=TIMEOUT)
            results.append((process.returncode, output))
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        outputs = [process.communicate()[0] for process in processes]
        pytest.fail(f"a worker did not finish within {TIMEOUT} s (a hung collective?); their "
                    "last output:\n" + "\n".join(f"--- worker {i}:\n{out[-3000:]}"
                                                 for i, out in enumerate(outputs)))
    yield work, scratch, results


def printed_metrics(output: str, model: pathlib.Path) -> list:
    """The metric lines a worker's command printed for ``model``."""
    block = output.split(f"test metrics ({model})\n", 1)[1]
    return [line for line in block.splitlines()[:6] if re.match(r"^ +(recall|ndcg)@", line)]


def test_every_worker_finishes(cluster):
    _, _, results = cluster
    for index, (status, output) in enumerate(results):
        assert status == 0, f"worker {index} exited with {status}:\n{output[-5000:]}"


def test_workers_end_with_identical_weights(cluster):
    work, _, _ = cluster
    chief, other = (np.load(work / f"weights-worker-{index}.npz") for index in range(WORKERS))
    assert chief.files == other.files
    for key in chief.files:
        np.testing.assert_array_equal(chief[key], other[key])


def test_logs_are_global_on_every_worker(cluster):
    """Each epoch is one step: its loss is the base loss plus the task's, as logged (Keras'
    default reduction of logs would have doubled the two trackers on 2 workers)."""
    work, _, _ = cluster
    logs = [{key: values for key, values in
             json.loads((work / f"history-worker-{index}.json").read_text()).items()
             if key.endswith("loss")} for index in range(WORKERS)]
    assert logs[0] == logs[1]
    np.testing.assert_allclose(logs[0]["loss"],
                               np.add(logs[0]["base_loss"], logs[0]["rrd_loss"]), rtol=1e-5)


def test_bidirectional_logs_are_global_on_every_worker(cluster):
    """Two untrained models (embeddings of scale 0.01) start at BPR's ln 2 on any batch: a
    log summed over the 2 workers would read 2 ln 2."""
    work, _, _ = cluster
    logs = [{key: values for key, values in
             json.loads((work / f"bd-history-worker-{index}.json").read_text()).items()
             if key.endswith("loss")} for index in range(WORKERS)]
    assert logs[0] == logs[1]
    for name in ("teacher_base_loss", "student_base_loss"):
        np.testing.assert_allclose(logs[0][name], [np.log(2.0)], atol=1e-3)


def test_only_the_chief_exports(cluster):
    work, scratch, _ = cluster
    targets = [(work / f"export-worker-{index}.txt").read_text() for index in range(WORKERS)]
    assert targets[0] == str(work / "export")
    assert pathlib.Path(targets[1]).parent.parent == scratch  # a temporary folder...
    assert not pathlib.Path(targets[1]).exists()  # ...removed with what it held
    assert not list(scratch.glob("kdtfrs-*"))  # the command's scratch output too
    assert [path.name for path in (work / "export").iterdir()] == ["1"]  # one SavedModel


def test_the_export_serves_the_trained_student(cluster):
    work, _, _ = cluster
    served = tf.saved_model.load(str(work / "export" / "1"))
    split = DataSpec(str(work / "events.csv")).load()
    weights = np.load(work / "weights-worker-0.npz")
    users = np.arange(5)
    scores = weights["users"][users] @ weights["items"].T
    train_users, train_items = split.train.to_pairs()
    trained = train_users < len(users)
    scores[train_users[trained], train_items[trained]] = -np.inf  # exclude=split.train
    expected = split.item_ids[np.argsort(-scores, axis=1)[:, :EXPORT_K]]
    answer = served.signatures["recommend"](user_id=tf.constant(split.user_ids[users]))
    np.testing.assert_array_equal(answer["item_ids"].numpy().astype(str), expected)


def test_the_command_line_writes_the_student_once_with_the_global_batch(cluster):
    work, scratch, results = cluster
    student = work / "cli-student"
    description = model_dir.describe(student)
    assert description["extra"]["distribution"] == {
        "strategy": "multi_worker", "replicas": WORKERS, "batch_size_per_replica": 8,
        "global_batch_size": 8 * WORKERS}
    assert sorted(path.name for path in work.iterdir() if "cli-student" in path.name) == [
        "cli-student"]  # no work area left behind
    metrics = [printed_metrics(output, student) for _, output in results]
    assert len(metrics[0]) == 6 and metrics[0] == metrics[1]  # the same weights evaluated


def test_an_interrupted_run_resumes_on_every_worker_to_the_uninterrupted_result(cluster):
    work, scratch, results = cluster
    split = DataSpec(str(work / "events.csv")).load()
    resumed = model_dir.load(work / "cli-resumed", split.train)
    uninterrupted = model_dir.load(work / "cli-student", split.train)
    for got, expected in zip(resumed.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    assert sorted(path.name for path in work.iterdir() if "cli-resumed" in path.name) == [
        "cli-resumed"]  # the work area is gone once the resumed run finishes
    assert not list(scratch.glob("kdtfrs-*"))  # and every worker's scratch output
    # the other worker restored the chief's checkpoint: both evaluate the same weights
    metrics = [printed_metrics(output, work / "cli-resumed") for _, output in results]
    assert len(metrics[0]) == 6 and metrics[0] == metrics[1]
