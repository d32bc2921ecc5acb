"""The NetHack policy: a recurrent encoder in the spirit of the NetHack Challenge's CDGPT5
baseline (an LSTM over the whole map, an egocentric crop, the bottom-line stats and the message).

Two input modes, read from the observation space:

- ``glyphs`` (NLE's own observations): glyph ids embedded, a CNN over the whole 21x79 map, a
  smaller CNN over a ``crop`` x ``crop`` window of the map centred on the agent (its column and
  row are ``blstats[0]`` and ``blstats[1]``), an MLP over the bottom-line stats (each squashed as
  sign(x) log(1 + |x|), since they range from 0/1 flags to the turn counter), and a 1-D CNN over
  the message's bytes.
- ``tty`` (what nhrecord's recorded games keep: ``tty_chars``, ``tty_colors``, ``tty_cursor``):
  characters and colours embedded, the CNN over the whole 24x80 screen (the map and the two
  status lines), the crop centred on the cursor (which rests on the agent after a move), and the
  message read from the screen's top line; ``blstats`` is used too when the space has it.

The encodings are concatenated, projected to ``hidden`` and fed to an LSTM cell (reset where an
episode begins); the actor (action logits) and critic (value) heads read its output, which is
also the ``features`` that auxiliary heads (behavioural cloning's label heads) read. The actor
is one linear layer, or with ``head_hidden`` > 0 an MLP (Linear, ELU, Linear): the flat
baseline whose size matches HiHack's strategy-headed policy (core.learn.hihack_net, which
reuses this torso through :meth:`NetHackPolicy.encode`).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import SequencePolicy, as_tensor, elu_convs, flat_size, lstm_unroll

MODES = ("auto", "glyphs", "tty")


class NetHackPolicy(SequencePolicy):
    """``NetHackPolicy(observation_space, action_space, mode="auto", crop=9, embed_dim=16,
    hidden=256, head_hidden=0)``: a gymnasium Dict space (NLE's) and a Discrete action space;
    ``head_hidden`` > 0 makes the actor an MLP with that hidden width."""

    kind = "nethack"

    def __init__(self, observation_space, action_space, mode: str = "auto", crop: int = 9,
                 embed_dim: int = 16, hidden: int = 256, head_hidden: int = 0):
        super().__init__()
        keys = set(observation_space.spaces)
        if mode == "auto":
            mode = "glyphs" if "glyphs" in keys else "tty"
        if mode not in MODES[1:]:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        needed = {"glyphs": ("glyphs", "blstats"),
                  "tty": ("tty_chars", "tty_colors", "tty_cursor")}[mode]
        missing = [k for k in needed if k not in keys]
        if missing:
            raise ValueError(f"the {mode} mode needs the observation keys {', '.join(missing)}")
        if crop % 2 != 1:
            raise ValueError(f"crop must be odd (the agent in the middle), got {crop}")
        self.kwargs = dict(mode=mode, crop=crop, embed_dim=embed_dim, hidden=hidden)
        if head_hidden:
            self.kwargs["head_hidden"] = head_hidden
        self.recurrent = True
        self.mode, self.crop = mode, crop
        self.n_actions = int(action_space.n)
        self.features_dim = hidden
        self.use_blstats = "blstats" in keys
        self.use_message = mode == "tty" or "message" in keys

        if mode == "glyphs":
            screen_shape = observation_space["glyphs"].shape  # (21, 79)
            self.n_ids = int(observation_space["glyphs"].high.max()) + 1
            self.embed = nn.Embedding(self.n_ids + 1, embed_dim)  # + the padding id
            channels = embed_dim
        else:
            screen_shape = observation_space["tty_chars"].shape  # (24, 80)
            self.n_ids = 256
            self.embed = nn.Embedding(self.n_ids + 1, embed_dim)  # characters + padding
            self.embed_color = nn.Embedding(33, embed_dim // 2)  # 32 colours + padding
            channels = embed_dim + embed_dim // 2
        # the whole screen: three stride-2 convolutions, then a linear layer
        self.screen_cnn = elu_convs((channels, 32, 32, 32))
        self.screen_fc = nn.Linear(flat_size(self.screen_cnn, (channels, *screen_shape)), hidden)
        # the crop around the agent at full resolution
        self.crop_cnn = elu_convs((channels, 32, 32), stride=1)
        self.crop_fc = nn.Linear(32 * crop * crop, hidden)
        width = 2 * hidden
        if self.use_blstats:
            n = observation_space["blstats"].shape[0]
            self.blstats_mlp = nn.Sequential(nn.Linear(n, 64), nn.ELU(), nn.Linear(64, 64),
                                             nn.ELU())
            width += 64
        if self.use_message:
            self.message_embed = nn.Embedding(256, 16, padding_idx=0)
            self.message_cnn = nn.Sequential(nn.Conv1d(16, 32, 5, 2), nn.ELU(),
                                             nn.Conv1d(32, 64, 5, 2), nn.ELU())
            width += 64
        self.project = nn.Sequential(nn.Linear(width, hidden), nn.ELU())
        self.core = nn.LSTMCell(hidden, hidden)
        self.actor = (nn.Sequential(nn.Linear(hidden, head_hidden), nn.ELU(),
                                    nn.Linear(head_hidden, self.n_actions))
                      if head_hidden else nn.Linear(hidden, self.n_actions))
        self.critic = nn.Linear(hidden, 1)

    def initial_state(self, batch_size: int):
        """(h, c), zeros of [batch_size, hidden]."""
        return self.lstm_state(batch_size)

    # -- encoders, over N = B*T frames

    def _screen(self, obs, device):
        """(embedded screen [N,C,H,W], padded ids for the crop, row [N], column [N])."""
        if self.mode == "glyphs":
            ids = as_tensor(obs["glyphs"], device, torch.long).flatten(0, 1)  # [N,21,79]
            pos = as_tensor(obs["blstats"], device, torch.long).flatten(0, 1)
            row, col = pos[:, 1], pos[:, 0]
            maps = self.embed(ids)  # [N,H,W,E]
            colors = None
        else:
            ids = as_tensor(obs["tty_chars"], device, torch.long).flatten(0, 1)  # [N,24,80]
            colors = as_tensor(obs["tty_colors"], device, torch.long).flatten(0, 1).clamp(0, 31)
            cursor = as_tensor(obs["tty_cursor"], device, torch.long).flatten(0, 1)
            row, col = cursor[:, 0], cursor[:, 1]
            maps = torch.cat([self.embed(ids), self.embed_color(colors)], -1)
        return maps.permute(0, 3, 1, 2), ids, colors, row, col

    def _crop(self, ids, colors, row, col):
        """The embedded crop x crop window centred on (row, col), padded outside the screen."""
        r = self.crop // 2
        n, h, w = ids.shape
        row, col = row.clamp(0, h - 1), col.clamp(0, w - 1)
        offsets = torch.arange(self.crop, device=ids.device)
        rows = (row[:, None] + offsets)[:, :, None]  # [N,crop,1] in padded coordinates
        cols = (col[:, None] + offsets)[:, None, :]  # [N,1,crop]
        batch = torch.arange(n, device=ids.device)[:, None, None]
        window = nn.functional.pad(ids, (r, r, r, r), value=self.n_ids)[batch, rows, cols]
        embedded = self.embed(window)
        if colors is not None:
            padded = nn.functional.pad(colors, (r, r, r, r), value=32)[batch, rows, cols]
            embedded = torch.cat([embedded, self.embed_color(padded)], -1)
        return embedded.permute(0, 3, 1, 2)  # [N,C,crop,crop]

    def _message(self, obs, device, ids):
        if self.mode == "glyphs":
            msg = as_tensor(obs["message"], device, torch.long).flatten(0, 1)  # [N,256]
        else:
            msg = ids[:, 0]  # the screen's top line [N,80]
        x = self.message_embed(msg).transpose(1, 2)  # [N,16,L]
        return self.message_cnn(x).amax(-1)  # [N,64]

    @property
    def frame_dim(self) -> int:
        """The width of :meth:`frame_features`."""
        return self.features_dim

    def frame_features(self, obs: dict) -> torch.Tensor:
        """The per-frame encoder: obs [B,T,...] -> [B,T,hidden], before the LSTM core (what
        offline pre-training learns; every module but core, actor and critic)."""
        device = self._device()
        key = "glyphs" if self.mode == "glyphs" else "tty_chars"
        b, t = obs[key].shape[:2]
        maps, ids, colors, row, col = self._screen(obs, device)
        parts = [self.screen_fc(self.screen_cnn(maps).flatten(1)),
                 self.crop_fc(self.crop_cnn(self._crop(ids, colors, row, col)).flatten(1))]
        if self.use_blstats:
            stats = as_tensor(obs["blstats"], device, torch.float32).flatten(0, 1)
            parts.append(self.blstats_mlp(stats.sign() * stats.abs().log1p()))
        if self.use_message:
            parts.append(self._message(obs, device, ids))
        return self.project(torch.cat(parts, -1)).view(b, t, -1)  # [B,T,hidden]

    def encode(self, obs: dict, state=None, first=None):
        """The torso and the core: obs [B,T,...], first [B,T] -> (features [B,T,hidden],
        state), the LSTM's output that every head reads."""
        x = self.frame_features(obs)
        b = x.shape[0]
        device = x.device
        if state is None:
            state = self.initial_state(b)
        if first is not None:
            first = as_tensor(first, device, torch.bool)
        return lstm_unroll(self.core, x, state, first)  # [B,T,hidden]

    def forward_sequence(self, obs: dict, state=None, first=None, return_features=False):
        """obs [B,T,...], first [B,T] -> (logits [B,T,A], value [B,T], state[, features])."""
        features, state = self.encode(obs, state, first)
        logits, value = self.actor(features), self.critic(features).squeeze(-1)
        if return_features:
            return logits, value, state, features
        return logits, value, state
