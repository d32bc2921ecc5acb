#!/usr/bin/env python
"""compose-sample benchmark (issue 8): every sampler on the paper's three 2D compositions.

Models: the small energy-parameterised models shipped in examples/compose_sample/models/ (width
64 x 2 residual blocks, 12,000 steps at batch 512; examples/compose_sample/make_models.sh), 100
cosine levels.
Compositions: product ``ring + bar``, mixture ``left_bar | right_bar``, negation
``1.3*box - 0.3*small_box``. Samplers with the paper's 2D settings (the "toy" preset): reverse
diffusion with the composed score (the baseline), annealed ULA (eta 0.001), U-HMC, MALA, HMC
(eps 0.03, damping 0.5, 3 leapfrog steps), 10 MCMC steps per level.

1. quality: N samples per sampler and composition (seed 0), scored against the exact composed
   density (compose_sample.evaluate.Reference): mean log-density, fraction inside the 99%
   highest-density region, energy distance to exact samples; each also as a ratio to reverse
   diffusion measured in the same run. The paper's finding is checked per composition on the
   energy distance (lower is better): reverse > ULA > U-HMC, and min(MALA, HMC) <= U-HMC
   (a 5% tolerance for the last two comparisons, which are close at this scale).
2. speed: samples/s for 10,000 points and 100 levels on CPU (one torch thread), and the cost of
   each MCMC sampler as a ratio to reverse diffusion. Reverse diffusion runs all 100 levels; the
   MCMC samplers run the first L levels (every level costs the same: a fixed number of model
   evaluations) and the 100-level time is L's time x 100/L; the results say which.
3. growth: seconds per sample at 1,000 and 10,000 points (reverse diffusion, and HMC on L levels).

4. (issue 17) two more quality rows, mala_adapt and hmc_adapt: the step size adapted per noise
   level toward acceptance 0.57 / 0.65 in 10 warm-up steps per level (sample --adapt), and per
   composition whether the best MCMC row is at least as close to the target as reverse diffusion.

   Beside them, per composition, the energy distance of exact samples of the composition of
   the toy sets as noised to the last level (sigma_0 = 0.025): where perfect models and a
   perfect annealed MCMC end.

Usage: python benchmarks/compose_sample_bench.py [--quick] [--strict] [--seed N] [--quality-only]
       [--workers N] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/compose_sample.json.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import numpy as np
import torch

import common
from papertools.cli.compose_sample import samplers as S
from papertools.cli.compose_sample.compose import ComposedTarget, MLPLeaf, toy_target
from papertools.cli.compose_sample.evaluate import Reference
from papertools.cli.compose_sample.expr import parse
from papertools.cli.compose_sample.toysets import TOYS, Gaussians, exact_grid
from papertools.core.seed import derive_seed

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "compose_sample" / "models"
RESULTS = ROOT / "benchmarks" / "results" / "compose_sample.json"
SAMPLERS = ("reverse", "ula", "uhmc", "mala", "hmc")
# quality rows beyond the paper's settings: MALA and HMC with the step size adapted per level
# toward the target acceptance (0.57, 0.65) in 10 warm-up steps per level (--adapt)
ADAPTED = {"mala_adapt": "mala", "hmc_adapt": "hmc"}
ROWS = SAMPLERS + tuple(ADAPTED)
COMPOSITIONS = {  # name: (expression over model names, {model name: shipped folder})
    "product": ("ring + bar", {"ring": "ring", "bar": "bar"}),
    "mixture": ("left | right", {"left": "left_bar", "right": "right_bar"}),
    "negation": ("1.3*box - 0.3*small", {"box": "box", "small": "small_box"}),
}
SEED = 0  # --seed; issue 17's tuning used seed 1000 (development), its figures seed 1

# name: (kind, comparison, target); "goal" is a pass condition, "aim" is printed beside it.
GOALS = {
    "paper_order_holds_in_compositions": ("aim", ">=", 3),
    "hmc_energy_distance_vs_reverse": ("aim", ">=", 1.0),
    # issue 17: the best MCMC row at least as close as reverse diffusion, in every composition
    "mcmc_at_least_reverse_in_compositions": ("aim", ">=", 3),
}

MODES = {
    # n: samples per sampler for quality; levels: quality levels; speed_n: points for speed;
    # speed_levels: levels timed per MCMC sampler (reverse always runs all 100); growth_n.
    "full": dict(n=1000, levels=100, speed_n=10000, speed_levels=10, growth_n=(1000, 10000)),
    "quick": dict(n=200, levels=30, speed_n=2000, speed_levels=2, growth_n=(200, 2000)),
}


def log(message: str) -> None:
    common.log("compose_sample_bench", message)


def load(expr: str, folders: dict):
    node = parse(expr)
    leaves = {name: MLPLeaf(name, str(MODELS / folder)) for name, folder in folders.items()}
    first = next(iter(leaves.values()))
    target = ComposedTarget(node, leaves, first.scheduler)
    return target, first.scheduler, toy_target(node, leaves)


def run_sampler(target, scheduler, sampler: str, n: int, levels: int, seed: int = SEED,
                max_levels: int | None = None):
    """Sample; returns (points, seconds, mean acceptance or None, model evaluations).

    The settings and the random stream are those of ``compose-sample sample --preset toy`` with
    --batch-size N or more: the same seed gives the same points."""
    _, settings = S.choose("toy", ADAPTED.get(sampler, sampler), "mlp",
                           adapt=sampler in ADAPTED)
    gen = S.batch_generator(seed, 0)
    before = target.evaluations
    if max_levels is not None:  # time the first max_levels of `levels` levels
        started = time.perf_counter()
        x, stats = _partial(target, scheduler, settings, n, levels, max_levels, gen)
        seconds = time.perf_counter() - started
    else:
        started = time.perf_counter()
        x, stats = S.sample(target, (2,), n, settings, scheduler, levels, gen)
        seconds = time.perf_counter() - started
    rates = [s.accept for s in stats if s.accept is not None]
    return (x.numpy(), seconds, (float(np.mean(rates)) if rates else None),
            target.evaluations - before)


class _Stop(Exception):
    pass


def _partial(target, scheduler, settings, n, levels, max_levels, gen):
    """The first max_levels levels of a levels-level run (the same code path, cut short)."""
    seen = []

    def on_level(stat):
        seen.append(stat)
        if len(seen) >= max_levels:
            raise _Stop

    try:
        S.sample(target, (2,), n, settings, scheduler, levels, gen, on_level=on_level)
    except _Stop:
        pass
    return torch.zeros(n, 2), seen


class NoisedToy:
    """A toy set pushed through the forward process to level t, in closed form: x_t =
    sqrt(ab_t) x_0 + sigma_t z. ``log_density`` answers toysets' (k, v) pair with k = 0."""

    def __init__(self, toy, scheduler, t: int):
        acp = float(scheduler.alphas_cumprod[t])
        self.toy, self.scale, self.sigma = toy, acp ** 0.5, (1 - acp) ** 0.5

    def _interval(self, x, lo, hi):  # log P(lo <= x_0 < hi) density of x_t, 1D
        from scipy.special import log_ndtr

        a, b = self.scale * lo, self.scale * hi
        x = np.where(x < (a + b) / 2, a + b - x, x)  # reflect: the stable side of the erf
        upper, lower = log_ndtr((b - x) / self.sigma), log_ndtr((a - x) / self.sigma)
        return upper + np.log1p(-np.exp(np.minimum(lower - upper, -1e-12))) - np.log(b - a)

    def log_density(self, x):
        toy = self.toy
        if isinstance(toy, Gaussians):
            std = (self.scale ** 2 * toy.std ** 2 + self.sigma ** 2) ** 0.5
            return Gaussians(toy.means * self.scale, std).log_density(x)
        v = self._interval(x[:, 0], toy.x0, toy.x1) + self._interval(x[:, 1], toy.y0, toy.y1)
        return np.zeros(len(x)), v


