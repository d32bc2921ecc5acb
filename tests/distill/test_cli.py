"""The command line: student -> train -> eval/encode, bad input, and a real pipe."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import invoke, jsonl, shell


@pytest.fixture(scope="module")
def trained(tiny_teacher, data_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    s0 = folder / "s0"
    made = invoke(["distill", "student", "--teacher", tiny_teacher, "--layers", "1", "--hidden",
                   "16", "--out-dir", str(s0), "--vocab-from", data_files["corpus"],
                   "--vocab-from", data_files["train"]])
    assert made.exit_code == 0, made.stderr
    run = invoke(["distill", "train", data_files["train"], "--corpus", data_files["corpus"],
                  "--teacher", tiny_teacher, "--student", str(s0), "--out-dir",
                  str(folder / "s1"), "--epochs", "1", "--batch-size", "8", "--log-every", "2",
                  "--heldout", data_files["test"], "--cache-dir", str(folder / "cache"),
                  "--device", "cpu"])
    assert run.exit_code == 0, run.stderr
    return {"made": made, "run": run, "folder": folder, "s0": str(s0), "s1": str(folder / "s1")}


def test_student_reports_parameter_counts(trained):
    (record,) = trained["made"].records
    p, t = record["parameters"], record["teacher_parameters"]
    assert p["hidden"] == 16 and p["layers"] == 1 and p["projection"] == 16 * 32 + 32
    assert record["ratio"] == round(p["total"] / t["total"], 4) < 0.5
    assert "parameters" in trained["made"].stderr


def test_student_meets_a_parameter_budget_on_a_larger_corpus_and_says_what_it_chose(
        tiny_teacher, data_files, tmp_path):
    def make(*extra, vocab=("corpus",)):
        args = ["distill", "student", "--teacher", tiny_teacher, "--layers", "1", "--out-dir",
                str(tmp_path / f"s{len(list(tmp_path.iterdir()))}"), *extra]
        for name in vocab:
            args += ["--vocab-from", data_files[name]]
        return invoke(args)

    # the same shape costs more on a larger corpus (the pruned vocabulary grows with it) ...
    small, large = (make(vocab=v) for v in (("train",), ("corpus", "train")))
    assert small.records[0]["ratio"] < large.records[0]["ratio"]
    # ... a budget holds on either: the vocabulary kept whole, the embeddings made smaller
    teacher = small.records[0]["teacher_parameters"]["total"]
    limit = round((small.records[0]["parameters"]["total"]
                   + large.records[0]["parameters"]["total"]) / 2 / teacher, 6)
    for vocab in (("train",), ("corpus", "train")):
        run = make("--max-ratio", str(limit), vocab=vocab)
        assert run.exit_code == 0, run.stderr
        (record,) = run.records
        assert record["parameters"]["total"] <= limit * teacher
        assert record["parameters"]["total"] <= record["budget"]["max_parameters"]
        assert record["budget"]["parameters"] == record["parameters"]["total"]
        assert record["budget"]["min_count"] == 1
        assert record["budget"]["vocab_size"] == record["parameters"]["vocab_size"]
        assert "budget" in run.stderr and "chose --min-count 1" in run.stderr
    assert record["budget"]["embedding_size"] < 32  # the larger corpus: factorised
    exact = make("--max-parameters", str(record["parameters"]["total"]), vocab=vocab)
    assert exact.records[0]["parameters"] == record["parameters"]
    run = make("--max-ratio", "0.1", "--max-parameters", "5")
    assert run.exit_code == 2 and "give one budget" in run.stderr
    run = make("--max-parameters", "1000")
    assert run.exit_code == 1 and "layers and projection alone cost" in run.stderr


def test_train_logs_and_saves_a_loadable_student(trained):
    rows = trained["run"].records
    assert [r["step"] for r in rows] == [2, 4, 5]
    assert all({"loss", "score", "query_emb", "lr"} <= set(r) for r in rows)
    meta = json.loads(open(f"{trained['s1']}/papertools.json").read())
    assert meta["document_encoder"] == "teacher" and meta["finished"]
    log = open(f"{trained['s1']}/log.jsonl").read().splitlines()
    assert [json.loads(x)["step"] for x in log] == [2, 4, 5]
    from papertools.core.models.encoders import load_encoder

    assert load_encoder(trained["s1"]).dim == 32
    again = invoke(["distill", "train", os.devnull, "--corpus", os.devnull,
                    "--student", trained["s0"], "--out-dir", trained["s1"]])
    assert again.exit_code == 1 and "empty corpus" in again.stderr


def test_eval_compares_teacher_and_students_on_the_same_pool(trained, tiny_teacher, data_files,
                                                             tmp_path):
    png = tmp_path / "ablation.png"
    run = invoke(["distill", "eval", data_files["test"], "--corpus", data_files["corpus"],
                  "--teacher", tiny_teacher, "--student", f"+query_emb={trained['s1']}",
                  "--student", trained["s0"], "-k", "1", "-k", "10", "--plot", str(png),
                  "--device", "cpu"])
    assert run.exit_code == 0, run.stderr
    teacher, trained_row, start_row = run.records
    assert teacher["role"] == "teacher" and teacher["queries"] == 12
    assert teacher["documents"] == 60
    assert trained_row["id"] == "+query_emb" and trained_row["document_encoder"] == "teacher"
    assert start_row["id"] == "s0" and start_row["document_encoder"] == "self"
    assert trained_row["retention"] == pytest.approx(trained_row["mrr@10"] / teacher["mrr@10"],
                                                     abs=1e-5)
    assert trained_row["paper_retention"]["msmarco_mrr10"] == round(35.4 / 37.2, 4)
    assert "MRR@10" in run.stderr and png.stat().st_size > 1000
    assert 0 <= teacher["recall@1"] <= teacher["recall@10"] <= 1


def test_encode_writes_embeddings_in_order(trained, data_files):
    run = invoke(["distill", "encode", data_files["test"], "--model", trained["s1"],
                  "--text-field", "query", "--device", "cpu"])
    assert run.exit_code == 0, run.stderr
    assert len(run.records) == 12 and all(len(r["embedding"]) == 32 for r in run.records)
    docs = invoke(["distill", "encode", data_files["corpus"], "--model", trained["s1"],
                   "--role", "document", "--device", "cpu"])
    assert docs.exit_code == 0 and len(docs.records[0]["embedding"]) == 32


BAD = [
    ({"id": "q", "positives": ["x"]}, "field 'query': missing field"),
    ({"id": "q", "query": "a b"}, "field 'positives': missing field"),
    ({"id": "q", "query": "a b", "positives": ["no-such-doc"]}, "is not in the corpus"),
    ({"id": "q", "query": 3, "positives": []}, "field 'query': expected a string"),
]


@pytest.mark.parametrize("record,message", BAD)
def test_bad_query_records_name_file_and_line(record, message, trained, tiny_teacher, data_files,
                                              tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n" + jsonl([record]))
    run = invoke(["distill", "train", str(bad), "--corpus", data_files["corpus"], "--teacher",
                  tiny_teacher, "--student", trained["s0"], "--out-dir", str(tmp_path / "o")])
    assert run.exit_code == 1
    assert f"papertools distill: error: {bad}:2: " in run.stderr and message in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_corpus_generated_labels_heldout_overlap_and_width(trained, tiny_teacher, data_files,
                                                               tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(jsonl([{"id": "d1", "text": "x"}, {"id": "d2"}]))
    run = invoke(["distill", "train", data_files["train"], "--corpus", str(corpus), "--teacher",
                  tiny_teacher, "--student", trained["s0"], "--out-dir", str(tmp_path / "o")])
    assert run.exit_code == 1 and f"{corpus}:2: field 'text': missing field" in run.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    run = invoke(["distill", "eval", data_files["test"], "--corpus", str(empty)])
    assert run.exit_code == 1 and "empty corpus" in run.stderr
    gen = tmp_path / "gen.jsonl"
    gen.write_bytes(jsonl([{"id": "g", "query": "x y", "generated": True, "positives": ["d1"]}]))
    run = invoke(["distill", "train", data_files["train"], "--corpus", data_files["corpus"],
                  "--teacher", tiny_teacher, "--student", trained["s0"], "--generated", str(gen),
                  "--out-dir", str(tmp_path / "o")])
    assert run.exit_code == 1 and "a generated query must carry no labels" in run.stderr
    run = invoke(["distill", "train", data_files["test"], "--corpus", data_files["corpus"],
                  "--teacher", tiny_teacher, "--student", trained["s0"], "--heldout",
                  data_files["test"], "--out-dir", str(tmp_path / "o")])
    assert run.exit_code == 1 and "is also a held-out query" in run.stderr
    # a student wider than the teacher, without a projection
    cfg = tmp_path / "wide.json"
    cfg.write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 1,
                               "num_attention_heads": 2, "intermediate_size": 64,
                               "max_position_embeddings": 128}))
    wide = tmp_path / "wide"
    made = invoke(["distill", "student", "--teacher", tiny_teacher, "--config", str(cfg),
                   "--out-dir", str(wide), "-q"])
    assert made.exit_code == 0, made.stderr
    from papertools.core.models.encoders import load_encoder

    enc = load_encoder(str(wide))
    enc.dense = None
    enc.save(wide)
    run = invoke(["distill", "train", data_files["train"], "--corpus", data_files["corpus"],
                  "--teacher", tiny_teacher, "--student", str(wide), "--projection", "never",
                  "--out-dir", str(tmp_path / "o")])
    assert run.exit_code == 1
    assert "the student is 64 wide and the teacher 32" in run.stderr
    cut = invoke(["distill", "student", "--teacher", tiny_teacher, "--hidden", "64",
                  "--out-dir", str(tmp_path / "c")])
    assert cut.exit_code == 1 and "cannot be cut from a teacher 32 wide" in cut.stderr


def test_pipeline_with_real_pipes(trained, data_files):
    proc = shell(f"papertools distill gen-queries {data_files['train']} -n 1 -q "
                 f"| papertools distill encode --model {trained['s1']} --text-field query "
                 f"--device cpu -q | head -n 3")
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 3 and all(x["generated"] and len(x["embedding"]) == 32 for x in lines)
