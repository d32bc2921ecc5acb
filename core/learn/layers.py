"""Building blocks the learned policies share: tensors from observations, the recurrent unroll
with episode-boundary resets, and the one-step ``forward`` and ``act`` over ``forward_sequence``.

A policy here implements ``forward_sequence(obs [B,T,...], state, first [B,T],
return_features=False) -> (logits [B,T,A], value [B,T], state[, features [B,T,F]])`` and
``initial_state(batch_size)``; :class:`~.policies.Policy` derives the rest of the interface
(``forward`` for one step, ``act``) from them. ``first[b, t]`` is True where step t begins an
episode: the recurrent state of row b is reset before that step is read.
"""

from __future__ import annotations

import torch
from torch import nn

from .policies import Policy


def as_tensor(value, device, dtype=None) -> torch.Tensor:
    """``value`` (numpy array, list or tensor) as a tensor on ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype or value.dtype)
    return torch.as_tensor(value, device=device, dtype=dtype)


def lstm_unroll(cell: nn.LSTMCell, x: torch.Tensor, state, first):
    """Run ``cell`` over ``x`` [B,T,F] from ``state`` (h, c) ([B,H] each), zeroing a row's state
    before each step where ``first`` [B,T] is True. Returns (outputs [B,T,H], (h, c))."""
    h, c = state
    outputs = []
    for t in range(x.shape[1]):
        if first is not None:
            keep = (~first[:, t]).to(h.dtype).unsqueeze(1)  # [B,1]
            h, c = h * keep, c * keep
        h, c = cell(x[:, t], (h, c))
        outputs.append(h)
    return torch.stack(outputs, 1), (h, c)


def elu_convs(channels, kernel: int = 3, stride: int = 2, padding: int = 1) -> nn.Sequential:
    """Conv2d layers (each ``kernel``/``stride``/``padding``) with ELU between and after:
    ``channels`` = (in, c1, c2, ...)."""
    layers = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, kernel, stride, padding), nn.ELU()]
    return nn.Sequential(*layers)


def flat_size(module: nn.Module, shape) -> int:
    """The number of features ``module`` gives for one input of ``shape`` (channels first)."""
    with torch.no_grad():
        return int(module(torch.zeros(1, *shape)).flatten(1).shape[1])


class SequencePolicy(Policy):
    """The NetHack and Crafter policies' base (built from the spaces by ``make_policy``): an LSTM
    state;
    the one-step ``forward`` and ``act`` are :class:`~.policies.Policy`'s."""

    features_dim: int

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def lstm_state(self, batch_size: int):
        """(h, c), zeros of [batch_size, features_dim]: an LSTM core's state at a start."""
        zeros = torch.zeros(batch_size, self.features_dim, device=self._device())
        return zeros, zeros.clone()
