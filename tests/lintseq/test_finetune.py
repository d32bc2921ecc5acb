"""lintseq finetune and generate on tiny models built from configs (CPU, seconds)."""

from __future__ import annotations

import json

import pytest

from papertools.cli.lintseq.finetune import (
    IGNORE, Example, FinetuneConfig, collate, encode, finetune)
from papertools.cli.lintseq.generate import decode_edits
from papertools.cli.lintseq.training import edit_pair
from papertools.core.models.tokenizer import train_bpe
from tests.helpers import EXAMPLES, invoke, jsonl

PROGRAMS = str(EXAMPLES / "lintseq" / "programs.jsonl")


@pytest.fixture(scope="module")
def edit_data(tmp_path_factory):
    """Edit-sequence training strings for the six example programs (3 samples each)."""
    seqs = invoke(["lintseq", "sample", PROGRAMS, "-n", "3", "-q"]).stdout
    rows = invoke(["lintseq", "format"], input=seqs).records
    path = tmp_path_factory.mktemp("data") / "edits.jsonl"
    path.write_bytes(jsonl(rows))
    return path, [Example(r["prompt"], r["completion"]) for r in rows]


def tiny(out, **kw):
    base = dict(out_dir=str(out), init_config="gpt2-test", epochs=2, batch_size=4,
                max_length=256, lr=3e-3, log_every=1, vocab_size=400)
    base.update(kw)
    return FinetuneConfig(**base)


def test_bpe_training_is_deterministic_and_diff_is_one_token():
    texts = [json.loads(line)["program"] for line in open(PROGRAMS)] * 3
    a = train_bpe(texts, 400, ("<|diff|>",))
    b = train_bpe(texts, 400, ("<|diff|>",))
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    ids = a("x\n<|diff|>@@ -0,0 +1 @@", add_special_tokens=False)["input_ids"]
    assert a.convert_ids_to_tokens(ids).count("<|diff|>") == 1
    assert len(a("<|diff|>", add_special_tokens=False)["input_ids"]) == 1


def test_prompt_tokens_carry_no_loss():
    tok = train_bpe(["def f(x):\n    return x\n"] * 5, 300)
    examples = [Example("Write f.\n", "def f(x):\n    return x"), Example("Hi\n", "x = 1")]
    encoded = encode(tok, examples, max_length=64)
    input_ids, mask, labels = collate(encoded, tok.pad_token_id)
    for row, (ids, n_prompt) in enumerate(encoded):
        assert n_prompt == len(tok(examples[row].prompt, add_special_tokens=False)["input_ids"])
        assert (labels[row, :n_prompt] == IGNORE).all()
        assert labels[row, n_prompt:len(ids)].tolist() == ids[n_prompt:]
        assert ids[-1] == tok.eos_token_id  # EOS ends every example and is learned
        assert (labels[row, len(ids):] == IGNORE).all() and mask[row].sum() == len(ids)


def test_tiny_run_lowers_the_loss_and_saves_a_loadable_model(tmp_path, edit_data):
    _, examples = edit_data
    logs = []
    summary = finetune(tiny(tmp_path / "m", epochs=6), examples, logs.append)
    assert summary["format"] == "edits" and summary["finished"]
    assert logs[-1]["loss"] < 0.7 * logs[0]["loss"], (logs[0], logs[-1])
    from papertools.core.models import load_causal_lm

    model, tok = load_causal_lm(str(tmp_path / "m"), device="cpu")
    assert "<|diff|>" in tok.get_vocab()
    assert model.get_input_embeddings().num_embeddings % 16 == 0
    assert model.get_input_embeddings().num_embeddings >= len(tok)


