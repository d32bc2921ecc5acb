"""Policy networks for the native environments, one interface for PPO, BC and bench.

A :class:`Policy` maps a batch of native observations (a dict of tensors or numpy arrays; text
fields such as BabyAI's mission as lists of strings, which the policy tokenises itself) to
action logits, a value and a recurrent state::

    logits [B, A], value [B], state = policy(obs, state, first)          # one step
    logits [B, T, A], value [B, T], state = policy.forward_sequence(obs, state, first)

``first`` [B] (or [B, T]) marks observations that begin an episode: the recurrent state is
zeroed there. A feed-forward policy takes and returns ``state=None``.

Kinds (:data:`KINDS`, imported lazily): "babyai" here; "nethack", "crafter",
"hierarchy" (core.learn.hierarchy: a high level choosing subgoal strings for a low level)
and "hihack" (HiHack's strategy-headed NetHack policy) in their own modules. A policy
folder (:func:`save_policy`) holds ``policy.json`` (kind, constructor keyword arguments,
the spaces, what the caller adds: env, run) and ``model.safetensors``, so
:func:`load_policy` rebuilds it without the training code.
"""

from __future__ import annotations

import importlib
import re
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import PapertoolsError

KINDS = {
    "babyai": "papertools.core.learn.policies:BabyAIPolicy",
    "nethack": "papertools.core.learn.nethack_net:NetHackPolicy",
    "crafter": "papertools.core.learn.crafter_net:CrafterPolicy",
    "hierarchy": "papertools.core.learn.hierarchy:HierarchicalPolicy",
    "hihack": "papertools.core.learn.hihack_net:HiHackPolicy",
}

POLICY_JSON, WEIGHTS = "policy.json", "model.safetensors"


class Policy(nn.Module):
    """The interface every policy kind implements (see the module docstring).

    Subclasses define ``forward_sequence``; ``forward`` (one step) runs it with T = 1.
    ``recurrent`` says whether the policy carries a state between steps."""

    recurrent: bool = False

    def initial_state(self, batch_size: int):
        """The state at an episode's start for ``batch_size`` episodes (None when feed-forward)."""
        return None

    def frozen(self):
        """A context in which the weights do not change and no gradients are taken (a PPO
        rollout, an evaluation): the policy may memoise work per input there."""
        return nullcontext()

    def forward(self, obs: dict, state=None, first=None):
        seq = {k: _unsqueeze_time(v) for k, v in obs.items()}
        first = None if first is None else torch.as_tensor(first).reshape(-1, 1)
        logits, value, state = self.forward_sequence(seq, state, first)
        return logits[:, 0], value[:, 0], state

    def forward_sequence(self, obs: dict, state=None, first=None):
        raise NotImplementedError

    @torch.no_grad()
    def act(self, obs: dict, state=None, first=None, deterministic: bool = False):
        """Actions [B] (int64 tensor) for one step, and the next state: the most likely action
        when ``deterministic``, else sampled (torch's global generator)."""
        logits, _, state = self(obs, state, first)
        if deterministic:
            return logits.argmax(-1), state
        return sample(logits), state


def sample(logits):
    """One action per row of ``logits`` from the softmax (torch's global generator)."""
    return torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)


def _unsqueeze_time(v):
    if isinstance(v, (list, tuple)):  # strings: [B] -> [B][1]
        return [[s] for s in v]
    return v[:, None]


# ---------------------------------------------------------------------------------------------
# BabyAI and MiniGrid


# BabyAI's grammar and MiniGrid's missions: a fixed vocabulary, so that a policy folder means
# the same ids everywhere. A word outside it maps to UNK (id 1); id 0 pads.
WORDS = tuple("""
a after and ball behind blue box door front go green grey in key left
next object of on open pick purple put red right the then to up yellow you your
avoid cross doors fetch find get goal lava locked matching near reach room rooms square
traverse unlock use wall color colour same match corridor toggle first second third fourth
""".split())
PAD, UNK = 0, 1
_WORD = re.compile(r"[a-z]+")


