"""Model replies in step logs (stored once, capped) and runs whose model calls failed, against a
real OpenAI-compatible server on 127.0.0.1 (papertools' own, scripted)."""

from __future__ import annotations

import orjson

from papertools.core.models.clients import MAX_REPLY_CHARS, cap_reply
from papertools.core.models.server import ChatServer
from tests.helpers import invoke

LOG = "steps/babyai/goto/0.jsonl"


def llm_run(url, out, *extra, agent="cot"):
    return invoke(["bench", "run", "--env", "babyai/goto", "--agent", agent, "--model", "m",
                   "--base-url", url, "--episodes", "1", "--max-steps", "2",
                   "--max-retries", "0", "--retry-delay", "0", "--out-dir", str(out), "-q",
                   *extra])


def steps(out):
    return [orjson.loads(x) for x in (out / LOG).read_bytes().splitlines()]


def test_cap_reply():
    assert cap_reply("abcdef", 4) == ("abcd", True)
    assert cap_reply("abcd", 4) == ("abcd", False)
    assert cap_reply("abcdef", 0) == ("abcdef", False)


def test_a_huge_reply_is_stored_once_and_capped(tmp_path):
    huge = "I think. " * 5000  # 45,000 characters and no action: all of it is "reasoning"
    with ChatServer(script=[huge]) as server:
        res = llm_run(server.url, tmp_path / "r")
    assert res.exit_code == 0, res.stderr
    records = steps(tmp_path / "r")
    assert len(records) == 2
    for r in records:
        assert r["completion"] == huge[:MAX_REPLY_CHARS]
        assert r["reply_truncated"] is True and r["reply_chars"] == len(huge)
        assert "reasoning" not in r  # the completion holds it: not stored twice
    assert (tmp_path / "r" / LOG).stat().st_size < 2 * (MAX_REPLY_CHARS + 4000)


def test_max_reply_chars_and_short_replies(tmp_path):
    with ChatServer(script=["x" * 300]) as server:
        res = llm_run(server.url, tmp_path / "r", "--max-reply-chars", "100", agent="naive")
    assert res.exit_code == 0, res.stderr
    for r in steps(tmp_path / "r"):
        assert r["completion"] == "x" * 100 and r["reply_chars"] == 300
        assert r["invalid"] and r["candidate"] == "x" * 256  # the parsed action, capped
    with ChatServer(script=["ACTION: turn left"]) as server:
        res = llm_run(server.url, tmp_path / "s")
    assert res.exit_code == 0, res.stderr
    for r in steps(tmp_path / "s"):
        assert r["completion"] == "ACTION: turn left" and r["action"] == "turn left"
        assert "reply_truncated" not in r and "reply_chars" not in r


def test_a_run_whose_every_model_call_failed_exits_1(tmp_path):
    with ChatServer(script=[{"status": 500}] * 20) as server:
        res = llm_run(server.url, tmp_path / "r")
    assert res.exit_code == 1
    assert "error: every model call failed (2 of 2, after retries)" in res.stderr
    assert all(r["client_error"] == "HTTP 500 (0 retries)" for r in steps(tmp_path / "r"))


def test_a_run_with_some_failed_calls_warns(tmp_path):
    with ChatServer(script=[{"status": 500}, "ACTION: turn left"]) as server:
        res = llm_run(server.url, tmp_path / "r")
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ("papertools bench: warning: 1 of 2 model calls failed after retries "
                          "(steps with \"client_error\" played the default action)\n")


def test_serve_on_a_port_in_use_is_one_line():
    with ChatServer(script=["up"]) as server:
        port = server.url.rsplit(":", 1)[1].split("/")[0]
        res = invoke(["bench", "serve", "--reply", "up", "--port", port, "--for", "0.1"])
    assert res.exit_code == 1
    assert res.stderr == (f"papertools bench: error: cannot serve on 127.0.0.1:{port}: "
                          "Address already in use\n")
