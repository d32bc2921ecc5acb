"""Agents: BALROG's prompting agents, the diff-history agent, and non-LLM reference agents.

LLM agents build chat messages from a history (BALROG's HistoryPromptBuilder): the instruction
(with the valid-action list) as the system message (or, with ``system_role=False``, at the
start of the first user message, for models whose chat template has no system role), then the last ``history`` steps as user
"Observation:" / assistant action pairs, then "Current Observation:" with the short-term context
and the agent's output instruction. How each reads its action from the completion:

- ``naive``: the whole reply, letters, spaces and colons only (BALROG's sanitising); for
  free-text games its first line.
- ``cot``: think step by step, then "ACTION: <action>"; the text after the last "ACTION:".
  The previous reasoning is shown as "Previous plan:" (BALROG's max_cot_history 1).
- ``robust_naive`` / ``robust_cot``: the action between ``<|ACTION|>`` and ``<|END|>`` (the last
  such pair), for weaker instruction followers.
- every agent first sets a reasoning model's ``<think>...</think>`` part aside (the
  decision's ``reasoning``, shown as the next "Previous plan:"), so DeepSeek-R1 style replies
  parse. The step log stores the completion once (capped), which holds the reasoning.
- ``few_shot``: naive, with ``icl_episodes`` recorded episodes (JSONL step records: episode,
  step, obs, action, e.g. nhrecord's) shown first as demonstrations.
- ``diffhist``: the history in the diff history format of ``papertools.core.history``
  (the first kept observation in full, then ``<|action|>a`` / ``<|observation|>`` diffs, ending
  on ``<|action|>``), as one user message; the reply is read as naive's.
- ``random``: a uniformly random valid action (stream seeded per episode).
- ``bot``: the game's reference agent (``env.bot()``): the BabyAI bot, the Baba Is AI planner,
  TextWorld's policy commands, the Boxoban levels' own solutions, nhrecord's symbolic NetHack
  agent (NetHack and the other MiniHack tasks). Crafter has none.

Imports from other tools: ``papertools.core.history`` (diffhist agent); the NetHack
environment imports ``papertools.core.nethack.agent`` for its bot.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from papertools.core.errors import PapertoolsError

from papertools.core.models.clients import Reply

AGENTS = ("naive", "cot", "robust_naive", "robust_cot", "few_shot", "diffhist", "random", "bot")
LLM_AGENTS = ("naive", "cot", "robust_naive", "robust_cot", "few_shot", "diffhist")

NAIVE_SUFFIX = ("You always have to output one of the above actions at a time and no other "
                "text. You always have to output an action until the episode terminates.")
COT_SUFFIX = ("First think about the best course of action step by step. Then give exactly one "
              "action from the list above at the end of your reply, in the form:\n"
              "ACTION: <action>")
ROBUST_NAIVE_SUFFIX = ("Output exactly one of the above actions, and nothing else, in the form "
                       "<|ACTION|>action<|END|>, for example <|ACTION|>{example}<|END|>.")
ROBUST_COT_SUFFIX = ("First think about the best course of action step by step. Then end your "
                     "reply with exactly one action from the list above in the form "
                     "<|ACTION|>action<|END|>, for example <|ACTION|>{example}<|END|>.")
INVALID_FEEDBACK = ("Your previous output did not contain a valid action. "
                    "Defaulted to action: {action}")

_NON_LETTERS = re.compile(r"[^a-zA-Z\s:]")
_ROBUST = re.compile(r"<\|ACTION\|>(.*?)<\|END\|>", re.DOTALL | re.IGNORECASE)
_COT = re.compile(r"ACTION\s*:", re.IGNORECASE)


@dataclass
class Decision:
    """What an agent chose at one step. ``action`` is its parsed candidate (None: nothing)."""

    action: str | None
    completion: str = ""
    reasoning: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""


def parse_naive(text: str, free_text: bool = False) -> str | None:
    text = text.strip()
    if free_text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[0].strip(" .`'\"") if lines else None
    cleaned = _NON_LETTERS.sub("", text).strip()
    return cleaned or None


def parse_cot(text: str, free_text: bool = False) -> tuple[str | None, str]:
    matches = list(_COT.finditer(text))
    if not matches:
        return None, text.strip()
    last = matches[-1]
    tail = text[last.end():].strip().splitlines()
    action = tail[0].strip(" .`'\"*") if tail else ""
    return (action or None), text[:last.start()].strip()


def parse_robust(text: str) -> tuple[str | None, str]:
    found = _ROBUST.findall(text)
    if not found:
        return None, text.strip()
    return found[-1].strip() or None, _ROBUST.split(text)[0].strip()


def split_thinking(text: str) -> tuple[str, str]:
    """(thinking, answer): a reasoning model's ``<think>...</think>`` part is not the answer."""
    if "</think>" not in text:
        return "", text
    thought, answer = text.rsplit("</think>", 1)
    return thought.replace("<think>", "").strip(), answer