def mission_vocab(extra=()) -> list[str]:
    """The word list (ids from 2 on): :data:`WORDS` and ``extra`` words, deduplicated."""
    return list(dict.fromkeys([*WORDS, *extra]))


class MissionTokens:
    """Missions to padded word ids, memoised per string (a level has few missions).

    Lower-case alphabetic words (``[a-z]+``); a word outside the vocabulary is UNK, so any
    text encodes, deterministically."""

    def __init__(self, vocab: list[str]):
        self.ids = {w: i + 2 for i, w in enumerate(vocab)}
        self.cache: dict[str, list[int]] = {}

    def __call__(self, missions) -> tuple[np.ndarray, np.ndarray]:
        """(ids [N, L] int64, lengths [N]) for ``missions`` (N strings)."""
        rows = []
        for m in missions:
            ids = self.cache.get(m)
            if ids is None:
                ids = [self.ids.get(w, UNK) for w in _WORD.findall(m.lower())] or [UNK]
                self.cache[m] = ids
            rows.append(ids)
        width = max(len(r) for r in rows)
        out = np.zeros((len(rows), width), np.int64)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
        return out, np.array([len(r) for r in rows], np.int64)


class BabyAIEncoder(nn.Module):
    """The grid and the mission to a feature vector.

    The 7x7x3 grid's object, colour and state indices each get an embedding (concatenated:
    3 x ``embed`` channels), two 3x3 convolutions, FiLM (a per-channel scale and shift computed
    from the mission, as in the BabyAI baselines), a 2x2 max-pool and a linear layer to
    ``features``. The mission is encoded by a GRU over word embeddings (its last hidden state).
    ``early_film`` adds a second FiLM on the cell embeddings themselves, before the first
    convolution: an instruction word can then weigh each cell's own object and colour features
    directly; ``pair_embed`` adds a fourth embedding per cell, of its object and colour
    together, so a word naming a set of objects (a category) can select their identities
    linearly. Both are relabel's (cli/relabel/pipeline.py has the probes that chose them).
    """

    def __init__(self, vocab_size: int, embed: int = 8, channels: int = 16, words: int = 32,
                 text_hidden: int = 64, features: int = 128, early_film: bool = False,
                 pair_embed: bool = False):
        super().__init__()
        self.grid_embed = nn.Embedding(3 * 16, embed)
        # one more embedding per cell, of its object and colour together (16 x 16 ids): an
        # object's identity as one feature, which a set of identities (a category) can select
        self.pair_embed = nn.Embedding(16 * 16, embed) if pair_embed else None
        cells = (4 if pair_embed else 3) * embed
        # FiLM on the cells' embeddings too, before any convolution: the mission scales each
        # cell's own object, colour and state features, so "red" can pick out red cells at once
        self.early_film = nn.Linear(text_hidden, 2 * cells) if early_film else None
        self.register_buffer("offsets", torch.tensor([0, 16, 32]), persistent=False)
        self.conv1 = nn.Conv2d(cells, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.word_embed = nn.Embedding(vocab_size, words, padding_idx=PAD)
        self.gru = nn.GRU(words, text_hidden, batch_first=True)
        self.film = nn.Linear(text_hidden, 2 * channels)
        self.out = nn.Linear(channels * 3 * 3, features)
        self.channels = channels

    def encode_text(self, ids, lengths):
        """[N, L] word ids, [N] lengths -> [N, text_hidden]."""
        packed = nn.utils.rnn.pack_padded_sequence(self.word_embed(ids), lengths.cpu(),
                                                   batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return h[0]

    def forward(self, image, text):
        """image [N, 7, 7, 3] integer, text [N, text_hidden] -> [N, features]."""
        idx = image.long().clamp_(0, 15) + self.offsets
        x = self.grid_embed(idx).flatten(3)  # N, 7, 7, 3*embed
        if self.pair_embed is not None:
            pair = idx[..., 0] * 16 + (idx[..., 1] - 16)
            x = torch.cat([x, self.pair_embed(pair)], -1)
        x = x.permute(0, 3, 1, 2)  # N, cells, 7, 7
        if self.early_film is not None:
            g0, b0 = self.early_film(text).chunk(2, -1)
            x = x * (1 + g0[:, :, None, None]) + b0[:, :, None, None]
        x = torch.relu(self.conv1(x))
        x = self.conv2(x)
        gamma, beta = self.film(text).chunk(2, -1)
        x = torch.relu(x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])
        x = nn.functional.max_pool2d(x, 2)
        return torch.relu(self.out(x.flatten(1)))


def orthogonal_init(module: nn.Module, gains: dict | None = None) -> None:
    """PPO's usual initialisation (cleanrl's and stable-baselines3's): orthogonal weights with
    gain sqrt(2) for every linear and convolution layer, zero biases; ``gains`` overrides the
    gain of given layers (the actor's output 0.01, the critic's 1)."""
    gains = gains or {}
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gains.get(m, 2 ** 0.5))
            nn.init.zeros_(m.bias)


