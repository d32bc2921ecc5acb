"""Sequence behavioural cloning from a trajectory dataset, read top to bottom.

1. The dataset (core.trajectories' folder) is split by episode into training and validation
   episodes (``valid_fraction``, the split seeded by ``seed``); never by step, so validation
   sees episodes the policy never trained on.
2. The policy is the one given, or ``make_policy(space, kind=policy, **policy_kwargs)`` over
   the dataset's environment's native spaces (``make_env(meta["env"])``).
3. Each epoch reads fixed-length windows (``seq_len`` steps, ``batch_size`` rows, padded, with a
   ``mask`` of real steps and ``first`` where an episode begins) in an order seeded by
   (``seed``, epoch). The loss is the cross-entropy of the policy's action logits against the
   demonstrated actions, averaged over unmasked steps (``[B,T]``), plus, for every label named
   in ``aux_labels``, ``weight * `` the cross-entropy of a linear head over the policy's
   features against that per-step label (a strategy, a subgoal id; -1 means none).
   ``text_labels`` makes a per-step label's string an observation (``{"mission": "phrase"}``:
   a low level conditioned on each step's subgoal phrase); ``reset_label`` also resets the
   recurrent state where that label is 1 (each subgoal segment starts afresh).
   ``policy_labels`` are labels the policy predicts with heads of its own (HiHack's strategy
   head, which also picks its action head): ``forward_sequence(..., return_labels=True)``
   gives their logits, and ``weight *`` their cross-entropy joins the loss (weight 0: logged,
   no gradient). ``label_obs`` gives a label's class ids [B,T] as an observation (the true
   strategy for HiHack's oracle ablation).
4. The recurrent state: reset where ``first`` is True; with ``carry_state`` it is carried,
   detached (truncated back-propagation), from one window to the next of the same row when the
   reader says the next window continues the same episode (the batch's episode ``id`` and
   window start ``step``: the same episode, starting where the last window ended; the
   dataset's reader deals episodes to rows so that this is the rule), else reset.
5. After every epoch the validation episodes give the loss and the action accuracy (and each
   label head's accuracy), logged with ``"valid": true``.
6. The run folder is core.training's: settings.json (the configuration and digests of the
   dataset, compared on ``resume``), log.jsonl, atomic checkpoints (policy, heads, optimiser,
   every random state, the position in the data and the carried recurrent state) every
   ``save_every`` steps, at every epoch's end and on Ctrl-C. A run killed and resumed ends with
   the same weights as one never interrupted. At the end ``policy/`` holds the policy
   (``save_policy``), with the label heads in ``policy/aux_heads.pt``.

Several processes: launch under ``torchrun --nproc_per_node N``; each optimiser step takes N
consecutive batches, one per process, and DistributedDataParallel averages the gradients
(NCCL on GPUs, Gloo on CPUs); rank 0 logs and writes.

The policy interface this needs (core.learn.policies): ``forward_sequence(obs, state, first)
-> (logits [B,T,A], value [B,T], state)``; with label heads also ``features_dim`` and
``forward_sequence(..., return_features=True)``, which adds the features [B,T,F] the heads
read. The recurrent state is a tensor, a tuple of tensors, or None.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed
from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt, digest,
                                      distributed_setup, epoch_done, step_done,
                                      torch_save_atomic)


@dataclass
class BCConfig:
    policy: str = "auto"  # make_policy's kind when no policy object is given
    policy_kwargs: dict = field(default_factory=dict)
    seq_len: int = 32  # steps per window (the HiHack experiments: ttyrec_unroll_length 32)
    batch_size: int = 32  # windows per batch (HiHack: 128)
    epochs: int = 10
    lr: float = 3e-4  # Adam(W); HiHack uses 1e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 4.0  # HiHack's grad_norm_clipping
    valid_fraction: float = 0.1  # of the episodes, held out for validation
    aux_labels: dict = field(default_factory=dict)  # per-step label name -> loss weight
    carry_state: bool = True  # carry the recurrent state across windows of one episode
    obs_keys: list | None = None  # observation arrays to read (None: all)
    # per-step text from a label: observation key -> label name (the step's label string is
    # that observation, e.g. {"mission": "phrase"}: a low level conditioned on its subgoal)
    text_labels: dict = field(default_factory=dict)
    # a label whose value 1 marks steps where the recurrent state resets, besides episode
    # starts (e.g. "start": each subgoal segment begins afresh)
    reset_label: str | None = None
    # labels the policy predicts itself (forward_sequence(..., return_labels=True)): label
    # name -> loss weight (HiHack's strategy_loss_coeff)
    policy_labels: dict = field(default_factory=dict)
    # a per-step label's class ids as an observation: observation key -> label name
    label_obs: dict = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # torch threads on the CPU (0: torch's default); one per run, as PPO
    log_every: int = 20  # optimiser steps between log records
    save_every: int = 0  # optimiser steps between checkpoints (0: at epoch ends only)


# what resume may change: where and how often, not what is trained
MUTABLE = ("device", "threads", "log_every", "save_every")
TEXT_SKIP = ("id", "env", "file")  # string episode fields that are not policy inputs
TRAIN_KEY, VALID_KEY = 0x6263, 0x6276  # "bc", "bv": the batch orders' random streams


def train_bc(config: BCConfig, dataset_path, run_dir, resume: bool = False, policy=None,
             batches_fn=None, log=None, progress: bool = False) -> dict:
    """Clone the dataset's actions into ``policy`` (or a new one) in the run folder ``run_dir``.

    ``dataset_path``: a dataset folder or an open TrajectoryDataset. ``batches_fn(ids, seq_len,
    batch_size, seed, obs_keys)`` replaces the dataset's ``batches`` (same arguments and
    batches). ``log(record)`` receives the log records (default: standard output). Returns the
    summary (the finished run's, when the folder holds one)."""
    import torch

    from papertools.core import models

    if config.threads:
        torch.set_num_threads(config.threads)
    dataset = _open_dataset(dataset_path)
    train_ids, valid_ids = dataset.split(config.valid_fraction, config.seed)
    if not train_ids:
        raise PapertoolsError("no training episodes in the dataset")
    labels = dataset.meta.get("labels", {})
    unknown = [name for name in [*config.aux_labels, *config.text_labels.values(),
                                 *config.policy_labels, *config.label_obs.values(),
                                 *([config.reset_label] if config.reset_label else [])]
               if name not in labels]
    both = set(config.aux_labels) & set(config.policy_labels)
    if both:
        raise PapertoolsError(f"labels {', '.join(sorted(both))} are both aux_labels and "
                              "policy_labels")
    if unknown:
        raise PapertoolsError(f"the dataset has no per-step labels {', '.join(unknown)} "
                              f"(it has: {', '.join(labels) or 'none'})")
    rank, world = distributed_setup()
    device = models.resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    settings = dict({k: v for k, v in asdict(config).items()},
                    dataset=str(Path(getattr(dataset, "path", dataset_path))),
                    dataset_meta_sha256=digest([dataset.meta]),
                    episodes_sha256=digest(dataset.episodes),
                    train_episodes=len(train_ids), valid_episodes=len(valid_ids),
                    given_policy=None if policy is None else type(policy).__name__,
                    world_size=world)
    with RunDir(run_dir, settings, resume=resume, mutable=MUTABLE, echo=log,
                primary=rank == 0) as run:
        if run.finished:
            return run.finished
        torch.manual_seed(config.seed)
        if policy is None:
            policy = _make_policy(dataset.meta, config)
        return _train(config, dataset, train_ids, valid_ids, policy, batches_fn, run, device,
                      rank, world, progress)


def _train(config, dataset, train_ids, valid_ids, policy, batches_fn, run, device, rank, world,
           progress) -> dict:
    import torch
    import torch.nn.functional as F

    labels = dataset.meta.get("labels", {})
    batches_fn = batches_fn or dataset.batches
    policy.to(device)
    # one linear head per auxiliary label, over the policy's features
    # (keys prefixed: a label may be named like a module attribute, "half" or "train")
    heads = torch.nn.ModuleDict({f"label_{name}": torch.nn.Linear(policy.features_dim,
                                                                  len(labels[name]))
                                 for name in config.aux_labels}).to(device)
    optimizer = adamw([policy, heads], config.lr, config.weight_decay)
    state = {"step": 0, "epoch": 0, "batch": 0, "frames": 0, "memory": None, "previous": None,
             "loss_sum": 0.0, "correct": 0, "count": 0}
    saved = run.load_checkpoint() if run.resumed else None
    if saved is not None:
        saved.restore(optimizer=optimizer, modules={"policy": policy, "heads": heads})
        state = saved.state
    model = _joined(policy, heads, bool(config.policy_labels))
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True)  # BC trains no critic: the value head gets no gradient

    def checkpoint():
        run.save_checkpoint(state=dict(state, memory=_map(state["memory"], lambda x: x.cpu())),
                            optimizer=optimizer, modules={"policy": policy, "heads": heads})
        if world > 1:
            torch.distributed.barrier()

    def step_loss(batch, memory, previous):
        """The weighted loss of one batch, its figures, and the state to carry on."""
        obs, actions, mask, first = _tensors(batch, device, labels, config)
        memory = _carry(memory, previous, batch, first, config.carry_state, config.seq_len)
        logits, _, memory, label_logits = model(obs, memory, first)
        loss_sum = F.cross_entropy(logits[mask], actions[mask], reduction="sum")  # masked CE
        n = int(mask.sum())
        loss = loss_sum / max(1, n)
        figures = {"loss_sum": float(loss_sum.detach()), "count": n,
                   "correct": int((logits[mask].argmax(-1) == actions[mask]).sum())}
        for name, weight in {**config.aux_labels, **config.policy_labels}.items():
            target = torch.as_tensor(batch["labels"][name], device=device, dtype=torch.long)
            where = mask & (target >= 0)
            head_logits = label_logits[name]
            aux = F.cross_entropy(head_logits[where], target[where], reduction="sum")
            loss = loss + weight * aux / max(1, int(where.sum()))
            figures[f"{name}_correct"] = int((head_logits[where].argmax(-1) == target[where])
                                             .sum())
            figures[f"{name}_count"] = int(where.sum())
        return loss, figures, _map(memory, lambda x: x.detach()), _window_ids(batch)

    steps_per_epoch = None
    started, frames_at_start = time.perf_counter(), state["frames"]
    bar = Progress(None, state["step"], "bc") if progress and rank == 0 else None
    with checkpoint_on_interrupt(checkpoint, bar):
        while state["epoch"] < config.epochs:
            policy.train()
            epoch_seed = derive_seed(config.seed, TRAIN_KEY, state["epoch"])
            batches = iter(batches_fn(train_ids, config.seq_len, config.batch_size, epoch_seed,
                                      config.obs_keys))
            _skip(batches, state["batch"])  # resuming inside an epoch
            while True:
                group = [b for _, b in zip(range(world), batches)]  # one batch per process
                if not group:
                    break
                mine = group[rank] if rank < len(group) else group[0]
                weight = 1.0 if rank < len(group) else 0.0  # keeps processes in step
                loss, figures, state["memory"], state["previous"] = step_loss(
                    mine, state["memory"], state["previous"])
                optimizer.zero_grad(set_to_none=True)
                (loss * weight).backward()
                torch.nn.utils.clip_grad_norm_([*policy.parameters(), *heads.parameters()],
                                               config.max_grad_norm)
                optimizer.step()
                state["batch"] += len(group)
                state["step"] += 1
                state["frames"] += sum(int(b["mask"].sum()) for b in group)
                for k in ("loss_sum", "correct", "count"):
                    state[k] += figures[k] * weight
                if bar is not None:
                    bar.update(loss=f"{state['loss_sum'] / max(1, state['count']):.3f}")
                step_done(state, math.inf, config.log_every, config.save_every,
                          lambda: _emit(run, state, started, frames_at_start), checkpoint)
            if state["count"]:
                _emit(run, state, started, frames_at_start)
            steps_per_epoch = state["step"] / (state["epoch"] + 1)
            if valid_ids:
                run.log(dict(_validate(policy, heads, config, valid_ids, batches_fn, device,
                                       step_loss), step=state["step"],
                             epoch=state["epoch"] + 1, frames=state["frames"], valid=True))
            state["memory"], state["previous"] = None, None  # a new epoch starts afresh
            epoch_done(state, checkpoint)

    summary = {"finished": True, "steps": state["step"], "epochs": config.epochs,
               "frames": state["frames"], "train_episodes": len(train_ids),
               "valid_episodes": len(valid_ids),
               "seconds": round(time.perf_counter() - started, 3),
               "parameters": sum(p.numel() for p in policy.parameters()),
               "steps_per_epoch": steps_per_epoch, "config": asdict(config)}
    if rank == 0:
        _save(run.path / "policy", policy, heads, dataset.meta, config, summary)
        run.finish(summary)
    if world > 1:
        torch.distributed.barrier()
    return summary


