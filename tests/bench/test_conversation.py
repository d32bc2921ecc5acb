"""The conversation every prompting agent sends, rendered for a fixed short episode through a
real HTTP server: BALROG's structure (roles, order, what each turn holds, the history window,
where the suffix goes) and a user's prompt template landing byte for byte where it should."""

from __future__ import annotations

import json

import orjson
import pytest

from papertools.cli.bench.agents import (BALROG_COMMIT, SUFFIXES, load_template,
                                         PromptTemplate)
from papertools.cli.bench.runner import Job, RunConfig, run_episode
from papertools.core.envs import make_text_env
from papertools.core.errors import PapertoolsError
from papertools.core.models.server import ChatServer

ENV, TASK = "babaisai", "env/goto_win"
# one reply per step: step 1's output is invalid ("dance"), the others valid
REPLIES = {
    "naive": ["up", "dance!", "left\n", "down", "up"],
    "few_shot": ["up", "dance!", "left\n", "down", "up"],
    "cot": ["Plan A. ACTION: up", "Plan B. ACTION: dance", "Plan C. ACTION: left",
            "Plan D. ACTION: down", "Plan E. ACTION: up"],
    "robust_naive": ["<|ACTION|>up<|END|>", "<|ACTION|>dance<|END|>", "<|ACTION|>left<|END|>",
                     "<|ACTION|>down<|END|>", "<|ACTION|>up<|END|>"],
    "robust_cot": ["a <|ACTION|>up<|END|>", "b <|ACTION|>dance<|END|>", "c <|ACTION|>left<|END|>",
                   "d <|ACTION|>down<|END|>", "e <|ACTION|>up<|END|>"],
}
# what the assistant turns hold: naive's is BALROG's sanitised reply, unstripped
HELD = {"naive": ["up", "dance", "left\n", "down"], "few_shot": ["up", "dance", "left\n", "down"],
        "cot": ["up", "dance", "left", "down"], "robust_naive": ["up", "dance", "left", "down"],
        "robust_cot": ["up", "dance", "left", "down"]}


def play(tmp_path, agent, steps=5, **options):
    tmp_path.mkdir(parents=True, exist_ok=True)
    demo = tmp_path / "demo.jsonl"
    demo.write_bytes(orjson.dumps({"episode": "d", "step": 0, "obs": "demo obs",
                                   "action": "right"}) + b"\n")
    if agent == "few_shot":
        options["icl_file"] = str(demo)
    with ChatServer(script=list(REPLIES.get(agent, ["up"]))) as server:
        config = RunConfig(agent=agent, client="openai", model="m", base_url=server.url,
                           max_steps=steps, retry_delay=0.0, **options)
        job = Job(ENV, TASK, 0, str(tmp_path / agent), config)
        run_episode(job)
        log = (tmp_path / agent / job.steps_path).read_bytes().splitlines()
        return [r["messages"] for r in server.requests], [orjson.loads(line) for line in log]


@pytest.mark.parametrize("agent", ["naive", "cot", "robust_naive", "robust_cot", "few_shot"])
def test_balrog_structure_for_every_agent(tmp_path, agent):
    requests, steps = play(tmp_path, agent, history=2)  # a window of 4 events
    env = make_text_env(f"{ENV}/{TASK}", seed=0)
    suffix = SUFFIXES[agent].format(example=env.default_action)
    head = 1 if agent != "few_shot" else 1 + 4 + 1  # few_shot: start, obs, action, end, turn
    for k, messages in enumerate(requests):
        assert messages[0]["role"] == "user" and messages[0]["content"].startswith("Baba Is You")
        body = messages[head:]
        # the window: 2 * history events ending on the current observation
        n_events = min(2 * k + 1, 4)
        assert len(body) == n_events
        roles = [m["role"] for m in body]
        expected = ["user" if (n_events - 1 - i) % 2 == 0 else "assistant"
                    for i in range(n_events)]
        assert roles == expected
        # the last user turn: "Current Observation:", the observation as shown, the suffix
        assert body[-1]["content"] == f"Current Observation:\n{steps[k]['obs']}\n\n{suffix}"
        # past observations: "Observation:" and the text as it was shown (feedback included)
        for i, m in enumerate(body[:-1]):
            past_step = k - (n_events - 1 - i) // 2
            if m["role"] == "user":
                assert m["content"] == f"Observation:\n{steps[past_step]['obs']}"
            else:  # the action of step k - ((n_events - i) // 2)
                taken = k - (n_events - i) // 2
                held = HELD[agent][taken]
                newest = i == len(body) - 2
                if agent == "cot" and newest:
                    assert m["content"] == "Previous plan:\n" + REPLIES["cot"][taken]
                else:
                    assert m["content"] == held  # the candidate, "dance" included
    # the invalid output: played as the default, said in the next observation, kept in history
    assert steps[1]["invalid"] and steps[1]["action"] == "idle"
    assert steps[2]["obs"].startswith("That reply named no valid action, so the game played "
                                      "the default action instead: idle\n\nObservation:\n")
    assert requests[3][head + 1]["content"].startswith("Observation:\nThat reply named")
    if agent == "few_shot":
        assert [m["content"] for m in requests[0][1:6]] == [
            "Demonstration episode 1 begins.", "Observation:\ndemo obs", "right",
            "Demonstration episode 1 ends.", "The demonstrations are over. Now you play."]


