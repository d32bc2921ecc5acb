"""Agents: BALROG's prompting agents, the diff-history agent, and non-LLM reference agents.

The prompting agents build the conversation the way BALROG does (``balrog/prompt_builder/
history.py``, ``balrog/agents/*.py`` and ``balrog/evaluator.py`` at commit
af7d1f17e0deec3a7a0e334beae5f11b7a21371b, 2026-03-16); the wording is papertools' own, and
``--prompt-template FILE`` (:class:`PromptTemplate`) swaps in any other text, BALROG's included:

- the instruction (the game's rules and its valid-action list) is the first message, with the
  role ``user`` (``system_role=True`` sends it as a ``system`` message instead);
- then the history as events: a user turn ``"Observation:\n" + text`` per past observation
  and an assistant turn per past action, in order. The window is BALROG's deque of
  ``2 * max(history, images)`` events ending with the current observation: ``history`` = 16
  keeps 15 past observations plus the current one, and once an episode is long enough the
  oldest event kept is an action whose observation fell out, so an assistant turn directly
  follows the instruction;
- the last user turn is ``"Current Observation:"``, the short-term context (NetHack's
  inventory) and the observation, joined by newlines, followed by ``"\n\n"`` and the agent's
  output instruction (its suffix);
- an assistant turn holds what the agent answered as parsed, valid or not, the way BALROG
  records ``response.completion`` (naive and few_shot: the whole reply with everything but
  letters, spaces and colons removed; the others: the candidate action, or the reply when
  nothing parsed), not the default action played in its place;
- after an invalid output the next observation's text starts with the feedback (its own
  sentence, then ``"\n\nObservation:\n"``); it is part of that observation, in later turns too;
- ``cot`` only: the latest assistant turn holds ``"Previous plan:\n"`` and the whole previous
  reply instead of the action (BALROG's max_cot_history 1); ``robust_cot`` keeps no plan;
- ``few_shot``: the instruction, then each demonstration episode as user/assistant turns between
  a user "start" and "end" turn, then a user turn that hands over, then the history as above
  (at most 1000 demonstration steps, BALROG's max_icl_history);
- with ``images``, the pictures of the last ``images`` observations (the current one included)
  are attached as image parts.

How each reads its action from the completion:

- ``naive``: the whole reply, letters, spaces and colons only (BALROG's sanitising); for
  free-text games its first line.
- ``cot``: think step by step, then "ACTION: <action>"; the text after the last "ACTION:".
- ``robust_naive`` / ``robust_cot``: the action between ``<|ACTION|>`` and ``<|END|>`` (the last
  such pair), for weaker instruction followers.
- every agent first sets a reasoning model's ``<think>...</think>`` part aside (the
  decision's ``reasoning``), so DeepSeek-R1 style replies parse. The step log stores the
  completion once (capped), which holds the reasoning.
- ``few_shot``: naive, with ``icl_episodes`` recorded episodes (JSONL step records: episode,
  step, obs, action, e.g. nhrecord's) shown first as demonstrations.
- ``diffhist``: the history in the diff history format of ``papertools.core.history``
  (the first kept observation in full, then ``<|action|>a`` / ``<|observation|>`` diffs, ending
  on ``<|action|>``), as one user message; the reply is read as naive's. Not a BALROG agent.
- ``random``: a uniformly random valid action (stream seeded per episode).
- ``bot``: the game's reference agent (``env.bot()``): the BabyAI bot, the Baba Is AI planner,
  TextWorld's policy commands, the Boxoban levels' own solutions, nhrecord's symbolic NetHack
  agent (NetHack and the other MiniHack tasks). Crafter has none.
- ``policy``: a trained policy folder (``bench ppo``, ``bench bc``: ``core.learn.policies``)
  acting on the native observation behind the text (``env.native_obs``), its recurrent state
  carried through the episode. It chooses among the words the text view accepts (the native
  actions it lacks, such as BabyAI's done, are masked out): the most likely with
  ``deterministic``, else a sample from a generator seeded per episode.

Imports from other tools: ``papertools.core.history`` (diffhist agent); the NetHack
environment imports ``papertools.core.nethack.agent`` for its bot.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from papertools.core.errors import PapertoolsError

from papertools.core.models.clients import Reply, with_image

AGENTS = ("naive", "cot", "robust_naive", "robust_cot", "few_shot", "diffhist", "random", "bot",
          "policy")
LLM_AGENTS = ("naive", "cot", "robust_naive", "robust_cot", "few_shot", "diffhist")

BALROG_COMMIT = "af7d1f17e0deec3a7a0e334beae5f11b7a21371b"  # the structure followed (above)

NAIVE_SUFFIX = ("Answer with exactly one of the actions listed above and nothing else. Keep "
                "answering with one action at every step until the episode is over.")
COT_SUFFIX = ("First think about the best course of action step by step. Then give exactly one "
              "action from the list above at the end of your reply, in the form:\n"
              "ACTION: <action>")
ROBUST_NAIVE_SUFFIX = ("Output exactly one of the above actions, and nothing else, in the form "
                       "<|ACTION|>action<|END|>, for example <|ACTION|>{example}<|END|>.")
ROBUST_COT_SUFFIX = ("First think about the best course of action step by step. Then end your "
                     "reply with exactly one action from the list above in the form "
                     "<|ACTION|>action<|END|>, for example <|ACTION|>{example}<|END|>.")
SUFFIXES = {"naive": NAIVE_SUFFIX, "few_shot": NAIVE_SUFFIX, "diffhist": NAIVE_SUFFIX,
            "cot": COT_SUFFIX, "robust_naive": ROBUST_NAIVE_SUFFIX,
            "robust_cot": ROBUST_COT_SUFFIX}
# the text put before the observation that follows an invalid output ({action}: what was played)
INVALID_FEEDBACK = ("That reply named no valid action, so the game played the default "
                    "action instead: {action}\n\nObservation:\n")
DEMO_START = "Demonstration episode {n} begins."
DEMO_END = "Demonstration episode {n} ends."
DEMO_TURN = "The demonstrations are over. Now you play."
MAX_DEMO_STEPS = 1000  # BALROG's max_icl_history
TEMPLATE_KEYS = ("instruction", "suffix", "invalid_feedback", "demo_start", "demo_end",
                 "demo_turn")
_PLACEHOLDER = re.compile(r"\{(actions|mission|objective|goal|task|max_steps|default_action|"
                          r"example|action|n)\}")


def fill(text: str, values: dict) -> str:
    """Replace the known ``{name}`` placeholders that ``values`` gives; every other byte of
    ``text`` (other braces included) stays as it is."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values
                            else m.group(0), text)