# ---------------------------------------------------------------------------------------------
# Pieces


def _open_dataset(dataset_path):
    if hasattr(dataset_path, "batches"):
        return dataset_path
    from papertools.core.trajectories import TrajectoryDataset

    return TrajectoryDataset(dataset_path)


def _make_policy(meta: dict, config: BCConfig):
    """make_policy over the dataset's environment's native spaces, narrowed to the observation
    keys the dataset stores (text fields, episode-level, kept)."""
    from papertools.core.envs import make_env
    from papertools.core.learn.policies import make_policy

    from gymnasium import spaces

    env = make_env(meta["env"])
    try:
        space = env.observation_space
        if isinstance(space, spaces.Dict):  # what the dataset holds (nhrecord's: the screen)
            stored = meta.get("observation", {})
            space = spaces.Dict({k: v for k, v in space.spaces.items()
                                 if k in stored or isinstance(v, spaces.Text)})
        return make_policy(space, env.action_space, kind=config.policy, **config.policy_kwargs)
    finally:
        env.close()


def _tensors(batch: dict, device, labels: dict | None = None, config: BCConfig | None = None):
    """(obs, actions [B,T], mask [B,T], first [B,T]) as tensors; the episodes' text fields
    (a mission) join the observation as [B][T] lists of strings, and so do the per-step label
    strings of ``config.text_labels``; ``config.reset_label`` adds to ``first``."""
    import torch

    obs = {k: torch.as_tensor(v, device=device) for k, v in batch["obs"].items()}
    steps = batch["mask"].shape[1]
    for key, name in (config.label_obs if config else {}).items():
        obs[key] = torch.as_tensor(batch["labels"][name], device=device, dtype=torch.long)
    for key, name in (config.text_labels if config else {}).items():
        words = labels[name]
        obs[key] = [[words[i] if i >= 0 else "" for i in row.tolist()]
                    for row in batch["labels"][name]]
    for key, values in batch.get("episode", {}).items():
        if key not in obs and key not in TEXT_SKIP and all(isinstance(v, str) for v in values):
            obs[key] = [[v] * steps for v in values]  # [B][T], as the arrays
    actions = torch.as_tensor(batch["actions"], device=device, dtype=torch.long).clamp(min=0)
    mask = torch.as_tensor(batch["mask"], device=device, dtype=torch.bool)
    first = torch.as_tensor(batch["first"], device=device, dtype=torch.bool).clone()
    if config is not None and config.reset_label:
        first |= torch.as_tensor(batch["labels"][config.reset_label] == 1, device=device)
    return obs, actions, mask, first