def level0_exact(toy_expr, scheduler, ref: Reference, n: int, seed: int) -> dict:
    """What a perfect annealed MCMC with perfect models ends on: exact samples of the
    composition of the toy sets as noised to the last level (t = 0, sigma_0 = 0.025), scored
    against the benchmark's target (the composition of the clean sets)."""
    grid = exact_grid(toy_expr, lambda name: NoisedToy(TOYS[name], scheduler, 0))
    return ref.score(grid.sample(n, np.random.default_rng(derive_seed(seed, 7))))


def quality_one(args) -> tuple:
    comp, cfg = args
    torch.set_num_threads(1)
    expr, folders = COMPOSITIONS[comp]
    target, scheduler, toy_expr = load(expr, folders)
    ref = Reference(toy_expr, TOYS.__getitem__, max_points=cfg["n"], seed=cfg["seed"])
    rows = {}
    for sampler in ROWS:
        x, seconds, acc, evals = run_sampler(target, scheduler, sampler, cfg["n"],
                                             cfg["levels"], seed=cfg["seed"])
        score = ref.score(x)
        rows[sampler] = dict(score, seconds=seconds, samples_per_s=cfg["n"] / seconds,
                             accept=acc, model_evaluations=evals)
        log(f"{comp} {sampler}: energy distance {score['energy_distance']:.4f}, "
            f"{seconds:.1f} s")
    base = rows["reverse"]
    for row in rows.values():
        row["energy_distance_ratio_vs_reverse"] = base["energy_distance"] / max(
            row["energy_distance"], 1e-12)  # > 1: closer to the target than reverse
        row["support_fraction_ratio_vs_reverse"] = row["support_fraction"] / max(
            base["support_fraction"], 1e-12)
        row["mean_log_density_gain_vs_reverse"] = row["mean_log_density"] - \
            base["mean_log_density"]
    ed = {s: rows[s]["energy_distance"] for s in SAMPLERS}
    checks = {
        "reverse_worst": ed["reverse"] > max(ed[s] for s in SAMPLERS if s != "reverse"),
        "ula_better_than_reverse": ed["ula"] < ed["reverse"],
        "uhmc_better_than_ula": ed["uhmc"] < ed["ula"] * 1.05,
        "metropolis_at_least_uhmc": min(ed["mala"], ed["hmc"]) <= ed["uhmc"] * 1.05,
    }
    best = min((s for s in ROWS if s != "reverse"), key=lambda s: rows[s]["energy_distance"])
    level0 = level0_exact(toy_expr, scheduler, ref, cfg["n"], cfg["seed"])
    log(f"{comp} exact level-0 composition: energy distance "
        f"{level0['energy_distance']:.4f}")
    return comp, dict(expr=expr, target=str(toy_expr), n=cfg["n"], levels=cfg["levels"],
                      rows=rows, exact=ref.exact_scores(), paper_order=checks,
                      paper_order_holds=all(checks.values()), best_mcmc=best,
                      best_mcmc_at_least_reverse=rows[best]["energy_distance"] <=
                      rows["reverse"]["energy_distance"], exact_level0=level0)


