"""``hrl low`` and ``hrl eval-low``: the low level, a BabyAI policy conditioned on a subgoal
phrase, cloned from the demonstrations' segments, with a "subgoal finished" head.

Training is core.learn.bc's sequence BC with three of its options: the observation's mission is
each step's ``phrase`` label (``text_labels``), the recurrent state resets at every segment's
first step (``reset_label="start"``: a segment is played from scratch, as the two-level agent
plays it), and a linear head over the policy's features predicts the ``finished`` label (1 on
a segment's last step), weighted ``finished_weight``; it lands in ``policy/aux_heads.pt``.

Evaluation in isolation (:func:`evaluate_low`): for each episode the bot plays the level up to
the start of one segment (its kind drawn uniformly among the kinds the bot's episode has, then
a segment of that kind; exploration is not scored: it names no goal), then the low level gets
that segment's subgoal as a phrase (a training phrasing, or the held-out one) and plays until
its finished head fires (probability > 0.5, checked after each action) or ``max_segment``
steps. Success: the subgoal holds in the env state when it stops (:func:`achieved`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed, python_rng

from . import language

EVAL_KEY = 0x65766C6F  # "evlo": evaluation episodes' seeds, apart from the demos' (DEMO_KEY)


@dataclass
class LowConfig:
    # passes over the episodes: on 250 UnlockPickup demos 20 reach a valid accuracy of 0.98;
    # 40 demos need about 60
    epochs: int = 20
    seq_len: int = 16  # steps per BC window (segments are short: 1-25 steps)
    batch_size: int = 32  # windows per optimiser step
    lr: float = 2e-3  # Adam's learning rate (measured: 1e-3 learns "go to" slower)
    finished_weight: float = 1.0  # the finished head's loss weight beside the action loss
    recurrent: bool = True  # an LSTM core (reset at each segment's start)
    memory: int = 128  # the LSTM's width
    # the phrase encoder: "gru" (a word GRU trained from scratch: words never seen in training
    # mean nothing to it) or "minilm" (the packaged frozen sentence encoder, a trained
    # projection: paraphrases land near each other)
    instruction_encoder: str = "gru"
    valid_fraction: float = 0.1  # episodes held out for BC's validation
    seed: int = 0
    threads: int = 1  # torch threads (one per run on a shared machine)
    device: str = "auto"
    save_every: int = 0  # optimiser steps between checkpoints (0: at epoch ends)


def vocabulary(dataset) -> list[str]:
    """The policy's words: BabyAI's, every word of language.PHRASES and of the missions."""
    import re

    from papertools.core.learn.policies import mission_vocab

    extra = language.words()
    for record in dataset.episodes:
        extra += re.findall(r"[a-z]+", str(record.get("mission", "")).lower())
    return mission_vocab(extra)


def bc_config(config: LowConfig, vocab: list[str]):
    from papertools.core.learn.bc import BCConfig

    kwargs = {"vocab": vocab, "recurrent": config.recurrent}
    if config.instruction_encoder != "gru":
        kwargs["instruction_encoder"] = config.instruction_encoder
    if config.recurrent:
        kwargs["memory"] = config.memory
    return BCConfig(policy="babyai", policy_kwargs=kwargs, seq_len=config.seq_len,
                    batch_size=config.batch_size, epochs=config.epochs, lr=config.lr,
                    valid_fraction=config.valid_fraction,
                    aux_labels={"finished": config.finished_weight},
                    text_labels={"mission": "phrase"}, reset_label="start", seed=config.seed,
                    device=config.device, threads=config.threads,
                    save_every=config.save_every)


def train_low(dataset, run_dir, config: LowConfig, resume: bool = False,
              progress: bool = False, log=None) -> dict:
    """Clone the low level from the demonstrations at ``dataset`` into the run folder
    ``run_dir`` (RUN/policy at the end); returns BC's summary."""
    from papertools.core.learn.bc import train_bc
    from papertools.core.trajectories import TrajectoryDataset

    data = TrajectoryDataset(dataset)
    missing = [k for k in ("phrase", "start", "finished") if k not in data.meta.get("labels", {})]
    if missing:
        raise PapertoolsError(f"{dataset} has no {', '.join(missing)} labels: record it with "
                              "'papertools hrl demos'")
    return train_bc(bc_config(config, vocabulary(data)), data, run_dir, resume=resume,
                    log=log or (lambda record: None), progress=progress)