def _window_ids(batch: dict):
    """Each row's (episode id, first step, length in steps), when the reader gives them (the
    episode field ``id`` and the window's first ``step``)."""
    ids, starts = batch.get("episode", {}).get("id"), batch.get("step")
    if ids is None or starts is None:
        return None
    lengths = batch["mask"].sum(1).tolist()
    return [(i, int(s), int(n)) for i, s, n in zip(ids, starts, lengths)]


def _carry(memory, previous, batch, first, carry: bool, seq_len: int):
    """The state to start ``batch`` from: ``memory`` where a row's window continues the
    previous window of that row, reset elsewhere (``first`` is set on the row's first step, so
    the policy resets it); None when nothing carries."""
    rows = _window_ids(batch)
    if not carry or memory is None or previous is None or rows is None \
            or len(rows) != len(previous):
        return None
    for b, ((pid, pstart, plen), (rid, rstart, _)) in enumerate(zip(previous, rows)):
        if not (pid == rid and plen == seq_len and rstart == pstart + plen):
            first[b, 0] = True
    return memory


def _validate(policy, heads, config, valid_ids, batches_fn, device, step_loss) -> dict:
    """Validation loss and accuracies over the held-out episodes (a fixed order)."""
    import torch

    policy.eval()
    totals, memory, previous = {}, None, None
    with torch.no_grad():
        for batch in batches_fn(valid_ids, config.seq_len, config.batch_size,
                                derive_seed(config.seed, VALID_KEY), config.obs_keys):
            _, figures, memory, previous = step_loss(batch, memory, previous)
            for k, v in figures.items():
                totals[k] = totals.get(k, 0) + v
    policy.train()
    count = max(1, totals.get("count", 0))
    record = {"valid_loss": round(totals.get("loss_sum", 0.0) / count, 5),
              "valid_accuracy": round(totals.get("correct", 0) / count, 5)}
    for name in [*config.aux_labels, *config.policy_labels]:
        record[f"valid_{name}_accuracy"] = round(
            totals.get(f"{name}_correct", 0) / max(1, totals.get(f"{name}_count", 0)), 5)
    return record


