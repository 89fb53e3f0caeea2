"""kdtfrs.serving: the SavedModel answers as the in-memory student, through TF Serving's protos.

The TF Serving binary is not installable here: requests are built with tensorflow-serving-api's
protos (``predict_pb2``), read back with ``tf.make_ndarray`` and fed to the loaded signature,
as the server does; ``saved_model_cli run`` loads the export in another process.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

import kdtfrs
import kdtfrs.serving as serving
from kdtfrs.data.matrix import InteractionMatrix
from kdtfrs.models import BPRMF, LightGCN
from kdtfrs.ranking import top_k_items
from kdtfrs.serving.search import ClusteredSearch, ExactSearch
from tests.run_helpers import run, save_untrained, write_csv

NUM_USERS, NUM_ITEMS, DIM, K = 40, 300, 8, 20


def _train_matrix(seed=0, density=0.08):
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((NUM_USERS, NUM_ITEMS)) < density)
    return InteractionMatrix.from_pairs(users, items, NUM_USERS, NUM_ITEMS)


def _model(backbone, train):
    if backbone == "lightgcn":
        return LightGCN(NUM_USERS, NUM_ITEMS, DIM, train_matrix=train, num_layers=2, seed=3)
    return BPRMF(NUM_USERS, NUM_ITEMS, DIM, init_stddev=0.1, seed=3)


def _ids(kind):
    if kind == "string":
        return (np.array([f"user-{u}" for u in range(NUM_USERS)]),
                np.array([f"item-{i}" for i in range(NUM_ITEMS)]))
    return np.arange(NUM_USERS, dtype=np.int64) * 7 + 1000, np.arange(NUM_ITEMS) * 3 + 5


def _predict(loaded, request):
    """What TF Serving's Predict does: tensors out of the request, the signature, a response."""
    signature = loaded.signatures[request.model_spec.signature_name]
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    response = predict_pb2.PredictResponse()
    for name, value in signature(**inputs).items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def _raw(values):
    """Item ids as plain Python values (bytes decoded), for comparing with the raw ids."""
    return [[v.decode() if isinstance(v, bytes) else v for v in row] for row in values.tolist()]


@pytest.fixture(scope="module")
def train():
    return _train_matrix()


@pytest.fixture(scope="module", params=[("bpr_mf", "string", "float32"),
                                        ("lightgcn", "int", "float32"),
                                        ("bpr_mf", "int", "bfloat16")],
                ids=["bpr_mf-string-ids", "lightgcn-int-ids", "bpr_mf-bfloat16-pass"])
def exported(request, train, tmp_path_factory):
    backbone, kind, precision = request.param
    model = _model(backbone, train)
    ids = _ids(kind)
    path = serving.export_saved_model(model, tmp_path_factory.mktemp("export") / "student",
                                      ids=ids, k=K, exclude=train,
                                      search_options={"precision": precision})
    return model, ids, path, tf.saved_model.load(str(path))


def test_layout_and_model_card(exported, train):
    model, _, path, _ = exported
    assert path.name == "1" and (path / "saved_model.pb").is_file()
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["model"]["class"] == type(model).__name__
    assert card["model"]["embedding_dim"] == DIM
    assert card["serving"]["k"] == K and card["serving"]["exclude"] is True
    assert card["serving"]["excluded_pairs"] == train.nnz
    assert card["serving"]["cold_start"]["rule"] == "popularity"
    assert card["sizes"]["saved_model_bytes"] > card["sizes"]["item_table_bytes"]
    assert card["versions"]["tensorflow"] == tf.__version__
    assert not [p for p in path.parent.iterdir() if p.name != "1"]  # no work area left


def test_predict_requests_answer_as_the_in_memory_student(exported, train):
    model, ids, _, loaded = exported
    users = np.arange(NUM_USERS)
    expected_items, expected_scores = top_k_items(model, users, K, exclude=train)
    scores = np.array(model.score_all(users))
    scores[train.user_of_each_entry(), train.indices] = -np.inf
    reference = np.argsort(-scores, axis=1, kind="stable")[:, :K]  # NumPy, independently
    np.testing.assert_array_equal(expected_items, reference)
    for signature in ("serving_default", "recommend"):
        answer = _predict(loaded, serving.predict_request(signature, ids[0][users]))
        assert _raw(answer["item_ids"]) == ids[1][expected_items].tolist()
        np.testing.assert_allclose(answer["scores"], expected_scores, rtol=1e-5, atol=1e-6)
        assert not answer["is_fallback"].any()