def bench_quality(cfg) -> dict:
    jobs = [(comp, cfg) for comp in COMPOSITIONS]
    if cfg.get("workers", 1) > 1:  # compositions in parallel processes: the same figures
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(cfg["workers"]) as pool:
            return dict(pool.map(quality_one, jobs))
    return dict(map(quality_one, jobs))


def bench_speed(cfg) -> dict:
    expr, folders = COMPOSITIONS["product"]
    target, scheduler, _ = load(expr, folders)
    n, part = cfg["speed_n"], cfg["speed_levels"]
    rows = {}
    for sampler in SAMPLERS:
        if sampler == "reverse":
            _, seconds, _, evals = run_sampler(target, scheduler, sampler, n, 100)
            rows[sampler] = dict(levels_timed=100, seconds_measured=seconds,
                                 seconds_100_levels=seconds, model_evaluations=evals)
        else:
            _, seconds, _, evals = run_sampler(target, scheduler, sampler, n, 100,
                                               max_levels=part)
            rows[sampler] = dict(levels_timed=part, seconds_measured=seconds,
                                 seconds_100_levels=seconds * 100 / part,
                                 model_evaluations=evals * 100 // part)
        rows[sampler]["samples_per_s"] = n / rows[sampler]["seconds_100_levels"]
        log(f"speed {sampler}: {rows[sampler]['samples_per_s']:.1f} samples/s")
    for row in rows.values():
        row["cost_ratio_vs_reverse"] = row["seconds_100_levels"] / rows["reverse"][
            "seconds_100_levels"]
    return dict(points=n, levels=100, composition=expr, threads=torch.get_num_threads(),
                rows=rows)


def bench_growth(cfg) -> dict:
    expr, folders = COMPOSITIONS["product"]
    target, scheduler, _ = load(expr, folders)
    out = {}
    for sampler in ("reverse", "hmc"):
        per = {}
        for n in cfg["growth_n"]:
            if sampler == "reverse":
                _, seconds, _, _ = run_sampler(target, scheduler, sampler, n, 100)
            else:
                _, seconds, _, _ = run_sampler(target, scheduler, sampler, n, 100,
                                               max_levels=cfg["speed_levels"])
            per[str(n)] = dict(seconds=seconds, seconds_per_sample=seconds / n)
        small, large = (per[str(n)] for n in cfg["growth_n"])
        out[sampler] = dict(runs=per, per_sample_cost_ratio=large["seconds_per_sample"] /
                            small["seconds_per_sample"],
                            levels=100 if sampler == "reverse" else cfg["speed_levels"])
    return out


def print_table(res: dict, goals: dict) -> None:
    def mark(name):
        g = goals[name]
        return f"{g['status']}{' (aim)' if g['kind'] == 'aim' else ''}: {g['target']}"

    q = res["quality"]
    any_comp = next(iter(q.values()))
    print(f"\ncompose-sample benchmark ({res['mode']}): shipped 2D energy models, "
          f"{any_comp['n']} samples per sampler, {any_comp['levels']} levels, seed "
          f"{res['settings']['seed']}; "
          f"{res['machine']['cpu_count']} CPUs, torch {torch.__version__}")
    print("\n1. quality against the exact composed densities (ratios against reverse diffusion "
          "in the same run;\n   energy distance: lower is better, ratio > 1 is better than "
          "reverse)")
    for comp, c in q.items():
        e = c["exact"]
        print(f"\n   {comp}: {c['target']}   (exact samples: log-density "
              f"{e['exact_mean_log_density']:.2f}, inside {e['exact_support_fraction']:.3f}, "
              f"energy distance floor {c['rows']['reverse']['energy_distance_floor']:.4f})")
        print(f"   {'sampler':<10} {'log-dens':>9} {'inside':>7} {'e-dist':>8} {'x reverse':>9} "
              f"{'accept':>7} {'samples/s':>10}")
        for s, r in c["rows"].items():
            acc = f"{r['accept']:.3f}" if r["accept"] is not None else "-"
            print(f"   {s:<10} {r['mean_log_density']:9.3f} {r['support_fraction']:7.3f} "
                  f"{r['energy_distance']:8.4f} {r['energy_distance_ratio_vs_reverse']:9.2f} "
                  f"{acc:>7} {r['samples_per_s']:10.1f}")
        checks = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in c["paper_order"].items())
        print(f"   paper's order (energy distance): {checks}")
        lv = c["exact_level0"]
        print(f"   exact level-0 composition (perfect models and MCMC end here): log-density "
              f"{lv['mean_log_density']:.3f}, inside {lv['support_fraction']:.3f}, energy "
              f"distance {lv['energy_distance']:.4f}")
        print(f"   best MCMC row: {c['best_mcmc']}, at least as close as reverse: "
              f"{'yes' if c['best_mcmc_at_least_reverse'] else 'NO'}")
    print(f"   compositions where the paper's order holds: {res['paper_order_count']} of "
          f"{len(q)}   [{mark('paper_order_holds_in_compositions')}]")
    print(f"   compositions where the best MCMC row is at least as close as reverse: "
          f"{res['mcmc_at_least_reverse_count']} of {len(q)}   "
          f"[{mark('mcmc_at_least_reverse_in_compositions')}]")
    print(f"   HMC energy-distance ratio vs reverse, worst composition: "
          f"{res['hmc_vs_reverse_min']:.2f}   [{mark('hmc_energy_distance_vs_reverse')}]")
    if "speed" not in res:
        common.print_footer(res)
        return
    sp = res["speed"]
    print(f"\n2. speed: {sp['points']:,} points, {sp['levels']} levels, {sp['composition']}, "
          f"{sp['threads']} torch thread(s)")
    print(f"   {'sampler':<8} {'samples/s':>10} {'s (100 lv)':>11} {'timed lv':>9} "
          f"{'evals':>7} {'cost x reverse':>15}")
    for s, r in sp["rows"].items():
        print(f"   {s:<8} {r['samples_per_s']:10.1f} {r['seconds_100_levels']:11.1f} "
              f"{r['levels_timed']:9d} {r['model_evaluations']:7d} "
              f"{r['cost_ratio_vs_reverse']:15.1f}")
    g = res["growth"]
    print("\n3. growth: seconds per sample from the smaller to the larger batch")
    for s, r in g.items():
        runs = ", ".join(f"{n}: {v['seconds']:.2f} s" for n, v in r["runs"].items())
        print(f"   {s:<8} ({r['levels']} levels) {runs}; per-sample cost x"
              f"{r['per_sample_cost_ratio']:.2f}")
    common.print_footer(res)


