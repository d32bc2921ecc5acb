"""A two-level agent: a high level that picks a subgoal (a string) and a low level that acts on it.

The low level is any policy kind over the environment's observation whose ``mission`` is set to
the current subgoal string (a BabyAIPolicy cloned on subgoal phrases), with a "finished" head: a
linear layer over its features with two outputs (not finished, finished), as
core.learn.bc trains it (``aux_labels={"finished": w}``). The high level is a BabyAIPolicy whose
"actions" are indices into ``subgoals``; it reads the observation with the task's own mission
at the steps where a segment starts, and its recurrent state (if any) advances only there.

One step, ``policy(obs, state, first)``: a segment starts in a row where the episode starts
(``first``), where the low level's finished head said "finished" (probability > 0.5) after the
previous step, or where the segment has run ``max_segment`` steps. There the high level
chooses (argmax, or a sample with ``sample_high``) and the low level's state resets; the low
level then gives the action logits for the row's current subgoal. So bench's ``--agent policy``
plays the hierarchy as any other policy.

The state per row is a tuple ``(high, subgoal, steps, low, finished)``: the high level's state
(None when feed-forward), the current subgoal index [B], the steps taken in the segment [B],
the low level's state, and whether the low level said finished [B].
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import PapertoolsError
from .policies import Policy, _unsqueeze_time, make_policy


def _rows(obs: dict, rows) -> dict:
    """The observation batch restricted to ``rows`` (an index array)."""
    out = {}
    for k, v in obs.items():
        if isinstance(v, (list, tuple)):
            out[k] = [v[i] for i in rows.tolist()]
        elif torch.is_tensor(v):
            out[k] = v[torch.as_tensor(rows, device=v.device)]
        else:
            out[k] = np.asarray(v)[rows.cpu().numpy()]
    return out


def select_rows(state, rows):
    """Rows of a recurrent state (a tuple of [layers, B, H] tensors), or None."""
    if state is None:
        return None
    return tuple(s[:, rows] for s in state)


def assign_rows(state, rows, new):
    """``state`` with ``rows`` replaced by ``new`` (tuples of [layers, B, H] tensors)."""
    if state is None:
        return None
    out = []
    for s, n in zip(state, new):
        s = s.clone()
        s[:, rows] = n
        out.append(s)
    return tuple(out)


class HierarchicalPolicy(Policy):
    """The two-level agent (see the module docstring). Constructor arguments (kept in the policy
    folder): ``subgoals`` (the high level's choices, strings), ``low_kind``/``low_kwargs`` (the
    low level: a make_policy kind and its arguments), ``high_kwargs`` (the high level's
    BabyAIPolicy arguments), ``max_segment`` (steps after which a segment ends anyway),
    ``sample_high`` (sample the high level's choice instead of its argmax) and
    ``finished_threshold`` (the finished probability that ends a segment)."""

    recurrent = True  # it always carries the segment's bookkeeping

    def __init__(self, observation_space, action_space, *, subgoals: list[str],
                 low_kind: str = "babyai", low_kwargs: dict | None = None,
                 high_kwargs: dict | None = None, max_segment: int = 32,
                 sample_high: bool = False, finished_threshold: float = 0.5):
        super().__init__()
        from gymnasium import spaces

        if not subgoals:
            raise PapertoolsError("a hierarchy needs at least one subgoal")
        self.subgoals = list(subgoals)
        self.max_segment = int(max_segment)
        self.sample_high = bool(sample_high)
        self.finished_threshold = float(finished_threshold)
        self.low = make_policy(observation_space, action_space, low_kind, **(low_kwargs or {}))
        self.finished_head = nn.Linear(self.low.features_dim, 2)
        self.high = make_policy(observation_space, spaces.Discrete(len(self.subgoals)), "babyai",
                                **(high_kwargs or {}))
        self.n_actions = int(action_space.n)

    # -- the two levels, one call each (the SMDP trainer uses them directly)

    def choose(self, obs: dict, high_state=None, first=None):
        """The high level at segment starts: (subgoal logits [B, K], value [B], new state)
        for a batch of observations that carry the task's mission."""
        return self.high(obs, high_state, first)

    def low_step(self, obs: dict, subgoal, low_state=None, start=None):
        """The low level for one step: (action logits [B, A], value [B], new state, finished
        probability [B]); ``subgoal`` [B] indices, ``start`` [B] where a segment begins."""
        seq = {k: _unsqueeze_time(v) for k, v in obs.items() if k != "mission"}
        seq["mission"] = [[self.subgoals[int(i)]] for i in subgoal.tolist()]
        start = None if start is None else torch.as_tensor(start).reshape(-1, 1)
        logits, value, low_state, feats = self.low.forward_sequence(seq, low_state, start,
                                                                    return_features=True)
        finished = torch.softmax(self.finished_head(feats[:, 0]), -1)[:, 1]
        return logits[:, 0], value[:, 0], low_state, finished

    def initial_state(self, batch_size: int):
        return (self.high.initial_state(batch_size),
                torch.zeros(batch_size, dtype=torch.long),
                torch.zeros(batch_size, dtype=torch.long),
                self.low.initial_state(batch_size),
                torch.zeros(batch_size, dtype=torch.bool))

    def segment_starts(self, state, first=None) -> torch.Tensor:
        """[B] bool: the rows where the next step begins a segment."""
        _, _, steps, _, finished = state
        start = finished | (steps >= self.max_segment)
        if first is not None:
            start = start | torch.as_tensor(first, dtype=torch.bool).reshape(-1).to(start.device)
        return start

    def forward(self, obs: dict, state=None, first=None):
        batch = len(obs["mission"])
        if state is None:
            state = self.initial_state(batch)
            first = torch.ones(batch, dtype=torch.bool)
        high, subgoal, steps, low, _ = state
        start = self.segment_starts(state, first)
        if bool(start.any()):
            rows = torch.nonzero(start).reshape(-1)
            episode_start = (torch.zeros(len(rows), dtype=torch.bool) if first is None else
                             torch.as_tensor(first, dtype=torch.bool).reshape(-1)[rows])
            logits, _, new_high = self.choose(_rows(obs, rows), select_rows(high, rows),
                                              episode_start if self.high.recurrent else None)
            choice = (torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)
                      if self.sample_high else logits.argmax(-1))
            high = assign_rows(high, rows, new_high)
            subgoal = subgoal.clone()
            subgoal[rows] = choice.to(subgoal.device)
            steps = torch.where(start, torch.zeros_like(steps), steps)
        logits, value, low, finished = self.low_step(obs, subgoal, low, start)
        return logits, value, (high, subgoal, steps + 1, low, finished > self.finished_threshold)

    def forward_sequence(self, obs: dict, state=None, first=None):
        """Step by step over T (the hierarchy's switching is sequential)."""
        some = obs["image"]
        b, t = some.shape[0], some.shape[1]
        outs, values = [], []
        for i in range(t):
            step = {k: ([row[i] for row in v] if isinstance(v, (list, tuple)) else v[:, i])
                    for k, v in obs.items()}
            f = None if first is None else torch.as_tensor(first).reshape(b, t)[:, i]
            logits, value, state = self(step, state, f)
            outs.append(logits)
            values.append(value)
        return torch.stack(outs, 1), torch.stack(values, 1), state

    @property
    def features_dim(self) -> int:
        return self.low.features_dim

    def frozen(self):
        from contextlib import ExitStack

        stack = ExitStack()
        stack.enter_context(self.low.frozen())
        stack.enter_context(self.high.frozen())
        return stack