def test_training_items_are_excluded(exported, train):
    _, ids, _, loaded = exported
    answer = loaded.signatures["recommend"](user_id=tf.constant(ids[0]))
    position = {value: index for index, value in enumerate(ids[1].tolist())}
    found = np.array([[position[v] for v in row] for row in _raw(answer["item_ids"].numpy())])
    keys = np.arange(NUM_USERS)[:, None] * NUM_ITEMS + found
    assert not np.isin(keys, train.keys()).any()


def test_unknown_users_get_the_most_popular_items_flagged(exported, train):
    _, ids, _, loaded = exported
    unknown = "nobody" if ids[0].dtype.kind == "U" else -1
    requested = np.array([ids[0][0], unknown], dtype=ids[0].dtype)
    answer = loaded.signatures["recommend"](user_id=tf.constant(requested))
    assert answer["is_fallback"].numpy().tolist() == [False, True]
    popular = np.argsort(-train.item_popularity(), kind="stable")[:K]
    assert _raw(answer["item_ids"].numpy())[1] == ids[1][popular].tolist()
    np.testing.assert_array_equal(answer["scores"].numpy()[1], train.item_popularity()[popular])


def test_warmup_records_parse_and_run(exported):
    _, _, path, loaded = exported
    records = serving.read_warmup(path / "assets.extra" / "tf_serving_warmup_requests")
    assert [r.predict_log.request.model_spec.signature_name for r in records] == [
        "serving_default", "serving_default", "recommend", "recommend"]
    for record in records:
        answer = _predict(loaded, record.predict_log.request)
        assert answer["item_ids"].shape[1] == K and not answer["is_fallback"].any()


def test_malformed_requests_get_clear_errors(exported):
    _, ids, _, loaded = exported
    with pytest.raises(tf.errors.InvalidArgumentError, match="parse"):
        loaded.signatures["serving_default"](examples=tf.constant([b"not a tf.Example"]))
    wrong = serving.user_examples([5] if ids[0].dtype.kind == "U" else ["five"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="user_id"):
        loaded.signatures["serving_default"](examples=tf.constant(wrong))
    missing = tf.train.Example().SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="user_id"):
        loaded.signatures["serving_default"](examples=tf.constant([missing]))
    other_type = tf.constant([1]) if ids[0].dtype.kind == "U" else tf.constant(["1"])
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        loaded.signatures["recommend"](user_id=other_type)


