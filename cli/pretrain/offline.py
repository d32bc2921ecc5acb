"""Offline pre-training from observation-only demonstrations, read top to bottom.

Two models, each learned separately from the same demonstrations (cli/pretrain/data.py: the
loader reads observations only):

1. The encoder (:func:`train_encoder`, Mazoure et al. 2023). The torso is the online
   policy's own per-frame encoder: ``make_policy(dataset's spaces, kind, **policy_kwargs)``
   and its ``frame_features``, so the weights load into the online agent unchanged
   (core.learn.torso reads RUN/policy). Two projection heads, phi for the anchor and psi for
   the positive (each Linear, ReLU, Linear to ``projection_dim``), map frame features to
   unit vectors. A batch is B pairs (s_i, s_j) of one episode with j - i ~ Geometric(1 -
   gamma); the score of anchor a against candidate b is cos(phi(s_a), psi(s_b)) /
   temperature, and the loss is InfoNCE: the cross-entropy of picking each anchor's own
   positive among the batch's B positives (the other B - 1 are its negatives). Its optimum
   makes the score track log p(s_j future of s_i) / p(s_j): an implicit model of the
   discounted future-state occupancy. "accuracy" is how often the positive scores highest
   (chance: 1 / B).
2. The progress model (:func:`train_progress`, Bruce et al.'s ELE):
   core.learn.progress.ProgressModel (a torso of the same kind, weights of its own, and an MLP
   over (e_a, e_b, e_b - e_a)) regresses symlog(j - i) by mean squared error on pairs of one
   episode, 0 < j - i <= ``max_gap``, uniform over such pairs. ``reversed_fraction`` > 0
   (beyond the paper, default 0) also shows it reversed pairs with target -symlog(i - j), so
   that going backwards is predicted as negative progress. Validation reports the loss and
   the Spearman rank correlation of predictions with the true gaps.

Both train in a core.training RunDir (settings.json with digests of the data, compared on
``resume``; log.jsonl; checkpoints every ``save_every`` steps and on Ctrl-C holding the
modules, the optimiser, every random state and the pair sampler's generator, so a resumed
run ends with the same weights as an unbroken one). Validation uses held-out episodes
(``valid_fraction``, split by episode) and a fixed set of pairs drawn once from the seed.
At the end the encoder writes RUN/policy (save_policy: the whole policy, its core and heads
as initialised, policy.json's "pretrained" saying how) and RUN/heads.pt (phi and psi); the
progress model writes RUN/progress (save_progress).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed

from .data import AT_END, ObservationDataset, geometric_pairs, progress_pairs

TRAIN_KEY, VALID_KEY = 0x7074, 0x7076  # "pt", "pv": the sampler's and the validation pairs' streams
MUTABLE = ("device", "threads", "log_every", "save_every")  # what a resume may change


@dataclass
class EncoderConfig:
    # the offset law: D ~ Geometric(1 - gamma), mean 1 / (1 - gamma) = 10 steps at 0.9. The
    # positives then lie within a room or a subgoal of a BabyAI demonstration (40-100 steps)
    # yet differ from the anchor; a gamma near 1 reaches across the whole episode, one near
    # 0 gives near-copies of the anchor (an easy, uninformative task).
    gamma: float = 0.9
    at_end: str = "resample"  # an offset past the episode's end: draw again, or "truncate"
    batch_size: int = 64  # pairs per step; each anchor has batch_size - 1 negatives
    steps: int = 1000  # optimiser steps
    lr: float = 1e-3  # AdamW (3e-4 learnt about half as fast on BabyAI bot demonstrations)
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    temperature: float = 0.1  # of the cosine scores (a common InfoNCE value)
    projection_dim: int = 64  # the width of phi's and psi's outputs
    policy: str = "auto"  # the online policy's kind ("auto": from the observation keys)
    policy_kwargs: dict = field(default_factory=dict)  # its constructor arguments, as online
    seed: int = 0
    valid_fraction: float = 0.1  # of the episodes, held out
    valid_batches: int = 4  # fixed validation batches of batch_size pairs
    device: str = "cpu"
    threads: int = 1  # torch threads on the CPU (0: torch's default)
    log_every: int = 50  # steps between log records (each with the validation figures)
    save_every: int = 200  # steps between checkpoints (and one at the end)


@dataclass
class ProgressConfig:
    max_gap: int = 64  # the largest j - i trained on (and the scale of the targets)
    reversed_fraction: float = 0.0  # of each batch, pairs shown reversed (target -symlog)
    batch_size: int = 64
    steps: int = 1000
    lr: float = 3e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    hidden: int = 128  # the MLP's width over (e_a, e_b, e_b - e_a)
    policy: str = "auto"
    policy_kwargs: dict = field(default_factory=dict)
    seed: int = 0
    valid_fraction: float = 0.1
    valid_pairs: int = 512
    device: str = "cpu"
    threads: int = 1
    log_every: int = 50
    save_every: int = 200


# ---------------------------------------------------------------------------------------------
# 1. The contrastive encoder


def train_encoder(dataset, run_dir, config: EncoderConfig, resume: bool = False, log=None,
                  progress: bool = False) -> dict:
    """Pre-train the online policy's torso by InfoNCE over geometric pairs (module docstring).

    ``dataset``: a trajectory dataset folder or an ObservationDataset. ``log(record)`` gets
    the log records (default: standard output). Returns the summary (the finished run's when
    the folder holds one)."""
    if config.at_end not in AT_END:
        raise PapertoolsError(f"at_end must be one of {', '.join(AT_END)}")
    if config.temperature <= 0:
        raise PapertoolsError("the temperature must be positive")
    return _train("infonce", dataset, run_dir, config, resume, log, progress,
                  _Encoder(config))


class _Encoder:
    """The InfoNCE objective's pieces for :func:`_train`."""

    def __init__(self, config: EncoderConfig):
        self.config = config

    def build(self, data: ObservationDataset) -> dict:
        import torch
        from torch import nn

        from papertools.core.learn.policies import make_policy

        c = self.config
        policy = make_policy(*data.spaces(), c.policy, **c.policy_kwargs)
        width = policy.frame_dim

        def projection():
            return nn.Sequential(nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, c.projection_dim))

        return {"policy": policy, "heads": torch.nn.ModuleDict({"phi": projection(),
                                                                "psi": projection()})}

    def pairs(self, data, batch, rng):
        e, i, j = geometric_pairs(data.lengths, batch, self.config.gamma, rng,
                                  self.config.at_end)
        return data.gather(e, i), data.gather(e, j), None

    def loss(self, modules, a, b, _target):
        """(loss, {"loss", "accuracy"}) of one batch of B pairs."""
        import torch
        import torch.nn.functional as F

        from papertools.core.learn.progress import pair_embeddings

        e_a, e_b = pair_embeddings(modules["policy"], a, b)  # [B, F] each
        heads = modules["heads"]
        q = F.normalize(heads["phi"](e_a), dim=-1)  # [B, P]
        k = F.normalize(heads["psi"](e_b), dim=-1)  # [B, P]
        logits = q @ k.T / self.config.temperature  # [B, B]: row a, column b
        labels = torch.arange(len(q), device=logits.device)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean()
        return loss, {"loss": float(loss.detach()), "accuracy": float(accuracy)}

    def validate(self, modules, batches) -> dict:
        import torch

        with torch.no_grad():
            figures = [self.loss(modules, a, b, t)[1] for a, b, t in batches]
        return {f"valid_{k}": round(float(np.mean([f[k] for f in figures])), 5)
                for k in ("loss", "accuracy")}

    def valid_batches(self, data, rng):
        return [self.pairs(data, self.config.batch_size, rng)
                for _ in range(self.config.valid_batches)]

    def save(self, run, modules, data, summary) -> None:
        from papertools.core.learn.policies import save_policy
        from papertools.core.training import torch_save_atomic

        c = self.config
        save_policy(run.path / "policy", modules["policy"], {
            "env": data.env, "trained_by": "pretrain encoder",
            "pretrained": {"objective": "infonce", "gamma": c.gamma, "at_end": c.at_end,
                           "temperature": c.temperature, "steps": summary["steps"],
                           "batch_size": c.batch_size, "dataset": str(data.path),
                           "valid_accuracy": summary.get("valid_accuracy")}})
        torch_save_atomic({"state_dict": modules["heads"].state_dict(),
                           "projection_dim": c.projection_dim}, run.path / "heads.pt")

    def summary(self) -> dict:
        return {"objective": "infonce", "chance": round(1 / self.config.batch_size, 5)}


