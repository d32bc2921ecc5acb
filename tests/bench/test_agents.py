"""Agents and clients against a real HTTP server on 127.0.0.1 (scripted replies and a tiny
local model): parsing, retries, invalid outputs counted, clear errors for keys and servers."""

from __future__ import annotations

import orjson
import pytest

from papertools.cli.bench.agents import (ChatAgent, DiffHistAgent, load_demos, parse_cot,
                                         parse_naive, parse_robust, split_thinking)
from papertools.core.models.clients import ClientError, HFClient, OpenAIClient
from papertools.core.envs import make_text_env
from papertools.cli.bench.runner import Job, RunConfig, run_episode
from papertools.core.models.server import ChatServer


def test_parsers():
    assert parse_naive("  go forward!! ") == "go forward"
    assert parse_naive("Move_West") == "MoveWest"  # BALROG's sanitising: letters, spaces, colons
    assert parse_naive("take coin\nbecause", free_text=True) == "take coin"
    assert parse_cot("I see a key. ACTION: left\nthen more. action: up.") == \
        ("up", "I see a key. ACTION: left\nthen more.")
    assert parse_cot("no action here")[0] is None
    assert parse_robust("think <|ACTION|>down<|END|> and <|action|> up <|end|>")[0] == "up"
    assert parse_robust("down")[0] is None
    assert split_thinking("<think>go up? no: left</think>\nleft") == ("go up? no: left", "\nleft")
    assert split_thinking("left") == ("", "left")


def episode(tmp_path, server, agent="naive", env="babaisai", task="env/goto_win", **options):
    config = RunConfig(agent=agent, client="openai", model="m", base_url=server.url,
                       max_steps=options.pop("max_steps", 3), retry_delay=0.0,
                       **options)
    job = Job(env, task, 0, str(tmp_path), config)
    result = run_episode(job)["record"]
    steps = [orjson.loads(line) for line in (tmp_path / job.steps_path).read_bytes().splitlines()]
    return result, steps


@pytest.mark.parametrize("agent,reply", [
    ("naive", "right"), ("naive", "<think>the win is right</think>right"),
    ("cot", "The win is to my right. ACTION: right"),
    ("robust_naive", "<|ACTION|>right<|END|>"), ("robust_cot", "hmm <|ACTION|>right<|END|>")])
def test_agents_parse_actions_from_http(tmp_path, agent, reply):
    with ChatServer(script=[reply]) as server:
        result, steps = episode(tmp_path, server, agent=agent)
        first = server.requests[0]
    assert [s["action"] for s in steps] == ["right"] * 3
    assert result["invalid_actions"] == 0 and result["steps"] == 3
    assert first["messages"][0]["role"] == "user"  # BALROG: the instruction is a user turn
    assert "idle: wait for one step" in first["messages"][0]["content"]  # valid-action list
    assert first["messages"][-1]["content"].startswith("Current Observation:")
    assert steps[0]["completion"] == reply


def test_history_and_feedback_on_invalid(tmp_path):
    with ChatServer(script=["dance", "up", "up"]) as server:
        result, steps = episode(tmp_path, server, history=2)
        requests = server.requests
    assert steps[0]["invalid"] and steps[0]["candidate"] == "dance"
    assert steps[0]["action"] == "idle"  # BALROG's default action for Baba Is AI
    assert result["invalid_actions"] == 1
    assert requests[1]["messages"][-1]["content"].startswith(
        "Current Observation:\nThat reply named no valid action, so the game played the "
        "default action instead: idle\n\nObservation:\n")
    # history 2 (a 4-event window): the instruction, the action before the oldest observation
    # kept (its observation fell out), one past observation and its action, the current one
    assert [m["role"] for m in requests[2]["messages"]] == \
        ["user", "assistant", "user", "assistant", "user"]
    assert requests[2]["messages"][1]["content"] == "dance"  # what the agent said, not "idle"
    assert requests[2]["messages"][2]["content"].startswith("Observation:\nThat reply named")


def test_server_failures_are_retried_then_counted_invalid(tmp_path):
    script = [{"status": 500}, "up",  # step 0: a 500, then the retry succeeds
              {"raw": "not json"}, {"status": 503},  # step 1: both tries fail: invalid
              {"sleep": 1.0}, "up"]  # step 2: a time-out, then success
    with ChatServer(script=script) as server:
        result, steps = episode(tmp_path, server, max_retries=1, timeout=0.4)
    assert [s["invalid"] for s in steps] == [False, True, False]
    assert "HTTP 503" in steps[1]["client_error"]
    assert result["client_errors"] == 1 and result["invalid_actions"] == 1