def test_saved_model_cli_runs_the_export(exported, tmp_path):
    _, ids, path, _ = exported
    users = ids[0][:2].tolist()
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run(
        [cli, "run", "--dir", str(path), "--tag_set", "serve", "--signature_def", "recommend",
         "--input_exprs", f"user_id={users!r}", "--outdir", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    saved = np.load(tmp_path / "item_ids.npy", allow_pickle=True)
    answer = tf.saved_model.load(str(path)).signatures["recommend"](
        user_id=tf.constant(ids[0][:2]))
    assert saved.tolist() == answer["item_ids"].numpy().tolist()


def test_the_distillers_student_exports(train, tmp_path):
    teacher = BPRMF(NUM_USERS, NUM_ITEMS, 16, init_stddev=0.1, seed=0)
    student = BPRMF(NUM_USERS, NUM_ITEMS, 4, init_stddev=0.1, seed=1)
    rrd = kdtfrs.tasks.RRD(num_interesting=5, num_uninteresting=5, max_rank=20)
    distiller = kdtfrs.Distiller(teacher, student, train, [rrd], seed=0)
    distiller.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    distiller.fit(kdtfrs.data.bpr_triples(train, 128, seed=0), epochs=1, verbose=0)
    ids = _ids("string")
    path = serving.export_saved_model(distiller.student, tmp_path, ids=ids, k=5)
    again = serving.export_saved_model(distiller, tmp_path, ids=ids, k=5)
    assert (path.name, again.name) == ("1", "2")
    users = np.arange(NUM_USERS)
    expected, _ = top_k_items(student, users, 5)
    for version in (path, again):
        answer = tf.saved_model.load(str(version)).signatures["recommend"](
            user_id=tf.constant(ids[0]))
        assert _raw(answer["item_ids"].numpy()) == ids[1][expected].tolist()
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["model"]["embedding_dim"] == 4  # the student, not the teacher


def test_versions_are_never_overwritten_unless_asked(train, tmp_path):
    model, ids = _model("bpr_mf", train), _ids("string")
    first = serving.export_saved_model(model, tmp_path, ids=ids, k=5, warmup_users=0)
    with pytest.raises(serving.ExportError, match="overwrite"):
        serving.export_saved_model(model, tmp_path, ids=ids, k=6, version=1)
    assert json.loads((first / "assets.extra" / "model_card.json").read_text())[
        "serving"]["k"] == 5
    serving.export_saved_model(model, tmp_path, ids=ids, k=6, version=1, overwrite=True)
    assert json.loads((first / "assets.extra" / "model_card.json").read_text())[
        "serving"]["k"] == 6
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "notes.txt").write_text("mine")
    with pytest.raises(serving.ExportError, match="not a SavedModel"):
        serving.export_saved_model(model, tmp_path, ids=ids, k=5, version=7, overwrite=True)
    assert (tmp_path / "7" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="raw user ids"):
        serving.export_saved_model(model, tmp_path, ids=(ids[0][:3], ids[1]), k=5)
    with pytest.raises(ValueError, match="k must be"):
        serving.export_saved_model(model, tmp_path, ids=ids, k=NUM_ITEMS + 1)
    (tmp_path / "file").write_text("")
    with pytest.raises(serving.ExportError, match="is a file"):
        serving.export_saved_model(model, tmp_path / "file", ids=ids, k=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "7", "file"]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("block_size", [None, 1, 8, 64, 512])
def test_exact_search_equals_a_full_top_k(block_size, precision):
    rng = np.random.default_rng(block_size or 0)
    items = rng.normal(size=(1001, 6)).astype(np.float32)
    queries = rng.normal(size=(4, 6)).astype(np.float32)
    counts = [0, 5, 300, 990]  # the last row keeps 11 allowed items, fewer than k
    rows = np.repeat(np.arange(4), counts)
    excluded = np.concatenate([rng.choice(1001, c, replace=False) for c in counts])
    found, scores = ExactSearch(items, 30, block_size, precision)(
        tf.constant(queries), tf.constant(rows, tf.int32), tf.constant(excluded, tf.int32))
    full = queries @ items.T
    full[rows, excluded] = -np.inf
    reference = np.argsort(-full, axis=1, kind="stable")[:, :30]
    allowed = np.isfinite(np.take_along_axis(full, reference, axis=1))
    np.testing.assert_array_equal(found.numpy()[allowed], reference[allowed])
    np.testing.assert_allclose(scores.numpy()[allowed], full[:, :][np.arange(4)[:, None],
                                                                      reference][allowed],
                               rtol=1e-5)
    last = found.numpy()[3]
    assert len(set(last)) == 30 and last.max() < 1001  # excluded fillers, never padding
    assert np.isinf(scores.numpy()[3][~allowed[3]]).all()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("num_items, block_size", [(1000, 8), (1000, 1000), (1001, 8)])
def test_exact_search_without_exclusions(num_items, block_size, precision):
    rng = np.random.default_rng(num_items)
    items = rng.normal(size=(num_items, 6)).astype(np.float32)
    queries = rng.normal(size=(5, 6)).astype(np.float32)
    found, scores = ExactSearch(items, 40, block_size, precision)(tf.constant(queries))
    full = queries @ items.T
    np.testing.assert_array_equal(found.numpy(), np.argsort(-full, axis=1)[:, :40])
    np.testing.assert_allclose(scores.numpy(), -np.sort(-full, axis=1)[:, :40], rtol=1e-5)


def test_bfloat16_pass_stays_exact_where_bfloat16_cannot_tell_the_items_apart():
    """Scores 1e-4 apart, far below bfloat16's resolution (about 1% here): the pass sees
    ties, the float32 rescoring of the blocks the bound keeps orders them exactly."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(1, 8)).astype(np.float32)
    items = np.concatenate([base + 1e-4 * rng.normal(size=(300, 8)),
                            rng.normal(size=(3000, 8)) - 3 * base]).astype(np.float32)
    items = items[rng.permutation(len(items))]
    queries = np.concatenate([base, rng.normal(size=(3, 8))]).astype(np.float32)
    search = ExactSearch(items, 50, 16, "bfloat16")
    found, scores = search(tf.constant(queries))
    approximate = (queries.astype(tf.bfloat16.as_numpy_dtype).astype(np.float32)
                   @ items.astype(tf.bfloat16.as_numpy_dtype).astype(np.float32).T)
    assert len(np.unique(approximate[0])) < len(items)  # bfloat16 merges scores
    full = queries.astype(np.float64) @ items.T.astype(np.float64)
    best = -np.sort(-full, axis=1)[:, :50]
    # The true top 50 (float32 rounding aside: clones 1e-6 apart may swap places).
    np.testing.assert_allclose(np.take_along_axis(full, found.numpy(), axis=1), best,
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), best, rtol=0, atol=1e-5)
    assert all(len(set(row)) == 50 for row in found.numpy())
    assert search.describe()["precision"] == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16"):
        ExactSearch(items, 5, precision="float16")


def test_bfloat16_pass_keeps_the_best_item_when_rounding_ranks_it_lower():
    """The true best item's bfloat16 score is below another's, or tied with one of a lower
    index (which of the two a CPU's bfloat16 product gives varies): only the error margin
    keeps its block (block_size 1, k 1: without the margin one block, the wrong one, is
    kept)."""
    rng = np.random.default_rng(21)
    items = (1.0 + 0.01 * rng.random((64, 4))).astype(np.float32)
    query = (rng.random((1, 4)) + 0.5).astype(np.float32)
    true = (query.astype(np.float64) @ items.T.astype(np.float64))[0]
    approximate = tf.cast(tf.matmul(tf.cast(query, tf.bfloat16),
                                    tf.cast(items.T, tf.bfloat16)), tf.float32).numpy()[0]
    best = int(np.argmax(true))
    assert int(np.argmax(approximate)) != best  # the case this test is about
    found, scores = ExactSearch(items, 1, 1, "bfloat16")(tf.constant(query))
    assert found.numpy().tolist() == [[best]]
    assert scores.numpy()[0, 0] == pytest.approx(true[best], rel=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 4, 64])
def test_clustered_search_scanning_every_cluster_is_exact(chunk_size):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(500, 6)).astype(np.float32)
    queries = rng.normal(size=(3, 6)).astype(np.float32)
    search = ClusteredSearch(items, 10, num_clusters=16, probes=16, chunk_size=chunk_size)
    rows = np.array([1, 1, 1, 2])
    excluded = np.concatenate([np.argsort(-(queries[1] @ items.T))[:3],
                               np.argsort(-(queries[2] @ items.T))[:1]])
    found, _ = search(tf.constant(queries), tf.constant(rows, tf.int32),
                      tf.constant(excluded, tf.int32))
    full = queries @ items.T
    full[rows, excluded] = -np.inf
    np.testing.assert_array_equal(found.numpy(), np.argsort(-full, axis=1)[:, :10])
    np.testing.assert_array_equal(search(tf.constant(queries))[0].numpy(),
                                  np.argsort(-(queries @ items.T), axis=1)[:, :10])
    few = ClusteredSearch(items, 10, num_clusters=16, probes=1)
    assert few.probes >= 1 and few(tf.constant(queries))[0].shape == (3, 10)


def test_export_model_dir_and_the_cli(tmp_path, capsys):
    csv = write_csv(tmp_path / "events.csv")
    save_untrained(tmp_path / "model", csv)
    export = tmp_path / "exports"
    assert run("export", "--model-dir", tmp_path / "model", "--output", export, "--k", 7) == 0
    assert "wrote" in capsys.readouterr().out
    card = json.loads((export / "1" / "assets.extra" / "model_card.json").read_text())
    assert card["dataset"]["dataset"] == str(csv.resolve()) and card["serving"]["exclude"]
    assert card["source"]["model_dir"] == str((tmp_path / "model").absolute())

    assert run("export", "--model-dir", tmp_path / "model", "--output", export,
               "--version", 1, "--k", 7) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert run("export", "--model-dir", tmp_path / "model", "--output", export, "--version", 1,
               "--overwrite", "--no-exclude-train", "--k", 3) == 0
    card = json.loads((export / "1" / "assets.extra" / "model_card.json").read_text())
    assert card["serving"]["k"] == 3 and not card["serving"]["exclude"]
    assert run("export", "--model-dir", tmp_path / "model", "--output", export, "--search",
               "clustered", "--precision", "bfloat16") == 2
    assert "--precision bfloat16 applies to --search exact only" in capsys.readouterr().err
    assert sorted(p.name for p in export.iterdir()) == ["1"]
    assert run("export", "--model-dir", tmp_path / "model", "--output", export, "--k", 7,
               "--precision", "bfloat16") == 0
    card = json.loads((export / "2" / "assets.extra" / "model_card.json").read_text())
    assert card["serving"]["precision"] == "bfloat16"

    from kdtfrs import model_dir
    from kdtfrs.provenance import DataSpec

    split = DataSpec(str(csv)).load()
    model = model_dir.load(tmp_path / "model")
    path = serving.export_model_dir(tmp_path / "model", tmp_path / "python", k=7)
    expected, _ = top_k_items(model, np.arange(split.num_users), 7, exclude=split.train)
    answer = tf.saved_model.load(str(path)).signatures["recommend"](
        user_id=tf.constant(split.user_ids))
    assert _raw(answer["item_ids"].numpy()) == split.item_ids[expected].tolist()
