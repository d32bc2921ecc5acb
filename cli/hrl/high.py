"""The high level's behavioural cloning: which subgoal the annotator named where a segment starts.

Read top to bottom:

1. The dataset (Part A's: per-step labels "subgoal" and "start") is split by episode
   (``valid_fraction``, seeded). Each episode contributes its segment starts only (its first
   step and every step labelled start = yes): the observation there, the task's mission (the
   episode's "mission") and the segment's subgoal. The high level sees one step per segment,
   so a recurrent high level carries its state from one segment to the next, as it will when
   it plays (core.learn.hierarchy advances it only at segment starts).
2. The classes are the subgoal strings that occur in the training episodes, in the order of
   the dataset's vocabulary; a validation segment whose subgoal never occurs in training is
   counted (``valid_unseen``) and left out of the accuracy.
3. Each epoch deals the training episodes, shuffled by (seed, epoch), into batches of
   ``batch_size`` episodes (their start sequences, padded); the loss is the cross-entropy of
   the high level's logits against the subgoal classes over real steps.
4. The run folder is core.training's RunDir: settings.json (the configuration, digests of the
   dataset and of the low level's weights), log.jsonl (one record per epoch: "epoch",
   "frames" (segment starts trained on), "loss", "accuracy", "valid_loss",
   "valid_accuracy"), a checkpoint at every epoch's end and on Ctrl-C (a resume is exact: the
   order depends on (seed, epoch) only), finished.json, and RUN/policy: the hierarchy
   (core.learn.hierarchy, kind "hierarchy") over the low level of ``low_dir`` (copied,
   unchanged) and this high level.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed
from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt,
                                      digest)


@dataclass
class HighConfig:
    # development probe (UnlockPickup, 250 demonstrations, greedy on development seeds): a
    # feed-forward high level 0.10 success, a recurrent one (40 epochs) 0.93
    epochs: int = 40
    batch_size: int = 32  # episodes per optimiser step (each the sequence of its segment starts)
    lr: float = 1e-3  # AdamW
    weight_decay: float = 0.0
    max_grad_norm: float = 4.0
    valid_fraction: float = 0.1  # of the episodes, held out
    recurrent: bool = True  # an LSTM core carried across the segments of an episode
    memory: int = 64  # the LSTM's width
    policy_kwargs: dict = field(default_factory=dict)  # more BabyAIPolicy arguments (sizes)
    max_segment: int = 32  # the hierarchy's: low-level steps after which a segment ends anyway
    seed: int = 0
    device: str = "cpu"
    threads: int = 1  # torch threads (0: torch's default)


MUTABLE = ("device", "threads")
SHUFFLE_KEY = 0x6869  # "hi": the epochs' episode orders


def segment_starts(arrays: dict) -> np.ndarray:
    """The steps where a segment starts: the first step and every step labelled start = 1."""
    start = np.asarray(arrays["label/start"]) == 1
    start[:1] = True
    return np.flatnonzero(start)


def load_starts(dataset, ids: list[str]) -> list[dict]:
    """Per episode: {"id", "image" [S, 7, 7, 3], "mission", "subgoal" [S] (vocabulary ids)}
    at its S segment starts."""
    out = []
    for eid in ids:
        arrays = dataset.load(eid, keys=["image"])
        steps = segment_starts(arrays)
        if len(steps) == 0:
            continue
        out.append({"id": eid, "image": arrays["obs/image"][steps],
                    "mission": str(dataset.record(eid).get("mission", "")),
                    "subgoal": np.asarray(arrays["label/subgoal"])[steps]})
    return out


def _weights_digest(low_dir) -> str:
    path = Path(low_dir) / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def train_high(dataset, low_dir, run_dir, config: HighConfig, resume: bool = False,
               progress: bool = False, log=None) -> dict:
    """Clone the high level on the dataset's segment starts in the run folder ``run_dir`` and
    write RUN/policy (the hierarchy over the low level in ``low_dir``); returns the summary.
    ``log(record)`` receives the log records (default: standard output)."""
    import torch

    from papertools.core.learn.hierarchy import load_low
    from papertools.core.trajectories import TrajectoryDataset

    if config.threads:
        torch.set_num_threads(config.threads)
    data = TrajectoryDataset(dataset)
    labels = data.meta.get("labels", {})
    missing = [n for n in ("subgoal", "start") if n not in labels]
    if missing:
        raise PapertoolsError(f"{dataset}: the dataset has no per-step labels "
                              f"{', '.join(missing)} (hrl demos writes them)")
    low, finished, low_meta = load_low(low_dir)
    train_ids, valid_ids = data.split(config.valid_fraction, config.seed)
    if not train_ids:
        raise PapertoolsError(f"{dataset}: no training episodes")
    settings = dict(asdict(config), dataset=str(Path(dataset)), low=str(Path(low_dir)),
                    dataset_meta_sha256=digest([data.meta]),
                    episodes_sha256=digest(data.episodes), low_sha256=_weights_digest(low_dir))
    with RunDir(run_dir, settings, resume=resume, mutable=MUTABLE, echo=log) as run:
        if run.finished:
            return run.finished
        return _train(config, data, labels["subgoal"], train_ids, valid_ids, low, finished,
                      low_meta, run, progress)


def _train(config, data, vocab, train_ids, valid_ids, low, finished, low_meta, run,
           progress) -> dict:
    import torch
    import torch.nn.functional as F
    from gymnasium import spaces

    from papertools.core.learn.hierarchy import build_hierarchy
    from papertools.core.learn.policies import make_policy, save_policy

    train, valid = load_starts(data, train_ids), load_starts(data, valid_ids)
    used = {int(i) for ep in train for i in ep["subgoal"] if i >= 0}
    classes = [s for i, s in enumerate(vocab) if i in used]
    to_class = np.full(len(vocab) + 1, -1, np.int64)  # vocabulary id -> class (-1: none)
    for c, s in enumerate(classes):
        to_class[vocab.index(s)] = c
    if not classes:
        raise PapertoolsError("no subgoal labels in the training episodes")

    high_kwargs = dict(config.policy_kwargs, recurrent=config.recurrent)
    if config.recurrent:
        high_kwargs["memory"] = config.memory
    torch.manual_seed(config.seed)
    high = make_policy(low.observation_space, spaces.Discrete(len(classes)), "babyai",
                       **high_kwargs)
    device = torch.device(config.device)
    high.to(device)
    optimizer = adamw(high, config.lr, config.weight_decay)
    # the loop's position: epochs done, the next batch of the epoch, the epoch's running sums
    state = {"epoch": 0, "batch": 0, "totals": [0.0, 0, 0], "frames": 0, "seconds": 0.0}
    saved = run.load_checkpoint() if run.resumed else None
    if saved is not None:
        saved.restore(optimizer=optimizer, modules={"high": high})
        state = saved.state

    def tensors(episodes):
        """(obs, target [B, S], mask [B, S], first [B, S]) for a batch of episodes."""
        s = max(len(ep["subgoal"]) for ep in episodes)
        image = np.zeros((len(episodes), s, 7, 7, 3), np.uint8)
        target = np.full((len(episodes), s), -1, np.int64)
        for b, ep in enumerate(episodes):
            n = len(ep["subgoal"])
            image[b, :n] = ep["image"]
            target[b, :n] = to_class[ep["subgoal"]]
        first = np.zeros(target.shape, bool)
        first[:, 0] = True
        obs = {"image": torch.from_numpy(image).to(device),
               "mission": [[ep["mission"]] * s for ep in episodes]}
        return (obs, torch.from_numpy(target).to(device), torch.from_numpy(target >= 0).to(device),
                torch.from_numpy(first).to(device))

    def batch_loss(episodes):
        obs, target, mask, first = tensors(episodes)
        logits, _, _ = high.forward_sequence(obs, None, first)
        n = int(mask.sum())
        loss_sum = F.cross_entropy(logits[mask], target[mask], reduction="sum") if n else \
            logits.sum() * 0.0
        correct = int((logits[mask].argmax(-1) == target[mask]).sum())
        return loss_sum, n, correct

    def checkpoint():
        run.save_checkpoint(state=state, optimizer=optimizer, modules={"high": high})

    bar = Progress(config.epochs, state["epoch"], "hrl high") if progress else None
    with checkpoint_on_interrupt(checkpoint, bar):  # Ctrl-C: a checkpoint at the batch reached
        while state["epoch"] < config.epochs:
            started = time.perf_counter()
            high.train()
            order = np.random.default_rng(derive_seed(config.seed, SHUFFLE_KEY, state["epoch"])) \
                .permutation(len(train))
            while state["batch"] * config.batch_size < len(order):
                at = state["batch"] * config.batch_size
                loss_sum, n, correct = batch_loss([train[i] for i in
                                                   order[at:at + config.batch_size]])
                optimizer.zero_grad(set_to_none=True)
                (loss_sum / max(1, n)).backward()
                torch.nn.utils.clip_grad_norm_(high.parameters(), config.max_grad_norm)
                optimizer.step()
                totals = state["totals"]
                state["totals"] = [totals[0] + float(loss_sum.detach()), totals[1] + n,
                                   totals[2] + correct]
                state["batch"] += 1
            totals = state["totals"]
            state.update(frames=state["frames"] + totals[1], epoch=state["epoch"] + 1, batch=0,
                         totals=[0.0, 0, 0],
                         seconds=state["seconds"] + time.perf_counter() - started)
            record = {"epoch": state["epoch"], "frames": state["frames"],
                      "loss": round(totals[0] / max(1, totals[1]), 5),
                      "accuracy": round(totals[2] / max(1, totals[1]), 5)}
            record.update(_validate(high, valid, batch_loss, config.batch_size, to_class))
            run.log(record)
            checkpoint()
            if bar is not None:
                bar.update(1)

    policy = build_hierarchy(low, finished, classes, high_kwargs=high_kwargs,
                             max_segment=config.max_segment)
    policy.high.load_state_dict(high.cpu().state_dict())
    final = _validate(high.to(device), valid, batch_loss, config.batch_size, to_class)
    summary = {"finished": True, "epochs": state["epoch"], "frames": state["frames"],
               "classes": len(classes), "train_episodes": len(train),
               "valid_episodes": len(valid), "seconds": round(state["seconds"], 3),
               **final, "policy": str(Path(run.path) / "policy")}
    save_policy(Path(run.path) / "policy", policy.cpu(),
                {"env": data.meta.get("env"), "trained_by": "hrl high",
                 "subgoals": classes})
    run.finish(summary)
    return summary


def _validate(high, valid, batch_loss, batch_size, to_class) -> dict:
    """Loss and accuracy of the high level over the validation episodes' segment starts."""
    import torch

    if not valid:
        return {}
    high.eval()
    totals = [0.0, 0, 0]
    with torch.no_grad():
        for at in range(0, len(valid), batch_size):
            loss_sum, n, correct = batch_loss(valid[at:at + batch_size])
            totals = [totals[0] + float(loss_sum), totals[1] + n, totals[2] + correct]
    unseen = sum(int((to_class[ep["subgoal"]] < 0).sum()) for ep in valid)
    return {"valid_loss": round(totals[0] / max(1, totals[1]), 5),
            "valid_accuracy": round(totals[2] / max(1, totals[1]), 5),
            "valid_segments": totals[1], "valid_unseen": unseen}


__all__ = ["HighConfig", "load_starts", "segment_starts", "train_high"]