class SentenceVectors:
    """The packaged MiniLM's sentence vectors for missions, memoised per string (frozen: a
    level has few missions). Not a module, so the policy's state dict leaves it out."""

    def __init__(self, name: str = "minilm"):
        from ..models.encoders import load_encoder

        self.encoder = load_encoder(name)
        self.dim = self.encoder.dim
        self.memo: dict[str, torch.Tensor] = {}

    def __call__(self, missions: list[str]) -> torch.Tensor:
        todo = [m for m in dict.fromkeys(missions) if m not in self.memo]
        if todo:
            for m, v in zip(todo, self.encoder.encode(todo)):
                self.memo[m] = torch.from_numpy(v)
        return torch.stack([self.memo[m] for m in missions])


def _head(features: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, out))


class BabyAIPolicy(Policy):
    """BabyAI and MiniGrid: :class:`BabyAIEncoder`, an optional LSTM core (``recurrent``:
    memory across steps, zeroed at episode starts), actor and critic heads (one hidden layer
    of ``head_hidden``, tanh). Observations: ``image`` [.., 7, 7, 3] and ``mission`` (strings);
    ``direction`` is not used (the grid is already egocentric).

    ``instruction_encoder``: "gru" (the word GRU) or "minilm": the packaged MiniLM sentence
    encoder (core.models.encoders, frozen, not saved with the policy: the package provides
    it), each mission's vector computed once per process, then a trained linear projection
    in place of the GRU's state (the word GRU's weights stay, unused). ``early_film`` and
    ``pair_embed``: :class:`BabyAIEncoder`'s options."""

    def __init__(self, n_actions: int, *, recurrent: bool = False, memory: int = 128,
                 vocab: list[str] | None = None, embed: int = 8, channels: int = 16,
                 words: int = 32, text_hidden: int = 64, features: int = 128,
                 head_hidden: int = 64, instruction_encoder: str = "gru", early_film: bool = False,
                 pair_embed: bool = False):
        super().__init__()
        if instruction_encoder not in ("gru", "minilm"):
            raise PapertoolsError(f"unknown instruction_encoder {instruction_encoder!r} "
                                  "(known: gru, minilm)")
        self.vocab = list(vocab) if vocab is not None else mission_vocab()
        self.tokens = MissionTokens(self.vocab)
        self.encoder = BabyAIEncoder(len(self.vocab) + 2, embed, channels, words, text_hidden,
                                     features, early_film, pair_embed)
        self.recurrent = recurrent
        self.memory = memory
        self.core = nn.LSTM(features, memory, batch_first=True) if recurrent else None
        width = memory if recurrent else features
        self.actor = _head(width, head_hidden, n_actions)
        self.critic = _head(width, head_hidden, 1)
        self.n_actions = n_actions
        self._text_memo: dict | None = None  # mission -> encoding, inside frozen()
        self.instruction_encoder = instruction_encoder
        if instruction_encoder == "minilm":  # frozen sentence vectors, projected (trained)
            self.sentences = SentenceVectors()
            self.project = nn.Linear(self.sentences.dim, text_hidden)
        orthogonal_init(self, {self.actor[-1]: 0.01, self.critic[-1]: 1.0})

    def initial_state(self, batch_size: int):
        if not self.recurrent:
            return None
        zeros = torch.zeros(1, batch_size, self.memory)
        return (zeros, zeros.clone())

    @contextmanager
    def frozen(self):
        """Inside, each mission's encoding is computed once and remembered (the weights are
        fixed there), so a rollout runs the word GRU once per distinct mission."""
        self._text_memo = {}
        try:
            yield
        finally:
            self._text_memo = None

    def mission_features(self, missions) -> torch.Tensor:
        """The GRU's encoding of each mission (strings), computed once per distinct mission."""
        unique = list(dict.fromkeys(missions))
        memo = self._text_memo
        if memo is not None and not torch.is_grad_enabled():
            todo = [m for m in unique if m not in memo]
            if todo:
                for m, row in zip(todo, self._encode_missions(todo)):
                    memo[m] = row
            text = torch.stack([memo[m] for m in unique])
        else:
            text = self._encode_missions(unique)
        device = text.device
        if len(unique) == 1:
            return text.expand(len(missions), -1)
        where = {m: i for i, m in enumerate(unique)}
        return text[torch.tensor([where[m] for m in missions], device=device)]

    def _encode_missions(self, missions: list[str]) -> torch.Tensor:
        if self.instruction_encoder == "minilm":
            device = self.encoder.offsets.device
            return self.project(self.sentences(missions).to(device))
        ids, lengths = self.tokens(missions)
        return self.encoder.encode_text(torch.from_numpy(ids).to(self.encoder.offsets.device),
                                        torch.from_numpy(lengths))

    def features(self, obs: dict, batch_shape: tuple) -> torch.Tensor:
        """The encoder over a batch of B*T observations -> [B, T, features]."""
        device = self.encoder.offsets.device
        image = torch.as_tensor(np.asarray(obs["image"]) if not torch.is_tensor(obs["image"])
                                else obs["image"], device=device)
        image = image.reshape(-1, *image.shape[-3:])
        missions = _flat_strings(obs["mission"])
        feats = self.encoder(image, self.mission_features(missions))
        return feats.reshape(*batch_shape, -1)

    @property
    def features_dim(self) -> int:
        """The width of what the heads read (BC's auxiliary label heads read it too)."""
        return self.memory if self.recurrent else self.encoder.out.out_features

    @property
    def frame_dim(self) -> int:
        """The width of :meth:`frame_features`."""
        return self.encoder.out.out_features

    def frame_features(self, obs: dict) -> torch.Tensor:
        """The torso: obs [B,T,...] -> per-frame features [B,T,F], before the recurrent
        core (what offline pre-training learns; every module but core, actor and critic)."""
        image = obs["image"]
        return self.features(obs, (image.shape[0], image.shape[1]))

    def forward_sequence(self, obs: dict, state=None, first=None, return_features=False):
        x = self.frame_features(obs)
        if self.recurrent:
            x, state = self._run_core(x, state, first)
        out = (self.actor(x), self.critic(x).squeeze(-1), state)
        return (*out, x) if return_features else out

    def _run_core(self, x, state, first):
        b, t = x.shape[:2]
        if state is None:
            state = self.initial_state(b)
        if first is None:
            return self.core(x, state)
        keep = 1.0 - torch.as_tensor(first, dtype=x.dtype, device=x.device).reshape(b, t)
        if t > 1 and bool((keep[:, 1:] == 1).all()):  # no episode starts inside: one call
            h, c = state
            k = keep[:, 0][None, :, None]
            return self.core(x, (h * k, c * k))
        outs = []
        h, c = state
        for i in range(t):
            k = keep[:, i][None, :, None]
            y, (h, c) = self.core(x[:, i:i + 1], (h * k, c * k))
            outs.append(y)
        return torch.cat(outs, 1), (h, c)


