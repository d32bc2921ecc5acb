"""Part A's study: language-subgoal HRL against its baselines, arms x seeds, resumable.

One demonstration set (the bot on ``env``, ``demos`` episodes, seed ``demo_seed``) is shared by
every arm, so "equal demonstrations" is literal; each arm then trains per seed:

- ``flat-bc``: the flat recurrent BabyAI policy cloned from the demonstrations (mission in).
- ``flat-ppo``: the same network by PPO from scratch for ``frames`` environment frames.
- ``lang-bc``: the language hierarchy, both levels cloned: the low level from the phrases
  (``low.train_low``), the high level from the segment starts (``high.train_high``).
- ``lang-rl-kl<W>``: ``lang-bc``'s high level trained on the task reward by semi-MDP PPO for
  ``frames`` frames with KL weight W towards the cloned prior (the soft supervision; W over
  ``kl``, 0 included).
- ``latent-bc`` / ``latent-rl``: the same hierarchy over K latent codes learned from the same
  demonstrations without language (``latent.learn_latent``), cloned, then RL with KL
  ``latent_kl``.
- ``rl-only``: the latent low level with a randomly initialised high level trained by RL alone
  (KL 0): HRL without the supervised subgoal space or its prior.

Every final policy is scored on ``eval_episodes`` episodes of evaluation seeds
(core.learn.evaluate: a seed stream no demonstration or training run draws from; the study
checks the demonstrations' seeds are disjoint from them). With ``exclude_pairs`` (held-out
combinations: colour-type pairs such as "purple box" that no demonstration's mission or
subgoal names) the stream is split by mission: ``eval_episodes`` episodes whose mission names
no excluded pair give the success, as many that name one give ``heldout_success``. The table
gives per arm the IQM of success over seeds with a seeded 95% bootstrap interval
(core.learn.curves), the RL arms' learning curves go to ``curves.jsonl`` and ``curves.png``. Units (one arm, one seed) run through
``core.parallel.ordered_map`` in dependency stages; a finished unit leaves ``result.json`` in its
folder and is skipped on ``resume``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from papertools.core.errors import PapertoolsError

ARMS = ("flat-bc", "flat-ppo", "lang-bc", "lang-rl", "latent-bc", "latent-rl", "rl-only")


@dataclass(frozen=True)
class StudyConfig:
    env: str = "babyai/UnlockPickup"
    demos: int = 250  # demonstrations, shared by every arm
    demo_seed: int = 0
    seeds: tuple = (0, 1, 2, 3, 4)
    frames: int = 100_000  # environment frames of every RL arm
    kl: tuple = (0.0, 0.01, 0.1)  # the soft supervision's weights (lang-rl arms)
    latent_kl: float = 0.01
    codes: int = 8  # latent codes (the latent arms)
    bc_epochs: int = 15  # flat BC (the BC benchmark's choice for BabyAI)
    low_epochs: int | None = None  # None: the low level's default
    high_epochs: int | None = None
    eval_episodes: int = 100
    eval_seed: int = 1  # the test episodes' seed stream (development probes used 7)
    arms: tuple = ARMS
    corrupt: float = 0.0  # fraction of corrupted annotations (beyond the paper)
    exclude_pairs: tuple = ()  # colour-type pairs no demonstration names (beyond the paper)
    n_envs: int = 8  # PPO and SMDP environments

    def quick(self) -> StudyConfig:
        """The CI and demo size: minutes on two cores, figures without meaning."""
        return replace(self, env="babyai/GoToLocal" if self.env == StudyConfig.env else self.env,
                       demos=min(self.demos, 30), seeds=self.seeds[:2], frames=2048,
                       kl=self.kl[:2], bc_epochs=2, low_epochs=2, high_epochs=2,
                       eval_episodes=min(self.eval_episodes, 8), n_envs=4)


def lang_rl_name(kl: float) -> str:
    return f"lang-rl-kl{kl:g}"


# The settings each arm trains with (chosen on development seeds; benchmarks/README.md).
FLAT_BC = dict(policy="babyai", policy_kwargs={"recurrent": True, "channels": 64}, epochs=15,
               seq_len=8, lr=1e-3)  # the BC benchmark's choice for BabyAI


@dataclass(frozen=True)
class Unit:
    """One arm of one seed, trained in ``root/arm/seed-N`` (continued where a folder is there)."""

    arm: str
    seed: int
    study: StudyConfig
    root: str

    @property
    def path(self) -> Path:
        return Path(self.root) / self.arm / f"seed-{self.seed}"


def _quiet(_record) -> None:
    pass


def _demos_path(root) -> Path:
    return Path(root) / "demos"


def _low_dir(unit: Unit) -> Path:
    return Path(unit.root) / "low" / f"seed-{unit.seed}"


def _latent_dir(unit: Unit) -> Path:
    return Path(unit.root) / "latent" / f"seed-{unit.seed}"


def _resume(path: Path) -> bool:
    """A unit's folder that exists is an interrupted run of it: continue it."""
    return path.exists()


