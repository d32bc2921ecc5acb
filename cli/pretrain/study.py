"""``pretrain study``: tasks x arms x seeds, resumable, with the table and the curves.

Per task (demos.TASKS): record the observation-only demonstrations (``demos`` episodes; the
data-size sweep records each size in ``demo_sizes``), pre-train the contrastive encoder and
the progress model on them once (``pretrain encoder`` / ``pretrain reward``'s library, one
model of each per task and data size, shared by every seed: the paper pre-trains once), then
run every arm x seed online (online.run_arm) at the task's frame budget. The sweeps add arms:
``<arm>-n<N>`` (each main arm that starts from pre-trained models, with models pre-trained
on N demonstrations) for each N in ``demo_sizes`` other than ``demos``, and
``progress-a<alpha>`` for each alpha in ``alphas``
other than ``alpha``.

Layout: ``WORK/study.json`` (the config; a resume must give the same), ``WORK/<task>/demos-<N>``
(trajectory datasets), ``WORK/<task>/encoder-<N>`` and ``progress-<N>`` (run folders),
``WORK/<task>/<arm>/seed-<s>`` (PPO run folders, ``result.json`` once finished),
``WORK/<task>/curves.jsonl`` and ``curves.png``, ``WORK/summary.jsonl`` (the table's rows).
Units (a pre-training run, an arm's seed) go through core.parallel.ordered_map; a unit whose
folder exists is continued (core.training's exact resume), a finished one is read back.

The table, per task and arm: frames to the task's success threshold (the first log record at
which the success rate over the last ``WINDOW`` or more episodes reaches it; a seed that never
does counts the budget, and ``reached`` says how many did) as the IQM over seeds with a
95% stratified-bootstrap interval (core.learn.curves), and the final success (PPO's, over its
last 100 episodes) the same way.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from papertools.core.errors import PapertoolsError

from .online import ARMS, ENCODER_MODES

WINDOW = 50  # episodes (at least; whole log records) whose success rate meets the threshold


@dataclass(frozen=True)
class StudyConfig:
    tasks: tuple = ("doorkey", "multiroom")  # demos.DEFAULT_TASKS
    arms: tuple = tuple(ARMS)
    seeds: tuple = (0, 1, 2, 3, 4)
    demos: int = 200  # demonstrations per task the main arms pre-train on
    demo_sizes: tuple = ()  # data-size sweep: e.g. (50, 200, 1000) adds <arm>-n<N> arms
    alpha: float = 0.003  # the progress reward's weight (online.OnlineConfig: why)
    alphas: tuple = ()  # alpha sweep: e.g. (0.003, 0.03) adds progress-a<alpha> arms
    k: int = 8  # the progress reward's look-back
    both_encoder: str = "finetune"  # the both arm's torso: frozen or finetune
    frames: int | None = None  # per run (None: each task's budget, demos.TASKS)
    n_envs: int = 8
    n_steps: int = 128
    demo_seed: int = 0
    policy_kwargs: dict = field(default_factory=dict)  # the online and pre-trained network
    encoder: dict = field(default_factory=dict)  # EncoderConfig overrides (steps, gamma, ...)
    progress: dict = field(default_factory=dict)  # ProgressConfig overrides
    reps: int = 2000  # bootstrap resamples of the intervals

    def quick(self) -> StudyConfig:
        """The smoke size (minutes on two cores; figures without meaning): one task, two
        seeds, a few demonstrations, short pre-training and runs."""
        return replace(self, tasks=self.tasks[-1:], seeds=self.seeds[:2], demos=20,
                       demo_sizes=tuple(min(n, 10) for n in self.demo_sizes[:1]),
                       alphas=self.alphas[:1], frames=2048, n_envs=4, n_steps=64,
                       encoder={"steps": 20, "batch_size": 32, **self.encoder},
                       progress={"steps": 20, "batch_size": 32, **self.progress}, reps=200)

    def check(self) -> None:
        from .demos import task_of

        for t in self.tasks:
            task_of(t)
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown:
            raise PapertoolsError(f"unknown arm {unknown[0]!r} (known: {', '.join(ARMS)})")
        if self.both_encoder not in ENCODER_MODES:
            raise PapertoolsError(f"both_encoder is frozen or finetune, not "
                                  f"{self.both_encoder!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise PapertoolsError("the study needs distinct seeds")


def arm_plan(study: StudyConfig) -> dict[str, tuple[str, int, float]]:
    """{arm name: (online arm, demonstrations its models saw, alpha)}: the main arms, then the
    sweeps': every main arm that starts from pre-trained models again at each other data size
    (<arm>-n<N>: --arms scratch,encoder-finetune --demo-sizes 50,1000 sweeps the fine-tuned
    encoder alone), and the progress arm at each other alpha (progress-a<alpha>)."""
    plan = {a: (a, study.demos, study.alpha) for a in study.arms}
    for n in study.demo_sizes:
        if n != study.demos:
            for a in study.arms:
                if _needs(a):
                    plan[f"{a}-n{n}"] = (a, int(n), study.alpha)
    for a in study.alphas:
        if a != study.alpha:
            plan[f"progress-a{a:g}"] = ("progress", study.demos, float(a))
    return plan


def _sizes(study: StudyConfig) -> list[int]:
    return sorted({n for _, n, _ in arm_plan(study).values()})


def _needs(arm: str) -> set[str]:
    return ({"encoder"} if arm in ("encoder-frozen", "encoder-finetune", "both") else set()) | \
        ({"progress"} if arm in ("progress", "both") else set())


# ---------------------------------------------------------------------------------------------
# Units


@dataclass(frozen=True)
class Pretrain:
    """One pre-training run: ``model`` "encoder" or "progress" on a task's N demonstrations."""

    task: str
    model: str
    demos: int
    study: StudyConfig
    root: str

    @property
    def path(self) -> Path:
        return Path(self.root) / self.task / f"{self.model}-{self.demos}"


