"""A progress model learned from observation-only demonstrations, and the shaping reward PPO
adds from it (Bruce et al.'s ELE, used by Mazoure et al. 2023).

:class:`ProgressModel` reads two observations of one task, a then b, and predicts
symlog(t_b - t_a): how many steps an expert takes from a to b, compressed (symlog(x) =
sign(x) log(1 + |x|), so a gap of 1 is 0.69 and one of 100 is 4.6). Its input, per
observation, is the per-frame torso of the online policy's kind (``frame_features``, built by
``make_policy`` over the same spaces, with weights of its own), and an MLP reads
(e_a, e_b, e_b - e_a): the two embeddings for context and their difference, which makes a
change of state easy to read off (the same frame twice gives a zero difference).

:class:`ProgressShaping` turns it into a reward during online play: at step t of an episode
the bonus is alpha * f(s_max(t-k, start), s_t), the predicted progress over the last k steps
(0 on an episode's first observation).

A progress folder (:func:`save_progress`): ``progress.json`` (the spaces, kind, policy
arguments, the MLP's width and what the trainer adds) and ``model.safetensors``.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import PapertoolsError

PROGRESS_JSON, WEIGHTS = "progress.json", "model.safetensors"


def symlog(x):
    """sign(x) * log(1 + |x|), for numpy arrays, tensors and numbers."""
    if torch.is_tensor(x):
        return torch.sign(x) * torch.log1p(torch.abs(x))
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def _frames_T1(obs: dict) -> dict:
    """A batch of single frames {key: [N, ...]} as sequences of one step {key: [N, 1, ...]};
    strings (the mission) as [N][1] lists."""
    out = {}
    for key, value in obs.items():
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray)
                                                and value.dtype.kind in "OUS"):
            out[key] = [[str(s)] for s in value]
        else:
            out[key] = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value)
                                       else value)[:, None]
    return out


def _concat(a: dict, b: dict) -> dict:
    """Two frame batches as one, a's rows first."""
    out = {}
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, list):
            out[key] = x + y
        else:
            out[key] = torch.cat([x, y], 0)
    return out