def _flat_strings(v) -> list[str]:
    """Strings nested [B] or [B][T] (lists, tuples or numpy arrays) -> a flat list."""
    out = []
    for item in v:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(str(s) for s in item)
    return out


# ---------------------------------------------------------------------------------------------
# Construction, saving and loading


def _kind_class(kind: str):
    if kind not in KINDS:
        raise PapertoolsError(f"unknown policy kind {kind!r} (known: {', '.join(KINDS)})")
    module, name = KINDS[kind].split(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PapertoolsError(f"policy kind {kind!r} is not available: {exc}") from None


def infer_kind(observation_space) -> str:
    """The kind that reads ``observation_space``: a 7x7x3 grid with a mission is BabyAI's;
    glyphs and blstats, or the tty screen, NetHack's; a 64x64x3 image with an inventory Crafter's."""
    keys = set(getattr(observation_space, "spaces", {}) or {})
    if {"image", "mission"} <= keys:
        return "babyai"
    if {"glyphs", "blstats"} <= keys or {"tty_chars", "tty_colors", "tty_cursor"} <= keys:
        return "nethack"  # NLE's arrays, or the screen alone (nhrecord's datasets)
    if {"image", "inventory"} <= keys:
        return "crafter"
    raise PapertoolsError(f"no policy kind reads observations with keys {sorted(keys)}: "
                          "give kind=")


def make_policy(observation_space, action_space, kind: str = "auto", **kw) -> Policy:
    """A new policy of ``kind`` ("auto": from the observation space's keys) for a Discrete
    ``action_space``; ``kw`` go to its constructor (and into the policy folder)."""
    if kind == "auto":
        kind = infer_kind(observation_space)
    cls = _kind_class(kind)
    if kind == "babyai":
        policy = cls(int(action_space.n), **kw)
    else:
        policy = cls(observation_space, action_space, **kw)
    policy.kind, policy.kwargs = kind, dict(kw)
    policy.observation_space, policy.action_space = observation_space, action_space
    return policy


def space_to_json(space) -> dict | None:
    """A JSON description of a gymnasium space (enough to rebuild Box, Discrete, Dict and
    MiniGrid's mission Text space)."""
    if space is None:
        return None
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(s) for k, s in space.spaces.items()}}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": space.low.min().item(), "high": space.high.max().item()}
    return {"type": "Text"}