def run_unit(unit: Unit) -> dict:
    """Train (or find finished) one unit and score its policy; writes ``result.json``."""
    import orjson
    import torch

    from papertools.core.jsonl import write_json

    torch.set_num_threads(1)
    done = unit.path / "result.json"
    if done.exists():
        return orjson.loads(done.read_bytes())
    s, study = unit.seed, unit.study
    demos = _demos_path(unit.root)
    started = time.perf_counter()
    frames = 0
    if unit.arm == "low":
        from .low import LowConfig, train_low

        low = LowConfig(seed=s, **({"epochs": study.low_epochs} if study.low_epochs else {}))
        train_low(demos, unit.path, low, resume=_resume(unit.path), log=_quiet)
        policy = None
    elif unit.arm == "latent":
        from .latent import LatentConfig, learn_latent

        learn_latent(demos, unit.path, LatentConfig(codes=study.codes, seed=s),
                     resume=_resume(unit.path), log=_quiet)
        policy = None
    elif unit.arm == "flat-bc":
        from papertools.core.learn.bc import BCConfig, train_bc

        settings = dict(FLAT_BC, seed=s, epochs=study.bc_epochs)
        train_bc(BCConfig(**settings), demos, unit.path,
                 resume=_resume(unit.path), log=_quiet)
        policy = unit.path / "policy"
    elif unit.arm == "flat-ppo":
        from papertools.core.learn.ppo import PPOConfig, train_ppo

        summary = train_ppo(PPOConfig(env=study.env, total_frames=study.frames,
                                      n_envs=study.n_envs, seed=s),
                            unit.path, resume=_resume(unit.path), echo=_quiet)
        frames, policy = summary.get("frames", study.frames), unit.path / "policy"
    elif unit.arm in ("lang-bc", "latent-bc"):
        from .high import HighConfig, train_high

        if unit.arm == "lang-bc":
            data, low = demos, _low_dir(unit) / "policy"
        else:
            data, low = _latent_dir(unit) / "dataset", _latent_dir(unit) / "low" / "policy"
        high = dict(seed=s, **({"epochs": study.high_epochs} if study.high_epochs else {}))
        train_high(data, low, unit.path, HighConfig(**high),
                   resume=_resume(unit.path), log=_quiet)
        policy = unit.path / "policy"
    else:  # the RL arms: the high level over segments, from a cloned hierarchy
        from .smdp import SMDPConfig, train_smdp

        if unit.arm.startswith("lang-rl-kl"):
            start, kl, reinit = "lang-bc", float(unit.arm.removeprefix("lang-rl-kl")), False
        elif unit.arm == "latent-rl":
            start, kl, reinit = "latent-bc", study.latent_kl, False
        elif unit.arm == "rl-only":
            start, kl, reinit = "latent-bc", 0.0, True
        else:
            raise PapertoolsError(f"unknown arm {unit.arm!r} (known: {', '.join(ARMS)})")
        origin = Path(unit.root) / start / f"seed-{s}" / "policy"
        summary = train_smdp(SMDPConfig(env=study.env, frames=study.frames, n_envs=study.n_envs,
                                        kl=kl, reinit_high=reinit, seed=s, arm=unit.arm),
                             origin, unit.path, resume=_resume(unit.path),
                             log=_quiet)
        frames, policy = summary.get("frames", study.frames), unit.path / "policy"
    result = {"arm": unit.arm, "seed": s, "frames": frames,
              "train_seconds": round(time.perf_counter() - started, 1)}
    if policy is not None:
        from papertools.core.learn.evaluate import evaluate_policy

        seen, held = eval_seeds(study)
        scored = evaluate_policy(policy, study.env, len(seen), seeds=seen, deterministic=True)
        result.update(success=scored["success"], episodes=scored["episodes"],
                      length=round(scored["length"], 2))
        if held:
            scored = evaluate_policy(policy, study.env, len(held), seeds=held,
                                     deterministic=True)
            result.update(heldout_success=scored["success"], heldout_episodes=len(held))
    write_json(done, result)
    return result


# Stages: a unit's inputs are finished in an earlier stage.
STAGES = (("low", "latent", "flat-bc", "flat-ppo"), ("lang-bc", "latent-bc"),
          ("lang-rl", "latent-rl", "rl-only"))
NEEDS = {"lang-bc": "low", "latent-bc": "latent", "lang-rl": "lang-bc", "latent-rl": "latent-bc",
         "rl-only": "latent-bc"}


def plan(study: StudyConfig) -> list[list[str]]:
    """The arm names of each stage (the helpers, low and latent, where an arm needs them)."""
    wanted = set(study.arms)
    for arm in list(wanted):
        while arm in NEEDS:
            arm = NEEDS[arm]
            wanted.add(arm)
    stages = []
    for stage in STAGES:
        names = []
        for arm in stage:
            if arm not in wanted:
                continue
            names += [lang_rl_name(w) for w in study.kl] if arm == "lang-rl" else [arm]
        stages.append(names)
    return stages


_SPLITS: dict = {}