@dataclass(frozen=True)
class Online:
    """One arm of one seed on one task."""

    task: str
    arm: str
    seed: int
    study: StudyConfig
    root: str

    @property
    def path(self) -> Path:
        return Path(self.root) / self.task / self.arm / f"seed-{self.seed}"


def _demos_dir(root, task: str, n: int) -> Path:
    return Path(root) / task / f"demos-{n}"


def _quiet(_record) -> None:
    pass


def _config(cls, overrides: dict, study: StudyConfig, seed: int, policy: str = "babyai"):
    """``cls`` (EncoderConfig, ProgressConfig) with the task's policy kind, the study's policy
    arguments and seed where it has such fields, then the study's overrides."""
    names = {f.name for f in fields(cls)}
    given = {"policy": policy, "policy_kwargs": dict(study.policy_kwargs), "seed": seed}
    settings = {k: v for k, v in given.items() if k in names}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise PapertoolsError(f"{cls.__name__} has no field {unknown[0]!r}")
    return cls(**settings, **overrides)


def run_pretrain(unit: Pretrain) -> dict:
    """Pre-train one model (continued when its folder exists); returns its summary."""
    import torch

    from . import offline
    from .demos import task_of

    torch.set_num_threads(1)
    data = _demos_dir(unit.root, unit.task, unit.demos)
    kind = task_of(unit.task).policy
    if unit.model == "encoder":
        config = _config(offline.EncoderConfig, unit.study.encoder, unit.study,
                         unit.study.demo_seed, kind)
        summary = offline.train_encoder(data, unit.path, config, resume=unit.path.exists(),
                                        log=_quiet)
    else:
        config = _config(offline.ProgressConfig, unit.study.progress, unit.study,
                         unit.study.demo_seed, kind)
        summary = offline.train_progress(data, unit.path, config, resume=unit.path.exists(),
                                         log=_quiet)
    return {"task": unit.task, "model": unit.model, "demos": unit.demos, "path": str(unit.path),
            **{k: v for k, v in (summary or {}).items() if isinstance(v, (int, float, str))}}