# ---------------------------------------------------------------------------------------------
# Evaluation in isolation


def achieved(native, canonical: str) -> bool:
    """Whether ``canonical`` holds in the env state: go to = the object right in front; open =
    the door in front of that colour, open; pick up = carrying it; drop = carrying nothing and
    the object in front; explore never (it names no goal)."""
    from .language import _minigrid

    kind, color, obj = language.parse(canonical)
    if kind == language.EXPLORE:
        return False
    env = _minigrid(native)
    front = env.grid.get(*env.front_pos)
    carrying = env.carrying

    def is_it(thing):
        return thing is not None and thing.type == obj and thing.color == color

    if kind == "go to":
        return is_it(front)
    if kind == "open":
        return is_it(front) and bool(front.is_open)
    if kind == "pick up":
        return is_it(carrying)
    return carrying is None and is_it(front)  # drop


def load_low(policy_dir, device: str = "cpu"):
    """(the policy, its finished head: a Linear over the features, 2 outputs) of a low-level
    policy folder."""
    import torch

    from papertools.core.learn.policies import load_policy

    policy, _ = load_policy(policy_dir, device=device)
    path = Path(policy_dir) / "aux_heads.pt"
    if not path.exists():
        raise PapertoolsError(f"{policy_dir} has no aux_heads.pt: not a low level of 'hrl low'")
    saved = torch.load(path, map_location=device, weights_only=True)
    state = saved["state_dict"]
    if "label_finished.weight" not in state:
        raise PapertoolsError(f"{policy_dir}: aux_heads.pt has no finished head")
    head = torch.nn.Linear(policy.features_dim, 2).to(device)
    head.load_state_dict({"weight": state["label_finished.weight"],
                          "bias": state["label_finished.bias"]})
    return policy, head.eval()


@dataclass(frozen=True)
class EvalJob:
    policy_dir: str
    env: str
    index: int
    seed: int
    held_out: bool
    max_segment: int
    deterministic: bool


_LOADED: dict = {}


def _low(policy_dir: str):
    if policy_dir not in _LOADED:
        import torch

        torch.set_num_threads(1)
        _LOADED.clear()
        _LOADED[policy_dir] = load_low(policy_dir)
    return _LOADED[policy_dir]