def build_hierarchy(low, finished_state: dict | None, subgoals: list[str],
                    high_kwargs: dict | None = None, max_segment: int = 32,
                    sample_high: bool = False) -> HierarchicalPolicy:
    """A HierarchicalPolicy over a loaded low-level policy (its weights copied in) and its
    finished head's state dict ({"weight", "bias"}; None: a new head), with a new high level
    over ``subgoals``; kind and kwargs set so that save_policy writes a loadable folder."""
    kwargs = dict(subgoals=list(subgoals), low_kind=low.kind, low_kwargs=dict(low.kwargs),
                  high_kwargs=dict(high_kwargs or {}), max_segment=int(max_segment),
                  sample_high=bool(sample_high))
    policy = make_policy(low.observation_space, low.action_space, "hierarchy", **kwargs)
    policy.low.load_state_dict(low.state_dict())
    if finished_state is not None:
        policy.finished_head.load_state_dict(finished_state)
    return policy


def load_low(policy_dir, device="cpu"):
    """(the low-level policy, its finished head's state dict {"weight", "bias"}, policy.json)
    from a low-level policy folder (core.learn.bc's, with aux_heads.pt holding the
    "finished" head)."""
    from pathlib import Path

    from .policies import load_policy

    low, meta = load_policy(policy_dir, device)
    heads = Path(policy_dir) / "aux_heads.pt"
    if not heads.exists():
        raise PapertoolsError(f"{policy_dir} has no aux_heads.pt: the low level needs its "
                              "'finished' head (bc with aux_labels={'finished': w})")
    saved = torch.load(heads, map_location=device, weights_only=True)
    sd = saved["state_dict"]
    if "label_finished.weight" not in sd:
        raise PapertoolsError(f"{heads} has no 'finished' head (it has: "
                              f"{', '.join(sorted(sd))})")
    return low, {"weight": sd["label_finished.weight"], "bias": sd["label_finished.bias"]}, meta


__all__ = ["HierarchicalPolicy", "assign_rows", "build_hierarchy", "load_low", "select_rows"]