def pair_embeddings(policy, obs_a: dict, obs_b: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy's torso over two batches of single frames ({key: [N, ...]} each), in one
    call: (e_a [N, F], e_b [N, F])."""
    n = len(next(iter(obs_a.values())))
    both = policy.frame_features(_concat(_frames_T1(obs_a), _frames_T1(obs_b)))[:, 0]
    return both[:n], both[n:]


class ProgressModel(nn.Module):
    """``ProgressModel(observation_space, action_space, kind="auto", policy_kwargs=None,
    hidden=128)``: ``torso`` is a policy of ``kind`` (only its ``frame_features`` are used);
    ``forward(obs_a, obs_b) -> [N]`` predicted symlog(t_b - t_a)."""

    def __init__(self, observation_space, action_space, kind: str = "auto",
                 policy_kwargs: dict | None = None, hidden: int = 128):
        super().__init__()
        from .policies import make_policy

        self.torso = make_policy(observation_space, action_space, kind, **(policy_kwargs or {}))
        self.kind, self.policy_kwargs, self.hidden = self.torso.kind, dict(policy_kwargs or {}), hidden
        width = self.torso.frame_dim
        self.mlp = nn.Sequential(nn.Linear(3 * width, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def head(self, e_a: torch.Tensor, e_b: torch.Tensor) -> torch.Tensor:
        """[N, F] x 2 -> [N]: the MLP over (e_a, e_b, e_b - e_a)."""
        return self.mlp(torch.cat([e_a, e_b, e_b - e_a], -1)).squeeze(-1)

    def forward(self, obs_a: dict, obs_b: dict) -> torch.Tensor:
        return self.head(*pair_embeddings(self.torso, obs_a, obs_b))

    @torch.no_grad()
    def predict(self, obs_a: dict, obs_b: dict) -> np.ndarray:
        """[N] float32 predictions, no gradient, in eval mode (the mode is put back)."""
        if len(next(iter(obs_a.values()))) == 0:
            return np.zeros(0, np.float32)
        was = self.training
        self.eval()
        try:
            with self.torso.frozen():
                return self(obs_a, obs_b).float().cpu().numpy()
        finally:
            self.train(was)


def save_progress(path, model: ProgressModel, meta: dict | None = None) -> Path:
    """Write the progress folder ``path``: progress.json and model.safetensors (atomically)."""
    from ..jsonl import write_json
    from .policies import space_to_json, write_weights

    path = write_weights(path, model)
    info = dict(meta or {})
    info.update(kind=model.kind, policy_kwargs=model.policy_kwargs, hidden=model.hidden,
                observation_space=space_to_json(model.torso.observation_space),
                action_space=space_to_json(model.torso.action_space))
    write_json(path / PROGRESS_JSON, info)
    return path


def load_progress(path, device="cpu") -> ProgressModel:
    """The progress model (eval mode) of a progress folder, or of a run folder holding one
    as ``progress/`` (``pretrain reward``'s RUN); ``model.meta`` is progress.json."""
    import orjson
    from safetensors.torch import load_file

    from .policies import space_from_json

    path = Path(path)
    if not (path / PROGRESS_JSON).exists() and (path / "progress" / PROGRESS_JSON).exists():
        path = path / "progress"
    if not (path / PROGRESS_JSON).exists():
        raise PapertoolsError(f"{path} is not a progress folder (no {PROGRESS_JSON})")
    meta = orjson.loads((path / PROGRESS_JSON).read_bytes())
    model = ProgressModel(space_from_json(meta["observation_space"]),
                          space_from_json(meta["action_space"]), meta["kind"],
                          meta["policy_kwargs"], meta["hidden"])
    model.load_state_dict(load_file(str(path / WEIGHTS), device=str(device)))
    model.meta = meta
    return model.to(device).eval()


class ProgressShaping:
    """The shaping bonus of a vector env's steps: ``bonus = shaping(obs, first)``.

    ``obs``: the observation batch a vector env returned ({key: [n_envs, ...]}), ``first``
    [n_envs] bool: True where that observation begins an episode. Each env keeps its episode's
    last k + 1 observations; the bonus of env e is alpha * predict(s_max(t-k, start), s_t),
    and 0 where ``first`` (nothing came before in the episode). ``state_dict()`` /
    ``load_state_dict()`` carry those windows (numpy, picklable) for an exact resume."""

    def __init__(self, model: ProgressModel, alpha: float, k: int, n_envs: int):
        if k < 1:
            raise PapertoolsError(f"the progress window k must be at least 1, got {k}")
        self.model, self.alpha, self.k, self.n_envs = model, float(alpha), int(k), int(n_envs)
        self.windows = [deque(maxlen=self.k + 1) for _ in range(self.n_envs)]

    def __call__(self, obs: dict, first) -> np.ndarray:
        first = np.asarray(first, bool).reshape(self.n_envs)
        for e in range(self.n_envs):
            frame = {key: _row(value, e) for key, value in obs.items()}
            if first[e]:
                self.windows[e].clear()
            self.windows[e].append(frame)
        bonus = np.zeros(self.n_envs, np.float32)
        scored = [e for e in range(self.n_envs) if not first[e] and len(self.windows[e]) > 1]
        if scored:
            a = _stack([self.windows[e][0] for e in scored])
            b = _stack([self.windows[e][-1] for e in scored])
            bonus[scored] = self.alpha * self.model.predict(a, b)
        return bonus

    def state_dict(self) -> dict:
        return {"alpha": self.alpha, "k": self.k, "n_envs": self.n_envs,
                "windows": [list(w) for w in self.windows]}

    def load_state_dict(self, state: dict) -> None:
        if (state["k"], state["n_envs"]) != (self.k, self.n_envs):
            raise PapertoolsError(f"the shaping state is for k={state['k']}, "
                                  f"n_envs={state['n_envs']}, not k={self.k}, "
                                  f"n_envs={self.n_envs}")
        self.alpha = state["alpha"]
        self.windows = [deque(w, maxlen=self.k + 1) for w in state["windows"]]


def _row(value, e: int):
    if isinstance(value, (list, tuple)):
        return value[e]
    item = value[e]
    if isinstance(item, np.ndarray):
        return item.copy()
    if torch.is_tensor(item):
        return item.detach().cpu().numpy().copy()
    return item


def _stack(frames: list[dict]) -> dict:
    out = {}
    for key in frames[0]:
        values = [f[key] for f in frames]
        out[key] = (np.array(values, dtype=object) if isinstance(values[0], str)
                    else np.stack([np.asarray(v) for v in values]))
    return out


__all__ = ["ProgressModel", "ProgressShaping", "load_progress", "pair_embeddings",
           "save_progress", "symlog"]
