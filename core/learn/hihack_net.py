"""HiHack's strategy-headed NetHack policy (Piterbarg, Pinto and Fergus, 2023, "NetHack is Hard
to Hack"), on the torso of :class:`~.nethack_net.NetHackPolicy`.

After the shared encoder and LSTM (``NetHackPolicy.encode``), a strategy head
``Linear(hidden, S)`` scores the S strategies (S = 13: the strategy ordinals -1..11 shifted by
one, core.nethack.strategies' ``NUM_CLASSES``, the vocabulary of a converted nhrecord dataset's
``strategy`` label), and S action heads, each ``Linear(hidden, head_hidden) -> ELU ->
Linear(head_hidden, A)``, give action logits. Each step emits the logits of exactly one head:

- training (``policy.train()``): a hard Gumbel-softmax sample over the strategy logits
  (temperature ``tau``); with ``straight_through`` the one-hot choice carries the soft sample's
  gradient (y_hard - y_soft.detach() + y_soft), so the action loss also reaches the strategy
  head. HiHack's code casts the hard sample to booleans before using it, which cuts that path:
  there the strategy head learns only from the strategy cross-entropy, and with a strategy
  coefficient of 0 it learns nothing. ``straight_through=False`` reproduces that.
- evaluation (``policy.eval()``): the most likely strategy (``eval_strategy="argmax"``), or a
  Gumbel sample as in training and in HiHack's evaluation (``"sample"``).
- ``oracle=True`` (an ablation, offline only): the head of the true strategy, read from the
  observation key ``"strategy"`` ([B,T] class ids; where it is -1 the policy's own choice).

``forward_sequence(..., return_labels=True)`` adds ``{"strategy": strategy logits [B,T,S]}``,
what behavioural cloning's ``policy_labels`` trains (core/learn/bc.py);
``return_strategy=True`` adds the strategy logits and the chosen head ids [B,T].

:func:`matched_flat_kwargs` gives the flat baseline of the same size: the same torso with an MLP
actor wide enough that the parameter counts agree (HiHack compares at matched size).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..nethack.strategies import NUM_CLASSES
from .layers import as_tensor
from .nethack_net import NetHackPolicy

EVAL_STRATEGIES = ("argmax", "sample")


def action_head(hidden: int, head_hidden: int, n_actions: int) -> nn.Sequential:
    """One strategy's action head (HiHack's: Linear, ELU, Linear)."""
    return nn.Sequential(nn.Linear(hidden, head_hidden), nn.ELU(),
                         nn.Linear(head_hidden, n_actions))


class HiHackPolicy(NetHackPolicy):
    """``HiHackPolicy(observation_space, action_space, n_strategies=13, head_hidden=256,
    tau=1.0, straight_through=True, eval_strategy="argmax", oracle=False, **torso)``; ``torso``
    are NetHackPolicy's (mode, crop, embed_dim, hidden). See the module docstring."""

    kind = "hihack"

    def __init__(self, observation_space, action_space, n_strategies: int = NUM_CLASSES,
                 head_hidden: int = 256, tau: float = 1.0, straight_through: bool = True,
                 eval_strategy: str = "argmax", oracle: bool = False, **torso):
        if eval_strategy not in EVAL_STRATEGIES:
            raise ValueError(f"unknown eval_strategy {eval_strategy!r} "
                             f"(known: {', '.join(EVAL_STRATEGIES)})")
        if n_strategies < 1 or tau <= 0:
            raise ValueError("n_strategies must be at least 1 and tau positive")
        super().__init__(observation_space, action_space, **torso)
        hidden = self.features_dim
        del self.actor  # the flat actor gives way to the strategy's heads
        self.n_strategies, self.tau = int(n_strategies), float(tau)
        self.straight_through, self.eval_strategy = bool(straight_through), eval_strategy
        self.oracle = bool(oracle)
        self.strategy_head = nn.Linear(hidden, self.n_strategies)
        self.heads = nn.ModuleList(action_head(hidden, head_hidden, self.n_actions)
                                   for _ in range(self.n_strategies))
        self.kwargs.update(n_strategies=self.n_strategies, head_hidden=head_hidden,
                           tau=self.tau, straight_through=self.straight_through,
                           eval_strategy=eval_strategy, oracle=self.oracle)

    def choose(self, strategy_logits: torch.Tensor, given=None) -> torch.Tensor:
        """The one-hot choice of head [..., S] (float; in training with the straight-through
        gradient when ``straight_through``); ``given`` [...] true class ids for the oracle."""
        if self.training or self.eval_strategy == "sample":
            choice = F.gumbel_softmax(strategy_logits, tau=self.tau, hard=True)
            if not (self.training and self.straight_through):
                choice = choice.detach()
        else:
            choice = F.one_hot(strategy_logits.argmax(-1), self.n_strategies).to(
                strategy_logits.dtype)
        if given is not None:
            known = given >= 0
            truth = F.one_hot(given.clamp(min=0), self.n_strategies).to(choice.dtype)
            choice = torch.where(known.unsqueeze(-1), truth, choice)
        return choice

    def forward_sequence(self, obs: dict, state=None, first=None, return_features=False,
                         return_labels=False, return_strategy=False):
        """obs [B,T,...], first [B,T] -> (logits [B,T,A], value [B,T], state[, features]
        [, {"strategy": logits [B,T,S]}][, strategy logits [B,T,S], chosen head [B,T]])."""
        features, state = self.encode(obs, state, first)
        strategy_logits = self.strategy_head(features)  # [B,T,S]
        given = None
        if self.oracle:
            if "strategy" not in obs:
                raise ValueError("an oracle policy reads the true strategy from the "
                                 "observation key 'strategy' (offline only)")
            given = as_tensor(obs["strategy"], features.device, torch.long)
        choice = self.choose(strategy_logits, given)  # [B,T,S] one-hot
        every = torch.stack([head(features) for head in self.heads], -2)  # [B,T,S,A]
        logits = (choice.unsqueeze(-1) * every).sum(-2)  # the chosen head's logits
        out = [logits, self.critic(features).squeeze(-1), state]
        if return_features:
            out.append(features)
        if return_labels:
            out.append({"strategy": strategy_logits})
        if return_strategy:
            out += [strategy_logits, choice.argmax(-1)]
        return tuple(out)


def matched_flat_kwargs(n_actions: int, n_strategies: int = NUM_CLASSES,
                        head_hidden: int = 256, hidden: int = 256, **torso) -> dict:
    """NetHackPolicy's keyword arguments for the flat baseline with as many parameters as a
    HiHackPolicy of these settings: the same torso, and an MLP actor (``head_hidden``) whose
    width absorbs the strategy head and the S action heads. The rest of the network (torso,
    critic) is the same in both, so only the heads are counted."""
    a, h = n_actions, hidden
    hier_heads = n_strategies * (h * head_hidden + head_hidden + head_hidden * a + a) \
        + h * n_strategies + n_strategies
    width = round((hier_heads - a) / (h + 1 + a))  # flat MLP: h*w + w + w*a + a
    kwargs = {k: v for k, v in torso.items()
              if k not in ("tau", "straight_through", "eval_strategy", "oracle")}
    return dict(kwargs, hidden=hidden, head_hidden=max(1, width))


__all__ = ["HiHackPolicy", "action_head", "matched_flat_kwargs"]