def _emit(run, state, started, frames_at_start) -> None:
    count = max(1, state["count"])
    seconds = max(1e-9, time.perf_counter() - started)
    run.log({"step": state["step"], "epoch": state["epoch"], "frames": state["frames"],
             "loss": round(state["loss_sum"] / count, 5),
             "accuracy": round(state["correct"] / count, 5),
             "frames_per_s": round((state["frames"] - frames_at_start) / seconds, 1)})
    state["loss_sum"], state["correct"], state["count"] = 0.0, 0, 0


def _save(folder: Path, policy, heads, meta: dict, config: BCConfig, summary: dict) -> None:
    from papertools.core.learn.policies import save_policy

    save_policy(folder, policy, {"env": meta.get("env"), "trained_by": "bc",
                                 "steps": summary["steps"], "frames": summary["frames"]})
    if len(heads):
        labels = meta.get("labels", {})
        torch_save_atomic({"state_dict": heads.state_dict(),
                           "labels": {name: labels[name] for name in config.aux_labels},
                           "weights": dict(config.aux_labels)}, folder / "aux_heads.pt")


def _skip(batches, n: int) -> None:
    for _ in zip(range(n), batches):
        pass


def _map(state, fn):
    """``fn`` over every tensor of a recurrent state (a tensor, tuple or list, or None)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(_map(s, fn) for s in state)
    return fn(state)


def _joined(policy, heads, own_labels: bool = False):
    """The policy and its label heads as one module, so that DistributedDataParallel sees every
    parameter used inside one forward and averages the gradients of both: calling it gives
    (logits, value, state, {label name: the label head's logits}), with the labels the policy
    predicts itself (``own_labels``) among them."""
    import torch

    class Joined(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.policy, self.heads = policy, heads

        def forward(self, obs, state, first):
            extra = {}
            if len(self.heads):
                extra["return_features"] = True
            if own_labels:
                extra["return_labels"] = True
            logits, value, state, *rest = self.policy.forward_sequence(obs, state, first,
                                                                       **extra)
            labels = dict(rest.pop()) if own_labels else {}
            if len(self.heads):
                features = rest[0]
                labels.update({name.removeprefix("label_"): head(features)
                               for name, head in self.heads.items()})
            return logits, value, state, labels

    return Joined()
