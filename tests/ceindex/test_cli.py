"""papertools ceindex through its command line: records, messages, exit statuses, pipes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import EXAMPLES, invoke, jsonl, shell

SMALL = EXAMPLES / "ceindex" / "small"
ITEMS, TRAIN, TEST = (str(SMALL / n) for n in ("items.jsonl", "train.jsonl", "test.jsonl"))


def ce(*args, input=None):
    return invoke(["ceindex", *args], input=input)


@pytest.fixture(scope="module")
def index(tiny_models, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "index"
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(path), "--de", tiny_models["de"],
             "--ce", tiny_models["ce"], "--k-d", "8", "--variant", "trns", "--variant", "ind",
             "--cur-queries", "5", "--epochs", "2", "--device", "cpu")
    assert run.exit_code == 0, run.stderr
    assert "indexed 50 items with 42 training queries: 336 CE calls for G (k_d=8), " \
           "250 for CUR anchors" in run.stderr
    return str(path)


def test_build_writes_the_index_folder(index, tiny_models):
    meta = json.loads(open(f"{index}/index.json").read())
    assert meta["ce"] == tiny_models["ce"] and meta["de"] == tiny_models["de"]
    assert meta["ce_calls"]["sparse"] == 8 * 42 and meta["ce_calls"]["cur"] == 5 * 50
    assert meta["variants"]["ind"]["epochs"] == 2 and meta["default_variant"] == "trns"
    assert np.load(f"{index}/emb_ind.npy").shape == (50, 32)
    lines = open(f"{index}/scores.jsonl").read().splitlines()
    assert len(lines) == 42 and len(json.loads(lines[0])["items"]) == 8


def test_search_records(index):
    run = ce("search", TEST, "-i", index, "-B", "12", "-R", "3", "-k", "4", "--device", "cpu")
    assert run.exit_code == 0, run.stderr
    recs = run.records
    assert len(recs) == 8
    first = recs[0]
    assert first["id"] == "q:json.decoder.py_scanstring" and first["gold_id"]  # fields travel on
    assert first["ce_calls"] == 12 and first["rounds"] == [4, 4, 4] and first["method"] == "axn:trns"
    assert len(first["neighbors"]) == 4
    scores = [n["score"] for n in first["neighbors"]]
    assert scores == sorted(scores, reverse=True)
    assert "12 CE calls per query" in run.stderr


def test_search_is_deterministic_and_methods_differ(index):
    args = [TEST, "-i", index, "-B", "10", "-R", "2", "--init", "random", "-q", "--device", "cpu"]
    a, b = ce("search", *args, "--seed", "1"), ce("search", *args, "--seed", "1")
    c = ce("search", *args, "--seed", "2")
    assert a.stdout == b.stdout != c.stdout
    for method in ("rnr", "anncur", "adacur", "axn:ind"):
        run = ce("search", TEST, "-i", index, "--method", method, "-B", "10", "-R", "2", "-q")
        assert run.exit_code == 0, run.stderr
        assert {r["ce_calls"] for r in run.records} == {10}


def test_eval_table_plot_and_results(index, tmp_path):
    png, res = tmp_path / "r.png", tmp_path / "r.json"
    run = ce("eval", TEST, "-i", index, "-B", "10,20", "-k", "1,5", "-R", "2", "--plot", str(png),
             "--results", str(res), "--exact-cache", str(tmp_path / "exact.npz"))
    assert run.exit_code == 0, run.stderr
    ids = [r["id"] for r in run.records]
    assert ids == ["axn:trns@10", "axn:trns@20", "rnr@10", "rnr@20", "anncur@10", "anncur@20",
                   "adacur@10", "adacur@20"]
    assert all(0 <= r["recall"]["5"] <= 1 for r in run.records)
    assert "Top-5-R@B" in run.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads(res.read_text())["rows"]) == 8
    again = ce("eval", TEST, "-i", index, "-B", "10,20", "-k", "1,5", "-R", "2", "-q",
               "--exact-cache", str(tmp_path / "exact.npz"))
    assert [r["recall"] for r in again.records] == [r["recall"] for r in run.records]


def test_maxsim_scorer_through_the_cli(tiny_models, tmp_path):
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(tmp_path / "m"), "--de", tiny_models["de"],
             "--ce", f"maxsim:{tiny_models['de']}@1", "--k-d", "4", "--epochs", "1", "-q")
    assert run.exit_code == 0, run.stderr
    run = ce("search", TEST, "-i", str(tmp_path / "m"), "-B", "6", "-R", "2", "-q")
    assert run.exit_code == 0 and len(run.records) == 8


# -- bad input: one clear line, exit 1 (usage errors exit 2) -------------------------------------

def _err(run):
    assert run.exit_code == 1, (run.exit_code, run.stderr)
    lines = run.stderr.strip().splitlines()
    return lines[-1]


def test_missing_and_mistyped_fields(tiny_models, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_bytes(jsonl([{"id": "a", "text": "one"}, {"id": "b"}]))
    run = ce("build", TRAIN, "--items", str(items), "-i", str(tmp_path / "x"), "--de",
             tiny_models["de"], "--ce", tiny_models["ce"])
    assert _err(run) == f"papertools ceindex: error: {items}:2: field 'text': missing field"
    items.write_bytes(jsonl([{"id": "a", "text": 3}]))
    run = ce("build", TRAIN, "--items", str(items), "-i", str(tmp_path / "x"), "--ce", "x")
    assert _err(run).endswith(f"{items}:1: field 'text': expected a string, got a number")
    items.write_bytes(jsonl([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]))
    run = ce("build", TRAIN, "--items", str(items), "-i", str(tmp_path / "x"), "--ce", "x")
    assert "items.jsonl:2: field 'id': item id 'a' repeats" in _err(run)


def test_query_errors(index, tmp_path):
    run = ce("search", "-i", index, input=b'{"id": "q", "txt": "hello"}\n')
    assert _err(run) == "papertools ceindex: error: <stdin>:1: field 'text': missing field"
    run = ce("search", "-i", index, input=b'{"id": "q", "text": "hi"}\nnot json\n')
    assert "<stdin>:2: not valid JSON" in _err(run)
    leak = open(TRAIN).readline()
    run = ce("search", "-i", index, input=leak.encode())
    assert "<stdin>:1: field 'text': this query is one of the index's training queries" in _err(run)


def test_budget_smaller_than_rounds(index):
    run = ce("search", TEST, "-i", index, "-B", "3", "-R", "5")
    assert _err(run) == ("papertools ceindex: error: budget 3 is smaller than the number of "
                         "rounds 5: every round needs at least one CE call")
    run = ce("eval", TEST, "-i", index, "-B", "3,10", "-R", "5")
    assert "budget 3 is smaller than the number of rounds 5" in _err(run)


def test_index_built_with_another_de_or_ce(index, tiny_models):
    run = ce("search", TEST, "-i", index, "--de", tiny_models["de2"])
    assert "was built with another dual encoder" in _err(run)
    run = ce("search", TEST, "-i", index, "--ce", "maxsim:minilm")
    assert "was built for the CE" in _err(run)


def test_not_an_index_and_bad_scorer(tmp_path, tiny_models):
    run = ce("search", TEST, "-i", str(tmp_path))
    assert _err(run).endswith("not an index folder")
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(tmp_path / "y"), "--scorer", "nomod:f")
    assert "--scorer 'nomod:f': cannot import 'nomod'" in _err(run)
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(tmp_path / "y"))
    assert "a cross-encoder is needed" in _err(run)
    run = ce("search", TEST, "-i", str(tmp_path / "missing"))
    assert run.exit_code == 2


def test_existing_folder_needs_resume_or_overwrite(index, tiny_models):
    run = ce("build", TRAIN, "--items", ITEMS, "-i", index, "--de", tiny_models["de"],
             "--ce", tiny_models["ce"], "-q")
    assert "is not empty: --resume" in _err(run)


def test_on_error_skip_reports_and_exits_1(index):
    data = open(TEST, "rb").read() + b'{"id": "bad"}\n'
    run = ce("search", "-i", index, "-B", "6", "-R", "2", "--on-error", "skip", "-q", input=data)
    assert run.exit_code == 1 and len(run.records) == 8
    assert "<stdin>:9: field 'text': missing field (skipped)" in run.stderr


def test_shipped_index_with_the_packaged_minilm(minilm):
    run = ce("search", TEST, "-i", str(SMALL / "index"), "-B", "8", "-R", "2", "-k", "1", "-q")
    assert run.exit_code == 0, run.stderr
    hits = sum(r["neighbors"][0]["id"] == r["gold_id"] for r in run.records)
    assert hits >= 4  # the summary's own docstring is most often the CE's best among 8


def test_maxsim_self_score_is_the_token_count(minilm):
    from papertools.cli.ceindex.scorers import MaxSimScorer

    scorer = MaxSimScorer("minilm")
    text = "Return the sum of two numbers."
    n_tokens = scorer.states(text).shape[0]
    s = scorer.score([text, text], [text, "An unrelated sentence about trains."])
    assert s[0] == pytest.approx(n_tokens, rel=1e-3) and s[1] < s[0]
    low = MaxSimScorer("minilm", layer=2)
    assert low.enc is not scorer.enc and len(low.enc.model.encoder.layer) == 2
    assert low.score([text], ["An unrelated sentence about trains."])[0] != pytest.approx(s[1])


def test_pipeline_with_real_pipes(index):
    cmd = (f"papertools ceindex search {TEST} -i {index} --method rnr -B 6 -k 2 -q "
           f"| papertools ceindex eval - -i {index} --method axn,rnr -B 6 -k 1 -R 2 -q "
           f"| head -n 1")
    proc = shell(cmd)
    assert proc.returncode == 0, proc.stderr.decode()
    rec = json.loads(proc.stdout)
    assert rec["id"] == "axn:trns@6" and rec["queries"] == 8


def test_corpus_from_installed_code(tmp_path):
    run = ce("corpus", "--package", "json", "--package", "csv", "--test", "4", "--out-dir",
             str(tmp_path / "a"), "--seed", "1")
    assert run.exit_code == 0, run.stderr
    items = [json.loads(x) for x in open(tmp_path / "a" / "items.jsonl")]
    train = [json.loads(x) for x in open(tmp_path / "a" / "train.jsonl")]
    test = [json.loads(x) for x in open(tmp_path / "a" / "test.jsonl")]
    assert len(test) == 4 and len(train) == len(items) - 4
    assert not {q["text"] for q in test} & {q["text"] for q in train}
    ids = {i["id"] for i in items}
    assert all(q["gold_id"] in ids and q["id"] == f"q:{q['gold_id']}" for q in train + test)
    enc = next(i for i in items if i["id"] == "json.encoder.JSONEncoder.encode")
    assert enc["text"].startswith("json.encoder.JSONEncoder.encode: ")
    again = ce("corpus", "--package", "json", "--package", "csv", "--test", "4", "--out-dir",
               str(tmp_path / "b"), "--seed", "1")
    assert again.exit_code == 0
    for name in ("items.jsonl", "train.jsonl", "test.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    bad = ce("corpus", "--package", "no_such_package_xyz", "--out-dir", str(tmp_path / "c"))
    assert _err(bad) == "papertools ceindex: error: --package 'no_such_package_xyz': not installed"


def _corrupt_copy(index, tmp_path, name, data):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(index, broken)
    (broken / name).write_bytes(data(broken / name) if callable(data) else data)
    return broken


def _truncated(path):
    return path.read_bytes()[:-40]


def _other_shape(path):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 32), np.float32))
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, method, reason", [
    ("index.json", b'{"format": 1, "de": ', "axn", "corrupt index file (Expecting value"),
    ("index.json", b"[1, 2]", "axn", "corrupt index file (not a JSON object)"),
    ("index.json", b'{"format": 1}', "axn", "corrupt index file (field 'de' is missing"),
    ("emb_trns.npy", b"\x93NUMPY garbage", "axn", "corrupt index file (we only support format"),
    ("emb_trns.npy", _truncated, "axn", "corrupt index file ("),
    ("emb_trns.npy", _other_shape, "axn", "corrupt index file (a float32 array of shape (3, 32)"),
    ("emb_ind.npy", b"", "axn:ind", "corrupt index file ("),
    ("de_items.npy", b"not numpy", "rnr", "corrupt index file ("),
    ("emb_trns.faiss", b"garbage" * 10, "axn", "corrupt index file (Index type"),
    ("de.faiss", _truncated, "rnr", "corrupt index file ("),
    ("items.jsonl", b'{"id": "a", "text": "x"}\n{"id":', "axn", "corrupt index file ("),
    ("items.jsonl", b'{"id": "a", "text": "x"}\n', "axn", "corrupt index file (1 items, "),
    ("train_queries.jsonl", b'{"id": "a"}\n', "axn", "corrupt index file (KeyError: 'text')"),
    ("cur.jsonl", b'{"scores": [1, 2]}\n', "anncur", "corrupt index file (shape (1, 2)"),
    ("mlp_ind.npz", b"PK\x03\x04garbage", "axn:ind", "corrupt index file (File is not a zip"),
])
def test_corrupt_index_files_are_one_line(index, tmp_path, name, data, method, reason):
    broken = _corrupt_copy(index, tmp_path, name, data)
    run = ce("search", TEST, "-i", str(broken), "-m", method, "-B", "6", "-R", "2",
             "--lambda", "0.5", "-q", "--device", "cpu")
    assert run.exit_code == 1
    err = _err(run)
    assert err.startswith(f"papertools ceindex: error: {broken / name}: {reason}"), err
    assert err.endswith("rebuild the index") and "\n" not in err


def test_missing_index_file_is_one_line(index, tmp_path):
    broken = _corrupt_copy(index, tmp_path, "de.faiss", b"")
    (broken / "de.faiss").unlink()
    run = ce("search", TEST, "-i", str(broken), "-m", "rnr", "-B", "6", "-q", "--device", "cpu")
    assert _err(run) == (f"papertools ceindex: error: {broken / 'de.faiss'}: missing index "
                         "file: rebuild the index")


def test_shipped_index_finds_its_scorer_from_any_folder(minilm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    meta = json.loads((SMALL / "index" / "index.json").read_bytes())
    assert meta["ce"] == "py:../../lexical.py:score"  # relative to the index folder
    run = ce("search", TEST, "-i", str(SMALL / "index"), "-B", "8", "-R", "2", "-k", "1", "-q")
    assert run.exit_code == 0, run.stderr
    lexical = EXAMPLES / "ceindex" / "lexical.py"
    again = ce("search", TEST, "-i", str(SMALL / "index"), "-B", "8", "-R", "2", "-k", "1", "-q",
               "--scorer", f"{lexical}:score")
    assert again.exit_code == 0 and again.stdout == run.stdout, again.stderr
    other = tmp_path / "other.py"
    other.write_text("def score(queries, items):\n    return [0.0] * len(queries)\n")
    wrong = ce("search", TEST, "-i", str(SMALL / "index"), "--scorer", "other.py:score")
    assert "was built for the CE 'py:../../lexical.py:score', not 'py:other.py:score'" in _err(wrong)


def test_build_records_a_scorer_that_resolves_from_anywhere(tiny_models, tmp_path, monkeypatch):
    out = tmp_path / "a" / "index"
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(out), "--de", tiny_models["de"],
             "--scorer", "examples.ceindex.lexical:score", "--k-d", "4", "--epochs", "1",
             "--device", "cpu", "-q")
    assert run.exit_code == 0, run.stderr
    import os

    rel = os.path.relpath(EXAMPLES / "ceindex" / "lexical.py", out.resolve())
    assert json.loads((out / "index.json").read_bytes())["ce"] == f"py:{rel}:score"
    monkeypatch.chdir(tmp_path)
    found = ce("search", TEST, "-i", "a/index", "-B", "6", "-R", "2", "-q", "--device", "cpu")
    assert found.exit_code == 0 and len(found.records) == 8, found.stderr


def test_a_bad_scorer_fails_before_any_work(index, tmp_path):
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(tmp_path / "y"), "--scorer", "nomod:f",
             "--de", str(tmp_path / "no-such-de"))
    assert _err(run) == ("papertools ceindex: error: --scorer 'nomod:f': cannot import 'nomod' "
                         "(No module named 'nomod')")
    assert not (tmp_path / "y").exists()
    run = ce("build", TRAIN, "--items", ITEMS, "-i", str(tmp_path / "y"), "--scorer",
             "missing.py:f")
    assert _err(run).endswith("--scorer 'missing.py:f': no file "
                              f"{str(tmp_path.cwd().resolve() / 'missing.py')!r}")
    broken = _corrupt_copy(index, tmp_path, "index.json",
                           lambda p: json.dumps({**json.loads(p.read_bytes()), "ce": "py:nomod:f",
                                                 "de": str(tmp_path / "no-such-de")}).encode())
    run = ce("search", TEST, "-i", str(broken), "-q", "--device", "cpu")
    assert "--scorer 'nomod:f': cannot import 'nomod'" in _err(run)  # not the DE's error
