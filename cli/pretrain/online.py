"""``pretrain rl``: online PPO (core.learn.ppo) in one of the study's arms, at equal
environment frames.

- ``scratch``: the policy from a random initialisation, the task's reward.
- ``encoder-frozen``: the torso copied from ``pretrain encoder``'s policy folder and kept fixed
  (left out of the optimiser: its weights stay bit-identical); only the heads learn.
- ``encoder-finetune``: the same start, the torso trained with the heads.
- ``progress``: from scratch, with the reward r_task + alpha * f(s_max(t-k, start), s_t), f
  ``pretrain reward``'s progress model (core.learn.progress.ProgressShaping); the logged
  success and return stay the task's.
- ``both``: the pre-trained torso (frozen or fine-tuned: ``OnlineConfig.both_encoder``) and
  the progress reward.

The bonus is paid on every step, and mostly positive, so a large alpha makes a long episode
worth more than a solved one: on multiroom (40 steps at most, a task reward of at most 1) a
development probe at alpha 0.01, k 8 (60k frames, one seed) learned to walk until the time
ran out (success 0, against 0.14 from scratch), while alpha 0.003 and 0.001 kept 0.13 and 0.16
(benchmarks/README.md, pretrain). Hence the default 0.003; ``StudyConfig.alphas`` sweeps it.

Every arm builds the same network (``make_policy`` of the task's policy kind, demos.Task.policy:
BabyAI's on the MiniGrid tasks, NetHack's on the MiniHack and NLE ones, with ``policy_kwargs``;
the encoder must have been pre-trained with the same), so the arms differ only in where the weights start, which
weights learn and the reward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from papertools.core.errors import PapertoolsError

ARMS = {
    "scratch": "PPO from a random initialisation",
    "encoder-frozen": "the pre-trained torso, fixed; the heads learn",
    "encoder-finetune": "the pre-trained torso, trained with the heads",
    "progress": "from scratch, plus alpha times the progress model's reward",
    "both": "the pre-trained torso (frozen or fine-tuned) and the progress reward",
}
ENCODER_MODES = ("frozen", "finetune")


@dataclass(frozen=True)
class OnlineConfig:
    """What every arm shares (the study sets it once)."""

    frames: int | None = None  # environment frames per run (None: the task's budget)
    n_envs: int = 8  # PPO's environments (the foundation's DoorKey settings)
    n_steps: int = 128  # steps per environment per update
    alpha: float = 0.003  # the progress reward's weight (the module docstring says why)
    k: int = 8  # the progress reward compares s_max(t-k, start) with s_t
    both_encoder: str = "finetune"  # the "both" arm's torso: "frozen" or "finetune"
    policy_kwargs: dict = field(default_factory=dict)  # the task's policy's; as pre-trained
    log_every: int = 1  # updates between log records (each record: the episodes that ended)


def policy_folder(path) -> str:
    """A ``pretrain encoder`` run folder (its ``policy``) or a policy folder itself."""
    path = Path(path)
    if (path / "policy.json").exists():
        return str(path)
    if (path / "policy" / "policy.json").exists():
        return str(path / "policy")
    raise PapertoolsError(f"{path} holds no policy folder (no policy.json in it or in "
                          "its policy/)")


def progress_folder(path) -> str:
    """A ``pretrain reward`` run folder (its ``progress``) or a progress-model folder itself."""
    path = Path(path)
    if (path / "progress").is_dir():
        return str(path / "progress")
    if path.is_dir():
        return str(path)
    raise PapertoolsError(f"{path} is not a progress model folder")


def ppo_config(task: str, arm: str, seed: int, dirs: dict, config: OnlineConfig):
    """The PPOConfig of ``arm`` on ``task`` (a demos.TASKS name) for ``seed``."""
    from papertools.core.learn.ppo import PPOConfig

    from .demos import task_of

    if arm not in ARMS:
        raise PapertoolsError(f"unknown arm {arm!r} (known: {', '.join(ARMS)})")
    if config.both_encoder not in ENCODER_MODES:
        raise PapertoolsError(f"the both arm's encoder is frozen or finetune, not "
                              f"{config.both_encoder!r}")
    spec = task_of(task)
    extra: dict = {}
    if arm in ("encoder-frozen", "encoder-finetune", "both"):
        if not dirs.get("encoder"):
            raise PapertoolsError(f"the {arm} arm needs a pre-trained encoder (--encoder)")
        extra["init_from"] = policy_folder(dirs["encoder"])
        extra["freeze_torso"] = arm == "encoder-frozen" or (
            arm == "both" and config.both_encoder == "frozen")
    if arm in ("progress", "both"):
        if not dirs.get("progress"):
            raise PapertoolsError(f"the {arm} arm needs a progress model (--progress)")
        extra["progress"] = {"path": progress_folder(dirs["progress"]),
                             "alpha": float(config.alpha), "k": int(config.k)}
    return PPOConfig(env=spec.env, total_frames=int(config.frames or spec.frames),
                     n_envs=config.n_envs, n_steps=config.n_steps, seed=seed,
                     policy=spec.policy, policy_kwargs=dict(config.policy_kwargs),
                     env_options=spec.env_options, log_every=config.log_every, **extra)


def run_arm(task: str, arm: str, seed: int, dirs: dict, config: OnlineConfig,
            resume: bool = False, echo=None) -> dict:
    """Train one arm for one seed in the run folder ``dirs["run"]`` (core.training's: resumable
    and exact); ``dirs["encoder"]`` and ``dirs["progress"]``: the pre-trained folders the arm
    needs. Returns PPO's summary with ``task``, ``arm`` and ``seed``; log.jsonl holds
    ``frames``, ``success`` and ``return`` per update (core.learn.curves reads it)."""
    from papertools.core.learn.ppo import train_ppo

    if not dirs.get("run"):
        raise PapertoolsError("run_arm needs dirs['run'], the run folder")
    ppo = ppo_config(task, arm, seed, dirs, config)
    summary = train_ppo(ppo, dirs["run"], resume=resume, echo=echo)
    return {"task": task, "arm": arm, "seed": seed, **summary}


__all__ = ["ARMS", "ENCODER_MODES", "OnlineConfig", "policy_folder", "ppo_config",
           "progress_folder", "run_arm"]