def run_online(unit: Online) -> dict:
    """Train one arm's seed (continued when its folder exists); writes ``result.json``."""
    import orjson
    import torch

    from papertools.core.jsonl import write_json

    from .online import OnlineConfig, run_arm

    torch.set_num_threads(1)
    done = unit.path / "result.json"
    if done.exists():
        return orjson.loads(done.read_bytes())
    study = unit.study
    base, n, alpha = arm_plan(study)[unit.arm]
    task_dir = Path(unit.root) / unit.task
    dirs = {"run": str(unit.path), "encoder": str(task_dir / f"encoder-{n}"),
            "progress": str(task_dir / f"progress-{n}")}
    config = OnlineConfig(frames=study.frames, n_envs=study.n_envs, n_steps=study.n_steps,
                          alpha=alpha, k=study.k, both_encoder=study.both_encoder,
                          policy_kwargs=dict(study.policy_kwargs))
    started = time.perf_counter()
    summary = run_arm(unit.task, base, unit.seed, dirs, config, resume=unit.path.exists(),
                      echo=_quiet)
    result = {"task": unit.task, "arm": unit.arm, "seed": unit.seed,
              "frames": summary["frames"], "success": summary["success"],
              "return": summary["return"], "fps": round(summary["fps"], 1),
              "seconds": round(time.perf_counter() - started, 1)}
    write_json(done, result)
    return result


# ---------------------------------------------------------------------------------------------
# The study


def _jsonable(study: StudyConfig) -> dict:
    import orjson

    return orjson.loads(orjson.dumps(asdict(study)))


def run_study(study: StudyConfig, work, workers: int = 1, engine: str = "auto",
              resume: bool = False, on_unit=None) -> dict:
    """Run (or continue) the whole study in the folder ``work``; returns {"rows": the table's
    rows, "results": every online unit's result, "curves": {task: png path}}."""
    import orjson

    from papertools.core.jsonl import write_json
    from papertools.core.parallel import ordered_map

    from .demos import record_demos

    study.check()
    root = Path(work)
    settings = root / "study.json"
    if settings.exists():
        if not resume:
            raise PapertoolsError(f"{root} holds a study: --resume continues it, or choose "
                                  "another --out-dir")
        if orjson.loads(settings.read_bytes()) != _jsonable(study):
            raise PapertoolsError(f"{root} holds a study with other settings: give the same, "
                                  "or choose another --out-dir")
    elif root.exists() and any(root.iterdir()):
        raise PapertoolsError(f"{root} is not empty: choose a new or empty --out-dir")
    root.mkdir(parents=True, exist_ok=True)
    write_json(settings, _jsonable(study))
    plan = arm_plan(study)
    needed = {(task, model, n) for task in study.tasks for arm, (base, n, _) in plan.items()
              for model in _needs(base)}
    for task in study.tasks:
        for n in _sizes(study):
            if any(t == task and m == n for t, _, m in needed):
                out = _demos_dir(root, task, n)
                record_demos(task, n, out, seed=study.demo_seed, resume=out.exists(),
                             workers=workers, engine=engine)
    units = [Pretrain(t, model, n, study, str(root)) for t, model, n in sorted(needed)]
    for summary in ordered_map(run_pretrain, units, workers=workers, engine=engine,
                               chunk_size=1):
        if on_unit:
            on_unit(summary)
    online = [Online(t, arm, s, study, str(root)) for t in study.tasks for arm in plan
              for s in study.seeds]
    results = []
    for result in ordered_map(run_online, online, workers=workers, engine=engine, chunk_size=1):
        results.append(result)
        if on_unit:
            on_unit(result)
    rows, curves = [], {}
    for task in study.tasks:
        runs = {arm: [root / task / arm / f"seed-{s}" for s in study.seeds] for arm in plan}
        rows += summarise(task, runs, results, study)
        curves[task] = str(draw_curves(task, runs, root / task, study.reps))
    from papertools.core.jsonl import atomic_path, dumps

    with atomic_path(root / "summary.jsonl") as tmp, open(tmp, "wb") as out:
        for r in rows:
            out.write(dumps(r))
    return {"rows": rows, "results": results, "curves": curves}


# ---------------------------------------------------------------------------------------------
# The table and the curves