class Agent:
    kind = "base"
    needs_client = False

    def __init__(self, client=None, history: int = 16, **options):
        self.client = client
        self.history = history
        self.options = options

    def reset(self, env, seed: int) -> None:
        self.env = env
        self.seed = seed
        self.turn = 0

    def act(self, obs, feedback: str = "") -> Decision:
        raise NotImplementedError

    def observe(self, obs_text: str, action: str, image=None) -> None:
        """The step's observation (as shown), the action actually taken, the step's image."""


class RandomAgent(Agent):
    kind = "random"

    def reset(self, env, seed):
        from papertools.core.seed import python_rng

        super().reset(env, seed)
        self.rng = python_rng(seed, 1)

    def act(self, obs, feedback=""):
        return Decision(self.rng.choice(self.env.actions))


class BotAgent(Agent):
    kind = "bot"

    def reset(self, env, seed):
        super().reset(env, seed)
        bot = getattr(env, "bot", None)
        if bot is None:
            raise PapertoolsError(f"no reference bot for {env.name} (bots: babyai, babaisai, "
                                  "textworld, minihack, nle)")
        self.bot = bot()

    def act(self, obs, feedback=""):
        return Decision(self.bot.act())


class ChatAgent(Agent):
    """BALROG's prompting agents (naive, cot, robust_naive, robust_cot, few_shot)."""

    needs_client = True

    def __init__(self, kind: str, client, history: int = 16, demos: list | None = None,
                 images: int = 0, system_role: bool = True, **options):
        super().__init__(client, history, **options)
        self.kind = kind
        self.system_role = system_role  # False: the instruction opens the first user message
        self.demos = demos or []
        self.images = images  # BALROG's max_image_history: pictures on the last N observations

    def reset(self, env, seed):
        super().reset(env, seed)
        window = max(0, self.history, self.images - 1)  # BALROG: max(text, image history)
        self.past: deque = deque(maxlen=window)
        self.pictures: deque = deque(maxlen=window)  # each past step's picture (or None)
        self.plan = ""
        self.instruction = env.instruction()

    def suffix(self) -> str:
        example = self.env.default_action
        return {"naive": NAIVE_SUFFIX, "few_shot": NAIVE_SUFFIX, "cot": COT_SUFFIX,
                "robust_naive": ROBUST_NAIVE_SUFFIX.format(example=example),
                "robust_cot": ROBUST_COT_SUFFIX.format(example=example)}[self.kind]

    def messages(self, obs, feedback: str = "") -> list[dict]:
        system = self.instruction
        if self.demos:
            system += "\n\n" + demo_text(self.demos)
        messages = [{"role": "system", "content": system}]
        past, pictures = list(self.past), list(self.pictures)  # window: max(history, images-1)
        for k, (text, action) in enumerate(past):
            content = f"Observation:\n{text}"
            if self.images > 1 and k >= len(past) - (self.images - 1):
                content = with_image(content, pictures[k])
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": action})
        current = obs.full()
        if feedback:
            current = f"{feedback}\n\n{current}"
        plan = f"Previous plan:\n{self.plan}\n\n" if self.kind in ("cot", "robust_cot") \
            and self.plan else ""
        content = f"{plan}Current Observation:\n{current}\n\n{self.suffix()}"
        if self.images and obs.image is not None:
            content = with_image(content, obs.image)
        messages.append({"role": "user", "content": content})
        return messages if self.system_role else fold_system(messages)

    def parse(self, text: str) -> tuple[str | None, str]:
        free = self.env.free_text_actions
        if self.kind in ("robust_naive", "robust_cot"):
            return parse_robust(text)
        if self.kind == "cot":
            return parse_cot(text, free)
        return parse_naive(text, free), ""

    def act(self, obs, feedback=""):
        from papertools.core.seed import derive_seed

        reply: Reply = self.client.complete(self.messages(obs, feedback),
                                            seed=derive_seed(self.seed, self.turn))
        self.turn += 1
        thought, answer = split_thinking(reply.text)
        action, reasoning = self.parse(answer) if not reply.error else (None, "")
        reasoning = "\n".join(part for part in (thought, reasoning) if part)
        if reasoning:
            self.plan = reasoning
        return Decision(action, reply.text, reasoning, reply.input_tokens, reply.output_tokens,
                        reply.error)

    def observe(self, obs_text, action, image=None):
        self.past.append((obs_text, action))
        self.pictures.append(image)


