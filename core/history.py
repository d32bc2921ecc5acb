"""Diff history as a library: encode and decode observation histories, training windows, prompts.

The diff is the paper's: ``difflib.unified_diff(prev, cur, n=0, lineterm="")`` with the two header
lines dropped (:func:`fast_diff` computes exactly that, faster, from difflib's own matcher).
Two ways to split a text into lines:

- exact (default): ``text.split("\\n")``, so :func:`apply_obs_diff` gives back the observation
  byte for byte;
- ``paper=True``: the released code's ``text.strip().splitlines()``; decoding then gives
  ``"\\n".join(obs.strip().splitlines())`` for every step, the first (kept whole, normalised
  the same way) included: leading and trailing whitespace, and line breaks other than
  ``\\n``, are not kept.

On observations with no leading or trailing whitespace and no line breaks but ``\\n``, the two
diffs are the same bytes. An episode's first observation is kept whole (``obs_full``).

Prompts and training examples use the paper's format: the instruction, the window's first full
observation, then ``<|action|>a`` / ``<|observation|>`` diff pairs, ending on ``<|action|>``
(for acting) or on the last action (for training). Bench's diff-history agent imports
:func:`history_prompt`.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Callable, Sequence

from papertools.core.diff import DiffError, apply_diff

INSTRUCTION = "You are an agent playing NetHack. Predict the next actions."
ACTION = "<|action|>"
OBSERVATION = "<|observation|>"


def split_lines(text: str, paper: bool = False) -> list[str]:
    if paper:
        return text.strip().splitlines()
    # "" is no lines (as in paper mode), not one empty line: "\n".join still gives it back, and
    # the two modes then agree on every text without whitespace at either end, "" included.
    return text.split("\n") if text else []


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if not length else start + 1},{length}"


def fast_diff(a: Sequence[str], b: Sequence[str]) -> str:
    """``difflib.unified_diff(a, b, n=0, lineterm="")`` without its headers, ``\\n``-joined.

    With no context lines every hunk is exactly one of difflib's non-equal opcodes, so the hunks
    are written straight from ``SequenceMatcher.get_opcodes`` (the same matcher, so the same
    hunks; a property test compares the two byte for byte). Equal inputs skip the matcher.
    """
    if a == b:
        return ""
    out: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b).get_opcodes():
        if tag == "equal":
            continue
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@")
        if tag != "insert":
            out.extend("-" + line for line in a[i1:i2])
        if tag != "delete":
            out.extend("+" + line for line in b[j1:j2])
    return "\n".join(out)


def obs_diff(prev: str | None, cur: str, paper: bool = False) -> str:
    """The diff from ``prev`` to ``cur``; ``cur`` itself when there is no previous observation."""
    if prev is None:
        return "\n".join(split_lines(cur, True)) if paper else cur
    return fast_diff(split_lines(prev, paper), split_lines(cur, paper))


def apply_obs_diff(prev: str, diff: str, paper: bool = False) -> str:
    """The observation that ``diff`` makes of ``prev`` (DiffError when it does not apply)."""
    return "\n".join(apply_diff(split_lines(prev, paper), diff))


class Encoder:
    """Per-episode state for encoding a stream: remembers each episode's last observation lines."""

    def __init__(self, paper: bool = False):
        self.paper = paper
        self.last: dict[str, list[str]] = {}

    def encode(self, episode: str, obs: str) -> tuple[str, bool]:
        """(obs_diff, obs_full) for the next observation of ``episode``."""
        lines = split_lines(obs, self.paper)
        prev = self.last.get(episode)
        self.last[episode] = lines
        if prev is None:  # whole; in paper mode normalised as the diffs are
            return ("\n".join(lines) if self.paper else obs), True
        return fast_diff(prev, lines), False

    def end(self, episode: str) -> None:
        self.last.pop(episode, None)


class Decoder:
    """Per-episode state for decoding: each episode's last observation."""

    def __init__(self, paper: bool = False):
        self.paper = paper
        self.last: dict[str, list[str]] = {}

    def decode(self, episode: str, diff: str, full: bool) -> str:
        if full:
            self.last[episode] = split_lines(diff, self.paper)
            return diff
        prev = self.last.get(episode)
        if prev is None:
            raise DiffError("a diff with no earlier observation in its episode "
                            "(the episode's first step must have obs_full true)")
        lines = apply_diff(prev, diff)
        self.last[episode] = lines
        return "\n".join(lines)

    def end(self, episode: str) -> None:
        self.last.pop(episode, None)


