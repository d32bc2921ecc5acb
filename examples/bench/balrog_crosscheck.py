#!/usr/bin/env python
"""Check that papertools' prompting agents send BALROG's conversation, message for message.

    git clone https://github.com/balrog-ai/BALROG && git -C BALROG checkout af7d1f1
    python examples/bench/balrog_template.py BALROG > balrog.json
    python examples/bench/balrog_crosscheck.py BALROG balrog.json

For naive, cot and robust_naive on a few games, the same observations and the same scripted
replies (valid, invalid, with stray characters) go through papertools' ``ChatAgent`` (with
BALROG's texts from the template) and through BALROG's own ``HistoryPromptBuilder``, loaded from
the checkout (``balrog/prompt_builder/history.py`` has no dependencies), driven the way BALROG's
agents and evaluator drive it: ``update_action`` with the previous parsed output,
``update_observation`` with the observation (the invalid-output feedback put before its text),
the agent's suffix appended to the last message, cot's reply kept with ``update_reasoning``.
Prints one line per agent and exits 1 at the first message that differs.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

from papertools.cli.bench.agents import ChatAgent, load_template
from papertools.core.envs import make_text_env
from papertools.core.models.clients import Reply

CASES = [  # agent, game, replies (cycled), history
    ("naive", "babaisai/env/goto_win", ["up", "dance!", "left\n", " down", "up", "right"], 3),
    ("cot", "babyai/goto", ["I think. ACTION: go forward", "hmm ACTION: fly",
                            "x ACTION: turn left"], 2),
    ("robust_naive", "nle/NetHackChallenge-v0", ["<|ACTION|>north<|END|>", "junk",
                                                 "<|ACTION|>esc<|END|>"], 16),
]
STEPS = 20


class Scripted:
    def __init__(self, replies):
        self.replies, self.sent = replies, []

    def complete(self, messages, seed=0):
        self.sent.append([dict(m) for m in messages])
        return Reply(self.replies[(len(self.sent) - 1) % len(self.replies)])


def balrog_candidate(kind: str, reply: str) -> str:
    """What BALROG's agent returns as ``completion`` (its parsing, restated)."""
    letters = re.sub(r"[^a-zA-Z\s:]", "", reply)
    if kind == "cot":
        return letters.split("ACTION:")[-1].strip()
    if kind == "robust_naive":
        match = re.search(r"<\|ACTION\|>(.*?)<\|END\|>", reply, re.DOTALL)
        return match.group(1).strip() if match else reply.strip()
    return letters


def check(history_module, template, raw, kind, spec, replies, history) -> tuple[bool, int]:
    env = make_text_env(spec, seed=1)
    obs = env.reset(1)
    client = Scripted(replies)
    agent = ChatAgent(kind, client, history=history, template=template)
    agent.reset(env, 1)
    builder = history_module.HistoryPromptBuilder(max_text_history=history, max_image_history=0,
                                                  max_cot_history=1)
    builder.update_instruction_prompt(template.instruction_for(env))
    previous, feedback = None, ""
    try:
        for step in range(STEPS):
            decision = agent.act(obs, feedback)
            if previous:
                builder.update_action(previous)
            builder.update_observation({"text": {"long_term_context": feedback + obs.text,
                                                 "short_term_context": obs.short}})
            messages = builder.get_prompt()
            messages[-1].content += "\n\n" + raw["suffix"][kind]
            theirs = [{"role": m.role, "content": m.content} for m in messages]
            if client.sent[-1] != theirs:
                for ours, want in zip(client.sent[-1], theirs):
                    if ours != want:
                        print(f"  step {step}: papertools {ours!r:.300}\n  BALROG     {want!r:.300}")
                        break
                return False, step + 1
            reply = client.replies[step % len(client.replies)]
            if kind == "cot":
                builder.update_reasoning(reply)
            word = env.check_action(decision.action)
            invalid = word is None
            word = word or env.default_action
            agent.observe(obs.text, word, obs.image)
            obs, _, done, _ = env.step(word)
            feedback = template.feedback(word) if invalid else ""
            previous = balrog_candidate(kind, reply)
            if done:
                break
        return True, step + 1
    finally:
        env.close()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: balrog_crosscheck.py BALROG_CHECKOUT TEMPLATE.json", file=sys.stderr)
        return 2
    path = Path(argv[0]) / "balrog" / "prompt_builder" / "history.py"
    spec = importlib.util.spec_from_file_location("balrog_history", path)
    history_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(history_module)
    template = load_template(argv[1])
    raw = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    status = 0
    for kind, game, replies, history in CASES:
        same, steps = check(history_module, template, raw, kind, game, replies, history)
        print(f"{kind} on {game}, history {history}: {steps} steps, "
              + ("every message identical" if same else "DIFFERS"))
        status |= not same
    return status


if __name__ == "__main__":
    sys.exit(main())