# ---------------------------------------------------------------------------------------------
# 2. The progress model


def train_progress(dataset, run_dir, config: ProgressConfig, resume: bool = False, log=None,
                   progress: bool = False) -> dict:
    """Train a ProgressModel to regress symlog(j - i) on pairs of one episode (module
    docstring); writes RUN/progress. Arguments as :func:`train_encoder`'s."""
    if not 0.0 <= config.reversed_fraction <= 1.0:
        raise PapertoolsError("reversed_fraction must be in [0, 1]")
    return _train("progress", dataset, run_dir, config, resume, log, progress,
                  _Progress(config))


class _Progress:
    """The progress regression's pieces for :func:`_train`."""

    def __init__(self, config: ProgressConfig):
        self.config = config

    def build(self, data: ObservationDataset) -> dict:
        from papertools.core.learn.progress import ProgressModel

        c = self.config
        return {"model": ProgressModel(*data.spaces(), c.policy, c.policy_kwargs, c.hidden)}

    def pairs(self, data, batch, rng, reverse: bool = True):
        from papertools.core.learn.progress import symlog

        e, i, j = progress_pairs(data.lengths, batch, rng, self.config.max_gap)
        target = symlog(j - i)
        if reverse and self.config.reversed_fraction > 0:
            flip = rng.random(batch) < self.config.reversed_fraction
            i, j = np.where(flip, j, i), np.where(flip, i, j)
            target = np.where(flip, -target, target)
        return data.gather(e, i), data.gather(e, j), target.astype(np.float32)

    def loss(self, modules, a, b, target):
        import torch
        import torch.nn.functional as F

        pred = modules["model"](a, b)
        loss = F.mse_loss(pred, torch.as_tensor(target, device=pred.device))
        return loss, {"loss": float(loss.detach())}

    def validate(self, modules, batches) -> dict:
        from scipy.stats import spearmanr

        model = modules["model"]
        preds, targets = [], []
        for a, b, t in batches:
            preds.append(model.predict(a, b))
            targets.append(t)
        pred, target = np.concatenate(preds), np.concatenate(targets)
        return {"valid_loss": round(float(np.mean((pred - target) ** 2)), 5),
                "valid_spearman": round(float(spearmanr(pred, target).statistic), 5)}

    def valid_batches(self, data, rng):
        c = self.config
        return [self.pairs(data, min(c.batch_size, c.valid_pairs - n), rng, reverse=False)
                for n in range(0, c.valid_pairs, c.batch_size)]

    def save(self, run, modules, data, summary) -> None:
        from papertools.core.learn.progress import save_progress

        c = self.config
        save_progress(run.path / "progress", modules["model"], {
            "env": data.env, "trained_by": "pretrain reward", "objective": "symlog-gap-mse",
            "max_gap": c.max_gap, "reversed_fraction": c.reversed_fraction,
            "steps": summary["steps"], "dataset": str(data.path),
            "valid_spearman": summary.get("valid_spearman")})

    def summary(self) -> dict:
        return {"objective": "progress"}