def segment(action: str, diff: str | None) -> str:
    """One step of history: ``<|action|>a`` and, when the step has one, its observation."""
    if diff is None:
        return f"{ACTION}{action}"
    return f"{ACTION}{action}\n{OBSERVATION}\n{diff}\n"


def window_example(observations: Sequence[str], actions: Sequence[str], *, full: bool = False,
                   paper: bool = False, instruction: str = INSTRUCTION) -> dict:
    """A training example (the released format) from k observations and their k actions.

    prompt = instruction, a blank line, the first observation, a blank line; completion =
    ``<|action|>a0\\n<|observation|>\\n<diff 0->1>\\n<|action|>a1 ... <|action|>a(k-1)``, with full
    observations instead of diffs when ``full``. ``label_spans`` are the completion's
    [start, end) character spans that the released masked loss trains on: each ``<|action|>``,
    its action and the ``<|observation|>`` token after it.
    """
    if len(observations) != len(actions) or not actions:
        raise ValueError("a window needs as many observations as actions, at least one")
    parts, spans, pos = [], [], 0
    for t, action in enumerate(actions):
        last = t == len(actions) - 1
        head = f"{ACTION}{action}" if last else f"{ACTION}{action}\n{OBSERVATION}"
        spans.append([pos, pos + len(head)])
        if last:
            parts.append(head)
            break
        nxt = observations[t + 1]
        body = nxt if full else obs_diff(observations[t], nxt, paper)
        text = f"{head}\n{body}\n"
        parts.append(text)
        pos += len(text)
    return {"prompt": f"{instruction}\n\n{observations[0]}\n\n", "completion": "".join(parts),
            "label_spans": spans}


def history_prompt(instruction: str, observations: Sequence[str], actions: Sequence[str],
                   max_tokens: int | None = None,
                   count_tokens: Callable[[str], int] | None = None,
                   max_history: int | None = None, paper: bool = False) -> str:
    """The prompt for the next action after ``observations`` (o_0..o_t) and ``actions`` (a_0..a_t-1).

    The longest suffix of the history that fits: the oldest kept observation in full, then one
    ``<|action|>a`` / ``<|observation|>`` diff pair per later step, ending on ``<|action|>``. With
    ``max_tokens`` (counted by ``count_tokens``) steps are dropped from the old end until the
    prompt fits; at least the current observation is always kept.
    """
    return build_prompt(instruction, observations, actions, max_tokens, count_tokens,
                        max_history, paper)[0]


def build_prompt(instruction, observations, actions, max_tokens=None, count_tokens=None,
                 max_history=None, paper=False, pieces=None) -> tuple[str, int, int | None]:
    """(prompt, steps of history kept, its token count or None): see :func:`history_prompt`.

    ``pieces``, when given, are the steps' :func:`segment` texts already made (``pieces[i]`` for
    the step from observation i to i + 1), so that a caller building a prompt at every step
    computes each diff once.
    """
    if not observations:
        raise ValueError("no observations")
    if len(actions) != len(observations) - 1:
        raise ValueError("one action is needed between each two observations")
    t = len(observations) - 1
    oldest = 0 if max_history is None else max(0, t - max_history)
    if pieces is None:
        pieces = [""] * oldest + [segment(actions[i], obs_diff(observations[i],
                                                               observations[i + 1], paper))
                                  for i in range(oldest, t)]

    def text(first: int) -> str:  # history from observation `first` on
        return (f"{instruction}\n\n{observations[first]}\n\n" +
                "".join(pieces[first:t]) + ACTION)

    if max_tokens is None:
        return text(oldest), t - oldest, None
    count = count_tokens or approx_tokens
    # The smallest `first` whose prompt fits (counts fall as `first` rises, give or take one
    # observation's length): probe back from the newest step in doubling strides, so no prompt
    # much longer than the budget is ever built, then bisect between the last fit and the miss.
    n = count(text(t))
    if n > max_tokens:
        return text(t), 0, n
    fit, stride, miss = (t, n), 1, None
    while fit[0] > oldest:
        probe = max(oldest, t - stride)
        n = count(text(probe))
        if n > max_tokens:
            miss = probe
            break
        fit, stride = (probe, n), stride * 2
    if miss is not None:
        lo, hi = miss + 1, fit[0] - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            n = count(text(mid))
            if n <= max_tokens:
                fit, hi = (mid, n), mid - 1
            else:
                lo = mid + 1
    return text(fit[0]), t - fit[0], fit[1]


def approx_tokens(text: str) -> int:
    """The fallback count when no tokenizer is given: one token per 4 UTF-8 bytes, rounded up
    (GPT-2's BPE averages about 4 bytes per token on English)."""
    return -(-len(text.encode()) // 4)