def main(argv=None) -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--seed", type=int, default=SEED,
                       help=f"seed of the quality runs and exact samples (default {SEED})")
    extra.add_argument("--quality-only", action="store_true",
                       help="part 1 only (no speed or growth figures)")
    extra.add_argument("--workers", type=int, default=1,
                       help="processes for part 1, one composition each (the same figures)")
    args, mode, output = common.parse_args(__doc__, RESULTS, argv, parents=[extra])
    cfg = dict(MODES[mode], seed=args.seed, workers=args.workers,
               quality_only=args.quality_only)
    torch.set_num_threads(1)
    started = time.perf_counter()
    res = dict(benchmark="compose_sample", mode=mode,
               command=f"python benchmarks/compose_sample_bench.py"
                       f"{' --quick' if args.quick else ''}"
                       f"{f' --seed {args.seed}' if args.seed != SEED else ''}"
                       f"{' --quality-only' if args.quality_only else ''}"
                       f"{f' --workers {args.workers}' if args.workers > 1 else ''}",
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               machine=common.machine_info(("torch", "diffusers", "numpy")), settings=cfg)
    res["machine"]["load_average_1min_at_start"] = os.getloadavg()[0] \
        if hasattr(os, "getloadavg") else None
    res["machine"]["busy_cpus_at_start"] = busy = common.busy_cpus()
    if busy is not None and busy > 0.2:
        log(f"warning: {busy:.1f} CPUs busy with other work at start: timings are noisy")
    res["quality"] = bench_quality(cfg)
    if not args.quality_only:
        res["speed"] = bench_speed(cfg)
        res["growth"] = bench_growth(cfg)
    res["paper_order_count"] = sum(c["paper_order_holds"] for c in res["quality"].values())
    res["mcmc_at_least_reverse_count"] = sum(c["best_mcmc_at_least_reverse"]
                                             for c in res["quality"].values())
    res["hmc_vs_reverse_min"] = min(c["rows"]["hmc"]["energy_distance_ratio_vs_reverse"]
                                    for c in res["quality"].values())
    goals = {
        "paper_order_holds_in_compositions": common.judge(
            GOALS, "paper_order_holds_in_compositions", res["paper_order_count"]),
        "hmc_energy_distance_vs_reverse": common.judge(
            GOALS, "hmc_energy_distance_vs_reverse", res["hmc_vs_reverse_min"]),
        "mcmc_at_least_reverse_in_compositions": common.judge(
            GOALS, "mcmc_at_least_reverse_in_compositions", res["mcmc_at_least_reverse_count"]),
    }
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