@dataclass
class PromptTemplate:
    """The texts of the conversation; what a template file leaves out keeps papertools' own.

    A template file is a JSON object with any of these keys (every value a string, except
    where an object is named):

    - ``instruction``: a string, or an object from ``"env/task"``, ``"env"`` or ``"*"`` (tried
      in that order) to a string; placeholders ``{actions}`` (the "word: what it does" list),
      ``{mission}`` (BabyAI), ``{objective}`` (TextWorld), ``{goal}`` (MiniHack), ``{task}``,
      ``{max_steps}``, ``{default_action}``. Without it, the game's own instruction.
    - ``suffix``: an object from agent name to the text appended (after ``"\n\n"``) to the last
      user turn; placeholders as above (``{example}`` is the default action).
    - ``invalid_feedback``: put before the observation that follows an invalid output
      (``{action}``: the action played).
    - ``demo_start``, ``demo_end`` (``{n}``: the episode number), ``demo_turn``: few_shot's turns.
    """

    instruction: dict | None = None
    suffix: dict | None = None
    invalid_feedback: str = INVALID_FEEDBACK
    demo_start: str = DEMO_START
    demo_end: str = DEMO_END
    demo_turn: str = DEMO_TURN
    source: str = ""  # the file it came from
    digest: str = ""  # sha256 of the file's bytes (recorded with a run)

    def instruction_for(self, env) -> str:
        table = self.instruction or {}
        for key in (f"{env.name}/{env.task}", env.name, "*"):
            if key in table:
                return fill(table[key], env_values(env))
        return env.instruction()

    def suffix_for(self, kind: str, env) -> str:
        text = (self.suffix or {}).get(kind)
        if text is None:
            return SUFFIXES[kind].format(example=env.default_action)
        return fill(text, env_values(env))

    def feedback(self, action: str) -> str:
        return fill(self.invalid_feedback, {"action": action})


def env_values(env) -> dict:
    values = {"actions": env.action_list_text(), "task": env.task, "max_steps": env.max_steps,
              "default_action": env.default_action, "example": env.default_action}
    for name in ("mission", "objective", "goal"):
        value = getattr(env, name, None)
        if isinstance(value, str):
            values[name] = value
    return values