def frames_to_threshold(run_dir, threshold: float, window: int = WINDOW) -> int | None:
    """The frames at the first log record where the success rate over the most recent
    ``window`` or more episodes (whole log records, each weighted by the episodes that ended in
    it) reaches ``threshold``; None if none does. Weighting by episodes matters where episodes
    are long: early records then hold one to three episodes each, and an unweighted mean of
    their rates crosses 0.5 on a few lucky ones."""
    from collections import deque

    import orjson

    recent: deque = deque()  # (episodes, successes) of the records in the window
    total = wins = 0.0
    last_count = 0
    for line in (Path(run_dir) / "log.jsonl").read_bytes().splitlines():
        rec = orjson.loads(line)
        count = rec.get("episodes")
        n = 1 if count is None else int(count) - last_count
        last_count = last_count if count is None else int(count)
        if rec.get("success") is None or rec.get("frames") is None or n <= 0:
            continue
        won = float(rec["success"]) * n
        recent.append((n, won))
        total, wins = total + n, wins + won
        while recent and total - recent[0][0] >= window:
            n0, w0 = recent.popleft()
            total, wins = total - n0, wins - w0
        if total >= window and wins / total >= threshold - 1e-9:
            return int(rec["frames"])
    return None


def _iqm_interval(values: dict, reps: int, seed: int = 0):
    import numpy as np
    from rliable import metrics

    from papertools.core.learn.curves import interval_estimates

    scores = {arm: np.asarray(v, float)[:, None] for arm, v in values.items()}
    return interval_estimates(scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps, seed)


def summarise(task: str, runs: dict, results: list[dict], study: StudyConfig) -> list[dict]:
    """One row per arm of ``task``: frames to threshold (IQM and 95% interval over seeds, a
    seed that never reaches it counted at its budget; ``reached``: how many did) and final
    success (IQM and interval)."""
    from .demos import task_of

    spec = task_of(task)
    budget = int(study.frames or spec.frames)
    mine = {(r["arm"], r["seed"]): r for r in results if r["task"] == task}
    reach, final, reached = {}, {}, {}
    for arm, dirs in runs.items():
        hits = [frames_to_threshold(d, spec.threshold) for d in dirs]
        reach[arm] = [budget if h is None else h for h in hits]
        reached[arm] = sum(h is not None for h in hits)
        final[arm] = [mine.get((arm, s), {}).get("success") or 0.0 for s in study.seeds]
    r_est, r_ci = _iqm_interval(reach, study.reps)
    f_est, f_ci = _iqm_interval(final, study.reps)
    return [{"task": task, "env": spec.env, "arm": arm, "threshold": spec.threshold,
             "budget": budget, "seeds": len(runs[arm]), "reached": reached[arm],
             "frames_to_threshold": round(float(r_est[arm][0])),
             "frames_low": round(float(r_ci[arm][0][0])),
             "frames_high": round(float(r_ci[arm][1][0])),
             "final_success": round(float(f_est[arm][0]), 4),
             "success_low": round(float(f_ci[arm][0][0]), 4),
             "success_high": round(float(f_ci[arm][1][0]), 4)} for arm in runs]


def draw_curves(task: str, runs: dict, out_dir, reps: int) -> Path:
    """Success against frames, every arm (IQM and 95% band over seeds): curves.jsonl and
    curves.png in ``out_dir``; returns the PNG's path."""
    from papertools.core.learn.curves import aggregate, load_curves, plot_curves, write_curves

    records = aggregate(load_curves(runs), "success", reps=reps)
    write_curves(records, Path(out_dir) / "curves.jsonl")
    png = Path(out_dir) / "curves.png"
    plot_curves(records, png, title=f"pretrain: {task}")
    return png


def table(rows: list[dict]) -> str:
    """The rows as a plain-text table (what ``pretrain study`` and the benchmark print)."""
    head = f"{'task':<12} {'arm':<18} {'frames to threshold (IQM, 95% CI)':<36} " \
           f"{'reached':>7}  {'final success (IQM, 95% CI)':<28}"
    lines = [head, "-" * len(head)]
    for r in rows:
        frames = f"{r['frames_to_threshold']:,} [{r['frames_low']:,}, {r['frames_high']:,}]"
        success = f"{r['final_success']:.2f} [{r['success_low']:.2f}, {r['success_high']:.2f}]"
        lines.append(f"{r['task']:<12} {r['arm']:<18} {frames:<36} "
                     f"{r['reached']:>3}/{r['seeds']:<3}  {success:<28}")
    return "\n".join(lines)


__all__ = ["WINDOW", "StudyConfig", "arm_plan", "draw_curves", "frames_to_threshold",
           "run_online", "run_pretrain", "run_study", "summarise", "table"]