def test_resume_continues_from_the_saved_step_and_matches_an_uninterrupted_run(tmp_path,
                                                                               edit_data):
    import torch
    from safetensors.torch import load_file

    _, examples = edit_data
    finetune(tiny(tmp_path / "full", epochs=2, save_every=2), examples, lambda row: None)

    def stop_at_step_5(row):
        if row["step"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(tiny(tmp_path / "cut", epochs=2, save_every=2), examples, stop_at_step_5)
    state = torch.load(tmp_path / "cut" / "checkpoint" / "state.pt", weights_only=False)
    assert state["state"]["step"] == 5  # Ctrl-C saved where it stopped
    resumed = []
    finetune(tiny(tmp_path / "cut", epochs=2, save_every=2, resume=True), examples, resumed.append)
    assert resumed[0]["step"] == 6
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_finetune_cli_and_bad_input(tmp_path, edit_data):
    path, _ = edit_data
    out = tmp_path / "cli"
    run = invoke(["lintseq", "finetune", str(path), "--init-config", "gpt2-test", "--out-dir",
                  str(out), "--epochs", "1", "--max-length", "128", "--log-every", "2",
                  "--vocab-size", "400"])
    assert run.exit_code == 0, run.stderr
    assert run.records and {"step", "epoch", "loss", "lr", "tokens", "tokens_per_s"} <= set(run.records[0])
    assert (out / "log.jsonl").read_text().count("\n") == len(run.records)
    assert json.loads((out / "papertools.json").read_text())["format"] == "edits"
    # the folder holds a finished run now: starting over needs another folder
    again = invoke(["lintseq", "finetune", str(path), "--init-config", "gpt2-test", "--out-dir",
                    str(out)])
    assert again.exit_code == 1 and "already holds a run: --resume continues it" in again.stderr
    both = invoke(["lintseq", "finetune", str(path), "--init-config", "gpt2-test", "--model",
                   str(out), "--out-dir", str(tmp_path / "x")])
    assert both.exit_code == 2
    bad = invoke(["lintseq", "finetune", "--init-config", "gpt2-test", "--out-dir",
                  str(tmp_path / "y")], input=jsonl([{"prompt": "p"}]))
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "papertools lintseq: error: <stdin>:1: field 'completion': missing field"
    missing = invoke(["lintseq", "generate", PROGRAMS, "--model", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such directory" in missing.stderr


def test_finetune_from_a_model_directory_adds_the_diff_token(tmp_path):
    base = invoke(["lintseq", "format", "--baseline", PROGRAMS]).stdout
    (tmp_path / "base.jsonl").write_bytes(base)
    first = invoke(["lintseq", "finetune", str(tmp_path / "base.jsonl"), "--init-config",
                    "gpt2-test", "--out-dir", str(tmp_path / "base"), "--epochs", "1", "-q"])
    assert first.exit_code == 0, first.stderr
    from papertools.core.models import load_tokenizer

    assert "<|diff|>" not in load_tokenizer(str(tmp_path / "base")).get_vocab()
    seqs = invoke(["lintseq", "sample", PROGRAMS, "-q"]).stdout
    edits = invoke(["lintseq", "format"], input=seqs).stdout
    (tmp_path / "edits.jsonl").write_bytes(edits)
    second = invoke(["lintseq", "finetune", str(tmp_path / "edits.jsonl"), "--model",
                     str(tmp_path / "base"), "--out-dir", str(tmp_path / "edit"), "--epochs", "1",
                     "-q"])
    assert second.exit_code == 0, second.stderr
    tok = load_tokenizer(str(tmp_path / "edit"))
    assert len(tok("<|diff|>", add_special_tokens=False)["input_ids"]) == 1


# -- generate ----------------------------------------------------------------------------------

def test_decode_edits_gives_the_program_a_completion_describes():
    edits = ["@@ -0,0 +1,3 @@\n+def f(x):\n+    y = x * 2\n+    return y",
             "@@ -1,0 +2 @@\n+    \"\"\"Double x.\"\"\""]
    _, completion = edit_pair("Double x.", edits)
    program, applied, malformed = decode_edits(completion + "<|endoftext|>", "<|endoftext|>")
    assert program == 'def f(x):\n    """Double x."""\n    y = x * 2\n    return y'
    assert (applied, malformed) == (2, 0)


def test_decode_edits_counts_malformed_hunks_without_failing():
    text = ("@@ -0,0 +1 @@\n+a = 1\n<|diff|>@@ -x +y @@\n+lost = 0\n<|diff|>"
            "@@ -1,0 +2 @@\n-b = 2\n+c = 3\n<|diff|>not an edit\n<|diff|>@@ -9,0 +10 @@\n+d = 4")
    program, applied, malformed = decode_edits(text)
    assert program == "a = 1\nc = 3\nd = 4"  # past-the-end hunks are appended, as released
    assert applied == 3 and malformed == 3


def test_generate_cli(tmp_path, edit_data):
    path, _ = edit_data
    model = tmp_path / "m"
    assert invoke(["lintseq", "finetune", str(path), "--init-config", "gpt2-test", "--out-dir",
                   str(model), "--epochs", "2", "--max-length", "256", "-q"]).exit_code == 0
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(open(PROGRAMS).readlines()[:2]))
    args = ["lintseq", "generate", str(problems), "--model", str(model), "-n", "3",
            "--max-tokens", "24", "--batch-size", "2", "-q"]
    run = invoke(args)
    assert run.exit_code == 0, run.stderr
    rows = run.records
    assert len(rows) == 6 and [r["sample"] for r in rows[:3]] == [0, 1, 2]
    assert rows[0]["task_id"] == "fizzbuzz" and rows[0]["format"] == "edits"
    for row in rows:
        assert decode_edits(row["completion"])[0] == row["program"]
    assert invoke(args).stdout == run.stdout  # the same seed gives the same samples
    assert invoke(args + ["-w", "2"]).stdout == run.stdout  # whatever the workers
    assert invoke(args + ["--seed", "1"]).stdout != run.stdout
    bad = invoke(["lintseq", "generate", "--model", str(model)], input=jsonl([{"task_id": "t"}]))
    assert bad.exit_code == 1
    assert bad.stderr.strip() == ("papertools lintseq: error: <stdin>:1: field 'instruction': "
                                  "missing field")


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path):
    """The several-GPU path (torchrun, DistributedDataParallel), exercised with Gloo on CPU."""
    import shutil

    from tests.helpers import BIN, shell

    base = tmp_path / "base.jsonl"
    base.write_bytes(invoke(["lintseq", "format", "--baseline", PROGRAMS]).stdout)
    if not (BIN / "torchrun").exists():
        pytest.skip("torchrun is not installed")
    import socket

    def launch(attempt):
        with socket.socket() as sock:  # a free port, so that parallel runs do not collide
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return shell(f"{BIN / 'torchrun'} --nproc_per_node 2 --master_addr 127.0.0.1 "
                     f"--master_port {port} "
                     f"{shutil.which('papertools', path=str(BIN))} lintseq finetune {base} "
                     f"--init-config gpt2-test --out-dir {tmp_path / f'ddp{attempt}'} --epochs 2 "
                     f"--batch-size 2 --max-length 128 --log-every 1", timeout=240)

    proc, attempt = launch(0), 0
    if proc.returncode != 0 and b"Signal 6 (SIGABRT)" in proc.stderr:
        # A rank aborted inside Gloo once on a CI host (cause unknown): one more try, and a
        # second abort fails the test with both ranks' messages.
        proc, attempt = launch(1), 1
    err = proc.stderr.decode()
    assert proc.returncode == 0, "\n".join(  # the ranks' own messages first, then the tail
        [line for line in err.splitlines() if not line.startswith(("W1", "E1", "I1", " "))][:40]
        + [err[-1500:]])
    logs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]
    assert [r["step"] for r in logs] == [1, 2, 3, 4]  # 3 batches an epoch, 2 per step
    summary = json.loads((tmp_path / f"ddp{attempt}" / "papertools.json").read_text())
    assert summary["finished"]
    assert summary["tokens"] > logs[-1]["tokens"]  # the log counts rank 0; the summary both
    assert proc.stderr.decode().count("papertools lintseq: trained") == 1