def eval_seeds(study: StudyConfig) -> tuple[list[int], list[int]]:
    """The evaluation seeds: (``eval_episodes`` seeds of the stream, []) or, with
    ``exclude_pairs``, the stream split by what the mission names: (the first
    ``eval_episodes`` whose mission names no excluded pair, the first as many that name one)."""
    from papertools.core.learn.evaluate import evaluation_seeds

    if not study.exclude_pairs:
        return evaluation_seeds(study.eval_seed, study.eval_episodes), []
    key = (study.env, study.eval_seed, study.eval_episodes, tuple(study.exclude_pairs))
    if key not in _SPLITS:
        from papertools.core.envs import make_env

        from .language import pairs_named

        excluded, n = set(study.exclude_pairs), study.eval_episodes
        seen, held, env = [], [], make_env(study.env)
        try:
            for seed in evaluation_seeds(study.eval_seed, 200 * n):  # in order, until both fill
                obs, _ = env.reset(seed=seed)
                side = held if pairs_named(obs["mission"]) & excluded else seen
                if len(side) < n:
                    side.append(seed)
                if len(seen) == n and len(held) == n:
                    break
        finally:
            env.close()
        if len(held) < n:
            raise PapertoolsError(f"{study.env}: only {len(held)} of {200 * n} evaluation "
                                  f"episodes name {', '.join(sorted(excluded))} in their "
                                  "mission; choose pairs the level's missions name")
        _SPLITS[key] = (seen, held)
    return _SPLITS[key]


def check_seeds(demos: Path, study: StudyConfig) -> None:
    """The evaluation seeds must be none of the demonstrations' (played, re-draws included)."""
    from papertools.core.learn.evaluate import check_held_out

    seen, held = eval_seeds(study)
    check_held_out([demos], seen + held, hint="; choose another --eval-seed")


def run_study(study: StudyConfig, out_dir, *, resume: bool = False, workers: int = 1,
              engine: str = "auto", on_unit=None) -> list[dict]:
    """Demonstrations, then every unit stage by stage; returns the unit results (scored units
    only), each also in its folder's result.json. ``on_unit(result)`` after each unit."""
    from papertools.core.jsonl import write_json
    from papertools.core.parallel import ordered_map

    from .demos import record_demos

    root = Path(out_dir)
    settings = root / "study.json"
    if settings.exists() and not resume:
        raise PapertoolsError(f"{root} holds a study: give --resume to continue it")
    if settings.exists():
        import orjson

        have = orjson.loads(settings.read_bytes())
        if have != _jsonable(study):
            raise PapertoolsError(f"{root} holds a study with other settings: "
                                  "start a new folder")
    root.mkdir(parents=True, exist_ok=True)
    write_json(settings, _jsonable(study))
    demos = _demos_path(root)
    record_demos(study.env, study.demos, demos, seed=study.demo_seed, corrupt=study.corrupt,
                 exclude_pairs=study.exclude_pairs, workers=workers, engine=engine,
                 resume=demos.exists())
    check_seeds(demos, study)
    results = []
    for names in plan(study):
        units = [Unit(arm, s, study, str(root)) for arm in names for s in study.seeds]
        for result in ordered_map(run_unit, units, workers=workers, engine=engine, chunk_size=1):
            if "success" in result:
                results.append(result)
            if on_unit:
                on_unit(result)
    return results


def _jsonable(study: StudyConfig) -> dict:
    import orjson

    return orjson.loads(orjson.dumps(asdict(study)))


def summarise(results: list[dict], reps: int = 2000, seed: int = 0,
              key: str = "success") -> list[dict]:
    """Per arm: the IQM of ``key`` (success, or heldout_success) over seeds with a seeded 95%
    bootstrap interval, the mean, the seeds, the frames (environment frames of the RL stage; 0
    for cloned arms)."""
    import numpy as np
    from rliable import metrics

    from papertools.core.learn.curves import interval_estimates

    by_arm: dict[str, list[dict]] = {}
    for r in results:
        if key in r:
            by_arm.setdefault(r["arm"], []).append(r)
    if not by_arm:
        return []
    scores = {arm: np.array([[r[key]] for r in rows]) for arm, rows in by_arm.items()}
    est, ci = interval_estimates(scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps,
                                 seed)
    return [{"arm": arm, "iqm": float(est[arm][0]), "low": float(ci[arm][0][0]),
             "high": float(ci[arm][1][0]), "mean": float(np.mean(scores[arm])),
             "seeds": len(rows), "frames": max(r.get("frames", 0) for r in rows)}
            for arm, rows in by_arm.items()]


def rl_runs(out_dir, study: StudyConfig) -> dict:
    """{arm: [run folders]} of the arms that learn online (their log.jsonl has frames)."""
    names = [a for stage in plan(study) for a in stage
             if a == "flat-ppo" or a.startswith("lang-rl") or a in ("latent-rl", "rl-only")]
    return {a: [Path(out_dir) / a / f"seed-{s}" for s in study.seeds] for a in names}
