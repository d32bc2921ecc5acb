"""A policy's torso: the weights that turn one observation into features, apart from the
recurrent core and the actor and critic heads.

Every policy kind names its parts by top-level module: ``core`` (the LSTM, where recurrent),
``actor`` and ``critic`` are the heads (:data:`HEADS`); everything else (BabyAI's grid and
mission encoder, NetHack's and Crafter's encoders) is the torso, the part ``frame_features``
computes. A torso trained elsewhere (``pretrain encoder``'s contrastive encoder, saved as a
whole policy folder of the same kind) is copied into a new policy by :func:`load_torso`, and
may be kept fixed during PPO by :func:`freeze_torso`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PapertoolsError

HEADS = ("core", "actor", "critic")


def _is_torso(name: str) -> bool:
    return name.split(".", 1)[0] not in HEADS


def torso_names(policy) -> list[str]:
    """The state-dict keys of the torso (parameters and saved buffers), in the policy's order."""
    return [k for k in policy.state_dict() if _is_torso(k)]


def load_torso(policy, policy_dir) -> list[str]:
    """Copy the torso tensors of the policy folder ``policy_dir`` into ``policy`` (heads
    untouched); returns the names copied. The folder's policy must be of the same kind with the
    same constructor arguments, else one error naming what differs."""
    import orjson
    import torch
    from safetensors.torch import load_file

    from .policies import POLICY_JSON, WEIGHTS

    path = Path(policy_dir)
    if not (path / POLICY_JSON).exists():
        raise PapertoolsError(f"{path} is not a policy folder (no {POLICY_JSON})")
    meta = orjson.loads((path / POLICY_JSON).read_bytes())
    kind, kwargs = getattr(policy, "kind", None), getattr(policy, "kwargs", None)
    if meta.get("kind") != kind:
        raise PapertoolsError(f"{path}: a {meta.get('kind')!r} policy's torso cannot initialise "
                              f"a {kind!r} policy")
    theirs = orjson.loads(orjson.dumps(meta.get("kwargs", {})))
    ours = orjson.loads(orjson.dumps(kwargs or {}))
    if theirs != ours:
        keys = sorted(k for k in {*theirs, *ours} if theirs.get(k) != ours.get(k))
        said = ", ".join(f"{k} {theirs.get(k)!r} (here {ours.get(k)!r})" for k in keys)
        raise PapertoolsError(f"{path}: the policy was built with other arguments: {said}")
    saved = load_file(str(path / WEIGHTS))
    names = torso_names(policy)
    own = policy.state_dict()
    missing = [k for k in names if k not in saved]
    if missing:
        raise PapertoolsError(f"{path}: no torso tensor {missing[0]} ({len(missing)} missing)")
    with torch.no_grad():
        for k in names:
            if saved[k].shape != own[k].shape:
                raise PapertoolsError(f"{path}: torso tensor {k} has shape "
                                      f"{tuple(saved[k].shape)}, here {tuple(own[k].shape)}")
            own[k].copy_(saved[k])
    return names


def freeze_torso(policy) -> list[str]:
    """Stop gradients into the torso's parameters (``requires_grad`` False); returns their names.
    PPO leaves such parameters out of its optimiser, so they stay bit-identical."""
    frozen = []
    for name, p in policy.named_parameters():
        if _is_torso(name):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


__all__ = ["HEADS", "freeze_torso", "load_torso", "torso_names"]