def load_template(path: str) -> PromptTemplate:
    """A prompt template file (JSON; see :class:`PromptTemplate`): every key and value checked."""
    import hashlib
    import json

    try:
        raw = open(path, "rb").read()
        data = json.loads(raw.decode("utf-8"))
    except OSError as err:
        raise PapertoolsError(f"--prompt-template {path}: {err.strerror or err}") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise PapertoolsError(f"--prompt-template {path}: not a JSON file ({err})") from None
    if not isinstance(data, dict):
        raise PapertoolsError(f"--prompt-template {path}: expected a JSON object")
    unknown = sorted(set(data) - set(TEMPLATE_KEYS))
    if unknown:
        raise PapertoolsError(f"--prompt-template {path}: unknown key {unknown[0]!r} (keys: "
                              f"{', '.join(TEMPLATE_KEYS)})")
    instruction = data.get("instruction")
    if isinstance(instruction, str):
        instruction = {"*": instruction}
    for key in ("instruction", "suffix"):
        table = instruction if key == "instruction" else data.get(key)
        if table is None:
            continue
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise PapertoolsError(f"--prompt-template {path}: {key!r} must be an object of "
                                  "strings" + (" (or one string)" if key == "instruction" else ""))
    bad = sorted(set(data.get("suffix") or {}) - set(SUFFIXES))
    if bad:
        raise PapertoolsError(f"--prompt-template {path}: 'suffix' has no agent {bad[0]!r} "
                              f"(agents: {', '.join(SUFFIXES)})")
    texts = {}
    for key in TEMPLATE_KEYS[2:]:
        if key in data:
            if not isinstance(data[key], str):
                raise PapertoolsError(f"--prompt-template {path}: {key!r} must be a string")
            texts[key] = data[key]
    return PromptTemplate(instruction=instruction, suffix=data.get("suffix"), source=str(path),
                          digest=hashlib.sha256(raw).hexdigest(), **texts)


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


_POLICIES: dict = {}  # policy folder -> (policy, meta), loaded once per process


def load_policy_once(path: str):
    if path not in _POLICIES:
        import torch

        from papertools.core.learn.policies import load_policy

        torch.set_num_threads(1)  # one episode a worker: workers, not threads, use the cores
        policy, meta = load_policy(path)
        _POLICIES[path] = (policy.eval(), meta)
    return _POLICIES[path]


class PolicyAgent(Agent):
    """A trained policy acting on the native observation behind the text (see the module
    docstring)."""

    kind = "policy"

    def __init__(self, path: str, deterministic: bool = False):
        super().__init__()
        self.path, self.deterministic = path, deterministic

    def reset(self, env, seed):
        import torch

        super().reset(env, seed)
        if env.native is None:
            raise PapertoolsError(f"{env.name} has no native environment for a policy to act in")
        self.policy, self.meta = load_policy_once(self.path)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.state = self.policy.initial_state(1)
        self.first = True

    def act(self, obs, feedback=""):
        import numpy as np
        import torch

        native = self.env.native_obs
        batch = {k: [v] if isinstance(v, str) else np.asarray(v)[None] for k, v in native.items()}
        words = self.env.native.action_words
        allowed = torch.tensor([self.env.check_action(w) is not None for w in words])
        with torch.no_grad():
            logits, _, self.state = self.policy(batch, self.state,
                                                torch.tensor([self.first]))
        self.first = False
        logits = logits[0, :len(words)].masked_fill(~allowed, float("-inf"))
        if self.deterministic:
            index = int(logits.argmax())
        else:
            index = int(torch.multinomial(torch.softmax(logits, -1), 1,
                                          generator=self.generator))
        return Decision(words[index])