def space_from_json(d):
    if d is None:
        return None
    from gymnasium import spaces

    kind = d["type"]
    if kind == "Dict":
        return spaces.Dict({k: space_from_json(s) for k, s in d["spaces"].items()})
    if kind == "Discrete":
        return spaces.Discrete(d["n"], start=d.get("start", 0))
    if kind == "Box":
        return spaces.Box(d["low"], d["high"], tuple(d["shape"]), np.dtype(d["dtype"]))
    return spaces.Text(max_length=1024)


def write_weights(path, module: nn.Module) -> Path:
    """``module``'s state dict as ``path/model.safetensors`` (the folder made, the file
    written atomically); returns the folder."""
    from safetensors.torch import save_file

    from ..jsonl import atomic_path

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    return path


def save_policy(path, policy: Policy, meta: dict | None = None) -> Path:
    """Write the policy folder ``path``: policy.json (kind, kwargs, spaces, ``meta``) and
    model.safetensors; each file atomically."""
    from ..jsonl import write_json

    path = write_weights(path, policy)
    info = dict(meta or {})
    info.update(kind=policy.kind, kwargs=policy.kwargs,
                observation_space=space_to_json(policy.observation_space),
                action_space=space_to_json(policy.action_space))
    write_json(path / POLICY_JSON, info)
    return path


def load_policy(path, device="cpu") -> tuple[Policy, dict]:
    """(the policy in eval mode, policy.json's contents) from a policy folder."""
    import orjson
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / POLICY_JSON).exists():
        raise PapertoolsError(f"{path} is not a policy folder (no {POLICY_JSON})")
    meta = orjson.loads((path / POLICY_JSON).read_bytes())
    policy = make_policy(space_from_json(meta["observation_space"]),
                         space_from_json(meta["action_space"]), meta["kind"], **meta["kwargs"])
    policy.load_state_dict(load_file(str(path / WEIGHTS), device=str(device)))
    return policy.to(device).eval(), meta


__all__ = ["KINDS", "BabyAIEncoder", "BabyAIPolicy", "MissionTokens", "Policy", "WORDS",
           "infer_kind", "load_policy", "make_policy", "mission_vocab", "sample", "save_policy",
           "write_weights"]