def test_bad_key_and_unreachable_server_are_clear_errors(monkeypatch):
    monkeypatch.setenv("BENCH_TEST_KEY", "wrong-secret")
    with ChatServer(script=["up"], api_key="right-secret") as server:
        client = OpenAIClient(server.url, "m", api_key_env="BENCH_TEST_KEY", max_retries=0)
        with pytest.raises(ClientError, match="HTTP 401") as err:
            client.check()
        assert "wrong-secret" not in str(err.value) and "BENCH_TEST_KEY" in str(err.value)
        with pytest.raises(ClientError, match="HTTP 401"):
            client.complete([{"role": "user", "content": "hi"}])
        monkeypatch.setenv("BENCH_TEST_KEY", "right-secret")
        assert client.complete([{"role": "user", "content": "hi"}]).text == "up"
        url = server.url
    with pytest.raises(ClientError, match="cannot reach"):
        OpenAIClient(url, "m", max_retries=0, timeout=1).check()


def test_tiny_local_model_over_http_is_deterministic(tmp_path, tiny_model):
    client = HFClient(tiny_model, max_tokens=4)
    runs = []
    for k in range(2):
        with ChatServer(client=client) as server:
            out = tmp_path / str(k)
            result, steps = episode(out, server, env="babyai", task="goto", max_steps=3,
                                    max_tokens=4)
            runs.append((result, steps))
    (r1, s1), (r2, s2) = runs
    assert r1["steps"] == 3 and r1["output_tokens"] == 12 and r1["input_tokens"] > 0
    assert r1["invalid_actions"] == sum(s["invalid"] for s in s1)
    assert all(s["action"] in make_text_env("babyai/goto").actions for s in s1)
    assert [s["completion"] for s in s1] == [s["completion"] for s in s2]  # seeded sampling


def test_diffhist_agent_prompt(tmp_path):
    with ChatServer(script=["up"]) as server:
        result, steps = episode(tmp_path, server, agent="diffhist")
        last = server.requests[-1]["messages"]
    assert len(last) == 1 and last[0]["content"].endswith("<|action|>")
    assert last[0]["content"].count("<|action|>up") == 2 and "<|observation|>" in last[0]["content"]
    assert result["invalid_actions"] == 0


def test_few_shot_demos(tmp_path):
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [
        {"episode": "a", "step": 0, "obs": "rule `win` 1 step up", "action": "up"},
        {"episode": "b", "step": 0, "obs": "x", "action": "left"}]))
    demos = load_demos(str(demo), 1)
    assert demos == [{"episode": "a", "steps": [{"obs": "rule `win` 1 step up", "action": "up"}]}]
    with ChatServer(script=["up"]) as server:
        result, _ = episode(tmp_path, server, agent="few_shot", icl_file=str(demo))
        messages = server.requests[0]["messages"]
    # BALROG's few-shot turns: instruction, start, demo observation and action, end, hand-over
    assert [m["role"] for m in messages[:6]] == ["user", "user", "user", "assistant", "user",
                                                 "user"]
    assert messages[1]["content"] == "Demonstration episode 1 begins."
    assert messages[2]["content"] == "Observation:\nrule `win` 1 step up"
    assert messages[3]["content"] == "up"
    assert all("left" != m["content"] for m in messages)


def test_chat_agent_needs_parsable_reply():
    env = make_text_env("babyai/goto", seed=0)
    env.reset()
    agent = ChatAgent("cot", client=None)
    agent.reset(env, 0)
    assert agent.parse("no marker") == (None, "no marker")
    assert isinstance(DiffHistAgent(None).history, int)


def test_image_history_and_frames(tmp_path):
    with ChatServer(script=["up"]) as server:
        result, steps = episode(tmp_path, server, images=2, save_frames=True, history=4)
        third = server.requests[2]["messages"]
    kinds = [[part["type"] for part in m["content"]] if isinstance(m["content"], list) else "text"
             for m in third]
    # system, obs 0 (text only), up, obs 1 (with its picture), up, current (with its picture)
    assert kinds == ["text", "text", "text", ["text", "image_url"], "text",
                     ["text", "image_url"]]
    assert third[-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    frame = tmp_path / steps[0]["frame"]
    assert frame.read_bytes()[:4] == b"\x89PNG"
    assert result["config"]["images"] == 2


def test_images_need_an_http_vlm_client():
    from papertools.cli.bench.runner import check_client
    from papertools.core.errors import PapertoolsError

    with pytest.raises(PapertoolsError, match="text-only"):
        check_client(RunConfig(agent="naive", client="hf", model="x", images=1))


def test_system_role_sends_the_instruction_as_a_system_message(tmp_path):
    with ChatServer(script=["up"]) as server:
        episode(tmp_path, server, system_role=True, history=2)
        second = server.requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[0]["content"].startswith("Baba Is You is a puzzle game")