class ChatAgent(Agent):
    """BALROG's prompting agents (naive, cot, robust_naive, robust_cot, few_shot): the
    conversation as the module docstring describes it."""

    needs_client = True

    def __init__(self, kind: str, client, history: int = 16, demos: list | None = None,
                 images: int = 0, system_role: bool = False,
                 template: PromptTemplate | None = None, **options):
        super().__init__(client, history, **options)
        self.kind = kind
        self.system_role = system_role  # True: the instruction is a system message
        self.demos = demos or []
        self.images = images  # BALROG's max_image_history: pictures on the last N observations
        self.template = template or PromptTemplate()

    def reset(self, env, seed):
        super().reset(env, seed)
        # BALROG's deque of observation and action events: 2 * max(text, image history)
        self.window = 2 * max(self.history, self.images)
        self.events: deque = deque(maxlen=self.window)
        self.current = None  # the observation event being answered (added by observe)
        self.held = None  # what the assistant turn will hold for the answer being given
        self.plan = None  # cot: the previous reply, shown as "Previous plan:"
        self.instruction = self.template.instruction_for(env)

    def suffix(self) -> str:
        return self.template.suffix_for(self.kind, self.env)

    def head(self) -> list[dict]:
        """The instruction, and few_shot's demonstration episodes."""
        messages = [{"role": "system" if self.system_role else "user",
                     "content": self.instruction}]
        if not self.demos:
            return messages
        left = MAX_DEMO_STEPS
        for n, demo in enumerate(self.demos, 1):
            steps = demo["steps"][:left]
            left -= len(steps)
            messages.append({"role": "user", "content": fill(self.template.demo_start, {"n": n})})
            for step in steps:
                messages.append({"role": "user", "content": f"Observation:\n{step['obs']}"})
                messages.append({"role": "assistant", "content": step["action"]})
            messages.append({"role": "user", "content": fill(self.template.demo_end, {"n": n})})
            if not left:
                break
        messages.append({"role": "user", "content": self.template.demo_turn})
        return messages

    def messages(self, obs, feedback: str = "") -> list[dict]:
        """The conversation for the current observation ``obs`` (``feedback``: the text that
        goes before it after an invalid output)."""
        self.current = {"type": "observation", "text": f"{feedback}{obs.text}",
                        "image": obs.image}
        events = (list(self.events) + [self.current])[-self.window:] if self.window else []
        seen = [k for k, e in enumerate(events) if e["type"] == "observation"]
        text_on = set(seen[-self.history:]) if self.history else set()
        pictured = [k for k in seen if events[k]["image"] is not None]
        image_on = set(pictured[-self.images:]) if self.images else set()
        planned = [k for k, e in enumerate(events)
                   if e["type"] == "action" and e["plan"] is not None]
        plan_at = planned[-1] if planned else None  # BALROG's max_cot_history 1
        messages = self.head()
        for k, event in enumerate(events):
            if event["type"] == "action":
                content = event["action"] if k != plan_at else f"Previous plan:\n{event['plan']}"
                messages.append({"role": "assistant", "content": content})
                continue
            last = k == len(events) - 1
            parts = ["Current Observation:" if last else "Observation:"]
            if last and obs.short:
                parts.append(obs.short)
            if k in text_on:
                parts.append(event["text"])
            content = "\n".join(parts)
            if last:
                content += "\n\n" + self.suffix()
            if k in image_on:
                content = with_image(content, event["image"])
            messages.append({"role": "user", "content": content})
        if not events:  # no history at all: the suffix goes after the instruction
            messages[-1]["content"] += "\n\n" + self.suffix()
        return messages

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
        # the assistant turn holds the parsed answer (BALROG records the candidate, valid or not;
        # naive's is the whole reply sanitised, unstripped, as BALROG's filter leaves it)
        if self.kind in ("naive", "few_shot") and not reply.error:
            self.held = _NON_LETTERS.sub("", answer)
        else:
            self.held = action if action is not None else answer.strip()
        self.plan = answer.strip() if self.kind == "cot" else None
        return Decision(action, reply.text, reasoning, reply.input_tokens, reply.output_tokens,
                        reply.error)

    def observe(self, obs_text, action, image=None):
        """After the step: the observation answered and the assistant turn join the history."""
        if self.current is not None:
            self.events.append(self.current)
        held = self.held if self.held is not None else action
        self.events.append({"type": "action", "action": held, "plan": self.plan})
        self.current = self.held = self.plan = None


class DiffHistAgent(ChatAgent):
    """The history as diff history (diffhist's prompt builder), one user message."""

    def __init__(self, client, history: int = 16, max_prompt_tokens: int | None = None,
                 template: PromptTemplate | None = None, **options):
        super().__init__("diffhist", client, history, template=template, **options)
        self.max_prompt_tokens = max_prompt_tokens

    def reset(self, env, seed):
        super().reset(env, seed)
        self.observations: list[str] = []
        self.actions: list[str] = []

    def messages(self, obs, feedback=""):
        from papertools.core.history import history_prompt

        observations = self.observations + [f"{feedback}{obs.full()}"]
        prompt = history_prompt(f"{self.instruction}\n\n{self.suffix()}", observations,
                                self.actions, max_tokens=self.max_prompt_tokens,
                                max_history=self.history)
        return [{"role": "user", "content": prompt}]

    def parse(self, text):
        return parse_naive(text.split("<|")[0], self.env.free_text_actions), ""

    def observe(self, obs_text, action, image=None):
        self.observations.append(obs_text)
        self.actions.append(action)


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
               system_role: bool = False, template: PromptTemplate | None = None,
               policy: str | None = None, deterministic: bool = False) -> Agent:
    if kind == "policy":
        if not policy:
            raise PapertoolsError("--agent policy needs --policy DIR (a policy folder)")
        return PolicyAgent(policy, deterministic)
    if kind == "random":
        return RandomAgent()
    if kind == "bot":
        return BotAgent()
    if kind == "diffhist":
        return DiffHistAgent(client, history, max_prompt_tokens=max_prompt_tokens,
                             template=template)
    if kind in LLM_AGENTS:
        return ChatAgent(kind, client, history, demos=demos, images=images,
                         system_role=system_role, template=template)
    raise PapertoolsError(f"unknown agent {kind!r} (choose from {', '.join(AGENTS)})")