def eval_episode(job: EvalJob) -> dict | None:
    """One subgoal in isolation: {"episode", "seed", "subgoal", "kind", "phrase", "success",
    "reached" (achieved at any step), "steps", "fired" (stopped by the finished head)}; None
    when the bot's episode has no scored segment."""
    import torch

    from papertools.core.envs import make_env

    from .demos import bot_episode, segments_of

    seed = derive_seed(job.seed, EVAL_KEY, job.index) % (2 ** 31)
    rng = python_rng(job.seed, EVAL_KEY, job.index, 1)
    ep = bot_episode(job.env, seed)
    segments = [(s, n) for s, n in segments_of(ep["subgoals"])
                if language.kind_of(ep["subgoals"][s]) != language.EXPLORE]
    if not segments:
        return None
    kinds = sorted({language.kind_of(ep["subgoals"][s]) for s, _ in segments},
                   key=language.KINDS.index)
    kind = kinds[int(rng.random() * len(kinds)) % len(kinds)]
    mine = [(s, n) for s, n in segments if language.kind_of(ep["subgoals"][s]) == kind]
    start, _ = mine[int(rng.random() * len(mine)) % len(mine)]
    subgoal = ep["subgoals"][start]
    options = language.phrasings(subgoal, held_out=job.held_out)
    phrase = options[int(rng.random() * len(options)) % len(options)]

    policy, head = _low(job.policy_dir)
    generator = torch.Generator().manual_seed(derive_seed(job.seed, EVAL_KEY, job.index, 2)
                                              % (2 ** 63))
    env = make_env(job.env)
    try:
        obs, _ = env.reset(seed=seed)
        for action in ep["actions"][:start]:  # the bot's own way to the segment's start
            obs, *_ = env.step(action)
        state, reached, fired, steps, done = None, False, False, 0, False
        with torch.no_grad(), policy.frozen():
            while steps < job.max_segment and not done:
                seq = {"image": torch.as_tensor(obs["image"])[None, None],
                       "mission": [[phrase]]}
                first = torch.tensor([[steps == 0]])
                logits, _, state, features = policy.forward_sequence(seq, state, first,
                                                                     return_features=True)
                finished = torch.softmax(head(features[0, 0]), -1)[1].item()
                if job.deterministic:
                    action = int(logits[0, 0].argmax())
                else:
                    action = int(torch.multinomial(torch.softmax(logits[0, 0], -1), 1,
                                                   generator=generator))
                obs, _, terminated, truncated, _ = env.step(action)
                steps += 1
                done = terminated or truncated
                reached = reached or achieved(env, subgoal)
                if finished > 0.5:
                    fired = True
                    break
        success = achieved(env, subgoal)
    finally:
        env.close()
    return {"episode": job.index, "seed": seed, "subgoal": subgoal, "kind": kind,
            "phrase": phrase, "success": bool(success), "reached": bool(reached),
            "steps": steps, "fired": fired}


def evaluate_low(policy_dir, env: str, episodes: int, seed: int = 0, held_out: bool = False,
                 max_segment: int = 64, workers: int = 1, engine: str = "auto",
                 deterministic: bool = False, on_episode=None) -> dict:
    """Per-kind success of the low level in isolation over ``episodes`` episodes of ``env``:
    {"kinds": {kind: {"success", "reached", "episodes", "mean_steps"}}, "success" (over all),
    "finished_precision" (of the stops the finished head made, the share where the subgoal
    held), "fired" (the share of segments it stopped), "episodes", "held_out"}. Sampling is
    seeded per episode (or ``deterministic``: the most likely action), so any ``workers``
    gives the same figures."""
    from papertools.core.parallel import ordered_map

    if not (Path(policy_dir) / "policy.json").exists():
        raise PapertoolsError(f"{policy_dir} is not a policy folder (no policy.json)")
    jobs = [EvalJob(str(Path(policy_dir).resolve()), env, i, seed, held_out, max_segment,
                    deterministic) for i in range(episodes)]
    results = []
    for result in ordered_map(eval_episode, jobs, workers=workers, engine=engine):
        if result is not None:
            results.append(result)
            if on_episode:
                on_episode(result)
    return summarize(results, held_out)


def summarize(results: list[dict], held_out: bool = False) -> dict:
    kinds = {}
    for kind in language.KINDS:
        mine = [r for r in results if r["kind"] == kind]
        if mine:
            kinds[kind] = {"success": _mean(r["success"] for r in mine),
                           "reached": _mean(r["reached"] for r in mine),
                           "episodes": len(mine),
                           "mean_steps": _mean(r["steps"] for r in mine)}
    fired = [r for r in results if r["fired"]]
    return {"kinds": kinds, "success": _mean(r["success"] for r in results),
            "finished_precision": _mean(r["success"] for r in fired) if fired else None,
            "fired": _mean(r["fired"] for r in results), "episodes": len(results),
            "held_out": held_out}


def _mean(values) -> float:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0


__all__ = ["EVAL_KEY", "LowConfig", "achieved", "evaluate_low", "load_low", "summarize",
           "train_low"]