# ---------------------------------------------------------------------------------------------
# The loop both share


def open_dataset(dataset) -> ObservationDataset:
    return dataset if isinstance(dataset, ObservationDataset) else ObservationDataset(dataset)


def _train(objective, dataset, run_dir, config, resume, log, progress, method) -> dict:
    import torch

    from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt,
                                          digest, step_done)

    if config.threads:
        torch.set_num_threads(config.threads)
    if config.batch_size < 2:
        raise PapertoolsError("batch_size must be at least 2 (in-batch negatives)")
    data = open_dataset(dataset)
    train, valid = data.split(config.valid_fraction, config.seed)
    if not train.episodes:
        raise PapertoolsError(f"{data.path}: no training episode with two frames")
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if config.device == "auto" else config.device))
    settings = dict(asdict(config), objective=objective, dataset=str(data.path),
                    observation_keys=[*data.keys, *(["mission"] if data._text else [])],
                    dataset_meta_sha256=digest([data.meta]),
                    episodes_sha256=digest(data._source.episodes),
                    train_episodes=train.episodes, valid_episodes=valid.episodes)
    with RunDir(run_dir, settings, resume=resume, mutable=MUTABLE, echo=log) as run:
        if run.finished:
            return run.finished
        torch.manual_seed(config.seed)
        modules = method.build(data)
        for m in modules.values():
            m.to(device)
        optimizer = adamw(list(modules.values()), config.lr, config.weight_decay)
        rng = np.random.default_rng(derive_seed(config.seed, TRAIN_KEY))
        state = {"step": 0, "sums": {}, "count": 0}
        saved = run.load_checkpoint() if run.resumed else None
        if saved is not None:
            saved.restore(optimizer=optimizer, modules=modules, generators=[rng])
            state = saved.state
        checks = (method.valid_batches(valid, np.random.default_rng(
            derive_seed(config.seed, VALID_KEY))) if valid.episodes else [])
        last: dict = {}

        def checkpoint():
            run.save_checkpoint(state=state, optimizer=optimizer, modules=modules,
                                generators=[rng])

        def emit():
            record = {"step": state["step"]}
            record.update({k: round(v / max(1, state["count"]), 5)
                           for k, v in state["sums"].items()})
            if checks:
                for m in modules.values():
                    m.eval()
                record.update(method.validate(modules, checks))
                for m in modules.values():
                    m.train()
            state["sums"], state["count"] = {}, 0
            last.clear()
            last.update(record)
            run.log(record)

        started, first_step = time.perf_counter(), state["step"]
        bar = Progress(config.steps, state["step"], objective) if progress else None
        params = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
        with checkpoint_on_interrupt(checkpoint, bar):
            while state["step"] < config.steps:
                a, b, target = method.pairs(train, config.batch_size, rng)
                loss, figures = method.loss(modules, a, b, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                state["step"] += 1
                state["count"] += 1
                for k, v in figures.items():
                    state["sums"][k] = state["sums"].get(k, 0.0) + v
                if bar is not None:
                    bar.update(loss=f"{figures['loss']:.3f}")
                step_done(state, config.steps, config.log_every, config.save_every, emit,
                          checkpoint)
        if not last:  # resumed at the end: the figures of the final step's record
            last = _last_record(run.path)
        summary = dict(method.summary(), finished=True, steps=state["step"],
                       **{k: v for k, v in last.items() if k != "step"},
                       train_episodes=train.episodes, valid_episodes=valid.episodes,
                       seconds=round(time.perf_counter() - started, 3),
                       steps_run=state["step"] - first_step, config=asdict(config))
        method.save(run, modules, data, summary)
        run.finish(summary)
        return summary


def _last_record(path: Path) -> dict:
    import orjson

    lines = (path / "log.jsonl").read_bytes().splitlines() if (path / "log.jsonl").exists() \
        else []
    return orjson.loads(lines[-1]) if lines else {}


__all__ = ["EncoderConfig", "ProgressConfig", "open_dataset", "train_encoder",
           "train_progress"]