def fold_system(messages: list[dict]) -> list[dict]:
    """For models without a system role: the system text opens the first user message."""
    if not messages or messages[0]["role"] != "system" or len(messages) < 2:
        return messages
    system, first = messages[0]["content"], messages[1]
    content = first["content"]
    if isinstance(content, list):
        content = [{"type": "text", "text": system + "\n\n"}] + content
    else:
        content = f"{system}\n\n{content}"
    return [{"role": "user", "content": content}] + messages[2:]


def png_data_url(image) -> str:
    """An RGB array as a ``data:image/png;base64`` URL (OpenAI's image_url content part)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def with_image(text: str, image) -> list | str:
    if image is None:
        return text
    return [{"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": png_data_url(image)}}]


class DiffHistAgent(ChatAgent):
    """The history as diff history (diffhist's prompt builder), one user message."""

    def __init__(self, client, history: int = 16, max_prompt_tokens: int | None = None,
                 **options):
        super().__init__("diffhist", client, history, **options)
        self.max_prompt_tokens = max_prompt_tokens

    def reset(self, env, seed):
        super().reset(env, seed)
        self.observations: list[str] = []
        self.actions: list[str] = []

    def messages(self, obs, feedback=""):
        from papertools.core.history import history_prompt

        current = obs.full() if not feedback else f"{feedback}\n\n{obs.full()}"
        observations = self.observations + [current]
        prompt = history_prompt(f"{self.instruction}\n\n{NAIVE_SUFFIX}", observations,
                                self.actions, max_tokens=self.max_prompt_tokens,
                                max_history=self.history)
        return [{"role": "user", "content": prompt}]

    def parse(self, text):
        return parse_naive(text.split("<|")[0], self.env.free_text_actions), ""

    def observe(self, obs_text, action, image=None):
        self.observations.append(obs_text)
        self.actions.append(action)


def demo_text(demos: list[dict], max_steps: int = 50) -> str:
    """Recorded episodes as demonstrations: "Observation: ... / Action: ..." per step."""
    parts = []
    for k, episode in enumerate(demos, 1):
        lines = [f"Demonstration episode {k}:"]
        for step in episode["steps"][:max_steps]:
            lines.append(f"Observation:\n{step['obs']}\nAction: {step['action']}")
        parts.append("\n".join(lines))
    return "Here are examples of how the game is played:\n\n" + "\n\n".join(parts)


def load_demos(path: str, episodes: int, env_name: str | None = None) -> list[dict]:
    """The first ``episodes`` episodes of a JSONL of step records (grouped by "episode")."""
    from papertools.core.errors import InputError, field
    from papertools.core.jsonl import read_records

    grouped: dict[str, list] = {}
    for item in read_records([path]):
        record, place = item.record, item.place
        if env_name and record.get("env") not in (None, env_name):
            continue
        episode = str(field(record, "episode", (str, int), place=place))
        obs = field(record, "obs", str, place=place)
        action = record.get("action")
        if not isinstance(action, str):
            raise InputError("expected a string", place.file, place.line, "action")
        if episode not in grouped:
            if len(grouped) >= episodes:
                continue
            grouped[episode] = []
        grouped[episode].append({"obs": obs, "action": action})
    return [{"episode": e, "steps": s} for e, s in grouped.items()]


def make_agent(kind: str, client=None, history: int = 16, demos=None,
               max_prompt_tokens: int | None = None, images: int = 0,
               system_role: bool = True) -> Agent:
    if kind == "random":
        return RandomAgent()
    if kind == "bot":
        return BotAgent()
    if kind == "diffhist":
        return DiffHistAgent(client, history, max_prompt_tokens=max_prompt_tokens)
    if kind in LLM_AGENTS:
        return ChatAgent(kind, client, history, demos=demos, images=images,
                         system_role=system_role)
    raise PapertoolsError(f"unknown agent {kind!r} (choose from {', '.join(AGENTS)})")
