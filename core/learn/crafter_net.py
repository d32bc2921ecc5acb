"""The Crafter policy: a small CNN over the 64x64 RGB view and an MLP over the inventory.

Three stride-2 convolutions (64 -> 32 -> 16 -> 8 pixels; any image size works) and a linear
layer encode the image scaled to [0, 1]; the inventory counts, squashed as log(1 + n), go
through one linear layer; both are concatenated and projected to ``hidden``. With
``recurrent=True`` an LSTM cell (reset where an episode begins) follows, else the policy is
feed-forward and its state is None. The actor and critic heads read the last hidden layer,
which is also the ``features`` that auxiliary heads read.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import SequencePolicy, as_tensor, elu_convs, flat_size, lstm_unroll


class CrafterPolicy(SequencePolicy):
    """``CrafterPolicy(observation_space, action_space, hidden=256, recurrent=False)``: a Dict
    space with ``image`` (H, W, 3) uint8 and ``inventory`` (N,), a Discrete action space."""

    kind = "crafter"

    def __init__(self, observation_space, action_space, hidden: int = 256,
                 recurrent: bool = False):
        super().__init__()
        self.kwargs = dict(hidden=hidden, recurrent=recurrent)
        self.recurrent = recurrent
        self.features_dim = hidden
        self.n_actions = int(action_space.n)
        height, width, channels = observation_space["image"].shape
        self.cnn = elu_convs((channels, 32, 64, 64))
        self.image_fc = nn.Linear(flat_size(self.cnn, (channels, height, width)), hidden)
        self.use_inventory = "inventory" in observation_space.spaces
        n_inv = observation_space["inventory"].shape[0] if self.use_inventory else 0
        self.inventory_fc = nn.Linear(n_inv, 64) if self.use_inventory else None
        self.project = nn.Sequential(nn.ELU(), nn.Linear(hidden + (64 if n_inv else 0), hidden),
                                     nn.ELU())
        self.core = nn.LSTMCell(hidden, hidden) if recurrent else None
        self.actor = nn.Linear(hidden, self.n_actions)
        self.critic = nn.Linear(hidden, 1)

    def initial_state(self, batch_size: int):
        """(h, c) zeros of [batch_size, hidden] when recurrent, else None."""
        return self.lstm_state(batch_size) if self.recurrent else None

    @property
    def frame_dim(self) -> int:
        """The width of :meth:`frame_features`."""
        return self.features_dim

    def frame_features(self, obs: dict) -> torch.Tensor:
        """The per-frame encoder: obs [B,T,...] -> [B,T,hidden], before the optional LSTM
        core (what offline pre-training learns; every module but core, actor and critic)."""
        device = self._device()
        image = as_tensor(obs["image"], device)
        b, t = image.shape[:2]
        x = image.flatten(0, 1).permute(0, 3, 1, 2).float() / 255.0  # [N,3,H,W]
        parts = [self.image_fc(self.cnn(x).flatten(1))]
        if self.use_inventory:
            inv = as_tensor(obs["inventory"], device, torch.float32).flatten(0, 1)
            parts.append(self.inventory_fc(inv.clamp(min=0).log1p()))
        return self.project(torch.cat(parts, -1)).view(b, t, -1)  # [B,T,hidden]

    def forward_sequence(self, obs: dict, state=None, first=None, return_features=False):
        """obs [B,T,...], first [B,T] -> (logits [B,T,A], value [B,T], state[, features])."""
        features = self.frame_features(obs)
        b, device = features.shape[0], features.device
        if self.recurrent:
            if state is None:
                state = self.initial_state(b)
            if first is not None:
                first = as_tensor(first, device, torch.bool)
            features, state = lstm_unroll(self.core, features, state, first)
        logits, value = self.actor(features), self.critic(features).squeeze(-1)
        if return_features:
            return logits, value, state, features
        return logits, value, state