def test_default_window_is_fifteen_past_observations_and_the_current_one(tmp_path):
    requests, steps = play(tmp_path, "robust_naive", steps=18)
    last = requests[-1]
    users = [m for m in last[1:] if m["role"] == "user"]
    assistants = [m for m in last[1:] if m["role"] == "assistant"]
    assert len(users) == 16 and len(assistants) == 16  # BALROG's deque of 32 events
    assert last[1]["role"] == "assistant"  # the action whose observation fell out
    assert last[2]["content"] == f"Observation:\n{steps[2]['obs']}"
    assert users[-1]["content"].startswith(f"Current Observation:\n{steps[17]['obs']}")
    before = requests[15]  # step 15: 15 past observations, nothing dropped yet
    assert [m["role"] for m in before[:3]] == ["user", "user", "assistant"]
    assert len(before) == 1 + 31


def test_prompt_template_lands_byte_for_byte(tmp_path):
    instruction = "Règles du jeu {\n  {actions}\n}\r\ntask={task} default={default_action} {x}  "
    template = {
        "instruction": {"babaisai/env/goto_win": instruction, "*": "unused"},
        "suffix": {"robust_cot": "Écris <|ACTION|>…<|END|> ({example})\t\n",
                   "naive": "NAIVE {nothing}"},
        "invalid_feedback": "\n\nBAD -> {action}\n\nObservation:\n",
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, ensure_ascii=False), encoding="utf-8")
    env = make_text_env(f"{ENV}/{TASK}", seed=0)
    want_instruction = (f"Règles du jeu {{\n  {env.action_list_text()}\n}}\r\n"
                        f"task=env/goto_win default=idle {{x}}  ")
    digest = load_template(str(path)).digest
    requests, steps = play(tmp_path, "robust_cot", history=2, prompt_template=str(path),
                           prompt_template_sha256=digest)
    assert requests[0][0]["content"] == want_instruction
    for k, messages in enumerate(requests):
        assert messages[-1]["content"] == (f"Current Observation:\n{steps[k]['obs']}\n\n"
                                           "Écris <|ACTION|>…<|END|> (idle)\t\n")
    assert requests[2][-1]["content"].startswith("Current Observation:\n\n\nBAD -> idle\n\n"
                                                 "Observation:\n")
    # the unknown placeholder stays as written
    naive, _ = play(tmp_path / "n", "naive", steps=1, history=2, prompt_template=str(path))
    assert naive[0][-1]["content"].endswith("\n\nNAIVE {nothing}")


def test_prompt_template_errors(tmp_path):
    cases = {"[1]": "expected a JSON object", '{"suffix": {"smart": "x"}}': "no agent 'smart'",
             '{"instructions": "x"}': "unknown key 'instructions'",
             '{"instruction": 3}': "must be an object of strings",
             '{"invalid_feedback": []}': "must be a string", "{": "not a JSON file"}
    for k, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"{k}.json"
        path.write_text(text)
        with pytest.raises(PapertoolsError, match=message):
            load_template(str(path))


def test_changed_template_and_layout_are_part_of_the_results_key(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"suffix": {"naive": "A"}}')
    config = RunConfig(agent="naive", prompt_template=str(path),
                       prompt_template_sha256=load_template(str(path)).digest)
    key = config.results_key()
    assert key["prompt_layout"] == f"balrog@{BALROG_COMMIT[:7]}"
    assert key["prompt_template_sha256"] == load_template(str(path)).digest
    path.write_text('{"suffix": {"naive": "B"}}')
    from papertools.cli.bench.runner import episode_template

    with pytest.raises(PapertoolsError, match="changed during the run"):
        episode_template(config)
    assert PromptTemplate().feedback("x").startswith("That reply named no valid action")
