"""``papertools compose-sample``: the command-line front end (options and help only).

The method lives in expr.py (energy algebra), diffusion.py (models and training), compose.py
(composed annealed targets), samplers.py (reverse diffusion, ULA, U-HMC, MALA, HMC), toysets.py (the
paper's 2D sets and exact composed densities) and evaluate.py (metrics and plots).
Imports no other tool.
"""

from __future__ import annotations

import time

import click

from papertools.core import options
from papertools.core.errors import Diagnostics, InputError, PapertoolsError, field
from papertools.core.jsonl import open_output, read_records
from papertools.core.progress import enabled, note

TOOL = "compose-sample"

TOY_NAMES = ("ring", "ring_wide", "half_ring1", "half_ring2", "bar", "hbar", "left_bar",
             "right_bar", "box", "small_box")

RECORDS = """\
toy writes one record per point: "id" ("toy:<i>"), "sample" (0-based), "x" (the point, a list of
2 numbers) and "target" (the expression).

train reads records with a point in --field (default "x"): a list of finite numbers, the same
length in every record. It writes log records: "step", "loss" (mean eps-MSE since the last
record), "seconds"; the model goes to --out-dir (DIR/model.pt: EMA weights and configuration;
DIR/checkpoint/: what --resume needs; DIR/log.jsonl: the log records; DIR/settings.json: the
settings, which --resume must repeat but for --steps, --save-every, --log-every and --device).

sample writes one record per sample: "id" ("<sampler>:<i>"), "sample", "x" (the point; for an
image model, the flattened image, or with --out-dir "image", a PNG path), "shape" (for images),
"sampler", "expr" (the expression as parsed) and, when every model was trained on a toy set,
"target" (the expression over the toy sets' names, which eval reads). --stats PATH gets one
record per noise level: "level" (0 = noisiest), "t" (the diffusers timestep), "sigma", "beta",
"step_size" (with --adapt: the adapted step the kept steps used), "accept" (the mean Metropolis
acceptance rate of the kept steps; null for samplers without a test), "steps" (kept MCMC steps),
"warmup_steps" (--adapt's adaptation steps, 0 without it) and "warmup_accept" (their mean
acceptance rate, or null).

eval reads sample records ("x", "target" unless --target is given, and the --by field, default
"sampler") and writes one record per group, in order of first appearance: "id" (the group),
"target", "n", "mean_log_density", "support_fraction", "energy_distance", "energy_distance_floor"
(between two exact sample sets of the group's size), and the same figures for exact samples:
"exact_mean_log_density", "exact_support_fraction".

Determinism: toy, sample and eval write byte-identical records for the same --seed (sample also
for the same --batch-size and --threads). train's "seconds" is wall-clock time, and its weights
and losses can differ across torch thread counts."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)"]

threads_option = click.option(
    "--threads", type=click.IntRange(min=0), default=1, show_default=True,
    help="torch CPU threads (0: torch's default). One is fastest for these small models on a "
         "shared machine; more help only with idle cores and large batches.")


def _set_threads(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Compositional generation with energy-based diffusion models and MCMC (Reduce, Reuse,
    Recycle; Du et al., 2023).

    Diffusion models are composed as energies: a + b is the product of their densities, w*a
    tempers, 1.3*a - 0.3*b negates b, a | b is the mixture. Adding noised scores in reverse
    diffusion samples the wrong distribution, because the sum of noised scores is not the score
    of the noised composition; annealed MCMC over the noise levels fixes it, and the energy
    parameterisation allows Metropolis-corrected samplers (MALA, HMC) and the mixture.

    \b
    Examples:
      papertools compose-sample toy "ring + bar" -n 500 | papertools compose-sample eval --target "ring + bar"
      papertools compose-sample sample "ring + bar" -m ring=examples/compose_sample/models/ring -m bar=examples/compose_sample/models/bar -n 100 --levels 10 -q | papertools compose-sample eval -q
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


def _parse_expr(text: str, param: str):
    from .expr import ExprError, parse

    try:
        return parse(text)
    except ExprError as err:
        raise click.BadParameter(f"{err} in {text!r}", param_hint=param) from None


def _toy_bind(node, text: str, param: str):
    from .expr import ExprError, check_names
    from .toysets import TOYS

    try:
        check_names(node, TOYS, what="toy set")
    except ExprError as err:
        raise click.BadParameter(f"{err} in {text!r}", param_hint=param) from None
    return TOYS.__getitem__


@cli.command()
@click.argument("expr", metavar="EXPR")
@click.option("-n", "--samples", "num", type=click.IntRange(min=1), default=1000,
              show_default=True, help="Points to draw.")
@options.alias("--num", to="num", new="-n/--samples", type=click.IntRange(min=1))
@click.option("--mix-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Temperature of '|' (1: the exact mixture).")
@options.seed
@options.output
@options.quiet
def toy(expr, num, mix_temperature, seed, output, quiet):
    """Exact samples of a toy set or of a composition of toy sets.

    EXPR is an energy-algebra expression over the paper's 2D sets: ring (8 Gaussians, radius
    0.5, std 0.03), ring_wide (std 0.075), half_ring1, half_ring2 (modes 0-3 and 4-7), bar
    ([-0.2, 0.2] x [-1, 1]), hbar, left_bar, right_bar ([-0.3, -0.1] and [0.1, 0.3] x [-1, 1]),
    box ([-0.7, 0.7]^2), small_box ([-0.3, 0.3]^2). A single set is sampled directly; a
    composition is sampled from its exact density on a 500 x 500 grid (uniform within a cell).
    The paper's compositions: "ring + bar", "left_bar | right_bar", "1.3*box - 0.3*small_box".

    \b
    Examples:
      papertools compose-sample toy ring -n 3
      papertools compose-sample toy "1.3*box - 0.3*small_box" -n 2000 -o /tmp/negation.jsonl
    """
    import numpy as np

    from . import toysets as toys
    from .expr import Name
    from papertools.core.seed import numpy_rng

    node = _parse_expr(expr, "EXPR")
    bind = _toy_bind(node, expr, "EXPR")
    rng = numpy_rng(seed, 0)
    if isinstance(node, Name):
        points = toys.sample_toy(node.name, num, rng)
    else:
        points = toys.exact_grid(node, bind, mix_temperature).sample(num, rng)
    points = points.astype(np.float32)
    with open_output(output, tool=TOOL) as out:
        for i, p in enumerate(points):
            out.write({"id": f"toy:{i}", "sample": i, "x": p, "target": str(node)})
    note(TOOL, f"{num} exact samples of {node}", quiet=quiet)


@cli.command()
@options.inputs
@click.option("--toy", "toy_name", type=click.Choice(TOY_NAMES),
              help="Train on fresh draws from a toy set (see 'toy') instead of FILEs.")
@options.out_dir(required=True, help="Folder for model.pt, the checkpoint and log.jsonl.")
@click.option("--param", type=click.Choice(["energy", "energy-l2", "score"]), default="energy",
              show_default=True,
              help="energy: E = ||f(x,t) - x||^2, eps = dE/dx; energy-l2: E = 0.5||f(x,t)||^2; "
                   "score: eps = f(x,t) (no energy: no mixture, no MALA/HMC).")
@click.option("--steps", type=click.IntRange(min=1), default=15001, show_default=True,
              help="Optimiser steps (the paper's notebook: 15,001).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True, help="Adam learning rate.")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0.999,
              show_default=True, help="EMA decay of the weights that are saved.")
@click.option("--levels", type=click.IntRange(min=2), default=100, show_default=True,
              help="Noise levels of the diffusion.")
@click.option("--schedule", type=click.Choice(["squaredcos_cap_v2", "linear", "scaled_linear"]),
              default="squaredcos_cap_v2", show_default=True,
              help="diffusers beta schedule (squaredcos_cap_v2 is the cosine schedule).")
@click.option("--hidden", type=click.IntRange(min=1), default=128, show_default=True,
              help="Width of the residual MLP.")
@click.option("--layers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Residual blocks.")
@click.option("--field", "point_field", default="x", show_default=True, metavar="NAME",
              help="Field holding each point (a list of numbers).")
@click.option("--save-every", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Steps between checkpoints (0: only at the end).")
@click.option("--log-every", type=click.IntRange(min=1), default=500, show_default=True)
@options.resume(help="Continue the training in --out-dir.")
@options.device
@threads_option
@options.seed
@options.output
@options.on_error
@options.quiet
@click.pass_context
def train(ctx, files, toy_name, out_dir, param, steps, batch_size, lr, ema, levels, schedule,
          hidden, layers, point_field, save_every, log_every, resume, device, threads, seed,
          output, on_error, quiet):
    """Train a small diffusion model on points (JSONL, any dimension) or a toy set.

    The paper's 2D recipe: the residual MLP (4 blocks, width 128, learned 32-d embedding of
    the level), 100 levels of a cosine schedule (diffusers), Adam 1e-3, batch 1000, 15,001
    steps, EMA 0.999, eps-MSE at a uniform level; by default in the energy parameterisation,
    whose noise prediction is the gradient of the energy. Data should be roughly within
    [-1, 1]. A log record per --log-every steps goes to standard output and DIR/log.jsonl; a
    progress bar with the loss goes to standard error on a terminal. Checkpoints are atomic;
    Ctrl-C saves one, and --resume (with the same settings) continues exactly where the run
    stopped, or trains a finished model on to a larger --steps.

    \b
    Examples:
      papertools compose-sample train --toy ring --out-dir /tmp/cs-ring --steps 50 --batch-size 128 --hidden 32 --layers 2 --resume -q > /dev/null
      papertools compose-sample toy bar -n 500 | papertools compose-sample train --out-dir /tmp/cs-bar --steps 50 --hidden 32 --layers 2 --param score --resume -q
    """
    import numpy as np

    from . import toysets as toys
    from .diffusion import ModelConfig, TrainConfig, train as run_train
    from papertools.core.models import resolve_device

    if toy_name and files:
        raise click.UsageError("give FILEs or --toy, not both")
    _set_threads(threads)
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    if toy_name:
        dim, data = 2, {"toy": toy_name}

        def draw(rng, n):
            return toys.sample_toy(toy_name, n, rng)
    else:
        points = _read_points(files, point_field, diag)
        if not points:
            raise PapertoolsError("no points to train on", _name(files))
        array = np.asarray(points, dtype=np.float32)
        dim = array.shape[1]
        data = {"files": list(files) or ["-"], "points": len(array), "field": point_field}
        if np.abs(array).max() > 5:
            note(TOOL, "warning: points reach beyond [-5, 5]; the diffusion expects data of "
                       "about unit scale (rescale them)", quiet=quiet)

        def draw(rng, n):
            return array[rng.integers(0, len(array), size=n)]

    config = TrainConfig(
        out_dir=out_dir, model=ModelConfig(dim=dim, param=param, levels=levels,
                                           schedule=schedule, hidden=hidden, layers=layers),
        steps=steps, batch_size=batch_size, lr=lr, ema=ema, seed=seed, save_every=save_every,
        log_every=log_every, resume=resume, device=str(resolve_device(device)), data=data)
    with open_output(output, tool=TOOL) as out:  # log records: here and in DIR/log.jsonl
        summary = run_train(config, draw, out.write, enabled(quiet))
    if summary["start"] >= summary["steps"]:
        note(TOOL, f"{out_dir} is already trained ({summary['steps']} steps)", quiet=quiet)
        ctx.exit(diag.exit_code())
    note(TOOL, f"trained {summary['parameters']:,} parameters ({param}) for steps "
               f"{summary['start']}-{summary['steps']} in {summary['seconds']:.1f} s; model in "
               f"{summary['model']}", quiet=quiet)
    ctx.exit(diag.exit_code())


def _name(files) -> str:
    return "<stdin>" if not files or files == ("-",) else files[0]


def _read_points(files, point_field: str, diag: Diagnostics, dim: int | None = None,
                 keep=False):
    """Points (lists of floats) from records; bad ones go to ``diag``. With ``keep``, returns
    (points, items)."""
    import math

    points, items = [], []
    for item in read_records(files, diag):
        try:
            value = field(item.record, point_field, list, place=item.place)
            if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    for v in value):
                raise InputError("expected a non-empty list of numbers", item.place.file,
                                 item.place.line, point_field)
            if not all(math.isfinite(v) for v in value):
                raise InputError("the point has a non-finite coordinate", item.place.file,
                                 item.place.line, point_field)
            if dim is None:
                dim = len(value)
            elif len(value) != dim:
                raise InputError(f"the point has {len(value)} coordinates, earlier points have "
                                 f"{dim}", item.place.file, item.place.line, point_field)
        except InputError as err:
            diag.bad(err)
            continue
        points.append([float(v) for v in value])
        items.append(item)
    return (points, items) if keep else points


def _parse_bindings(bindings) -> dict:
    out = {}
    for spec in bindings:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"expected NAME=PATH, got {spec!r}", param_hint="'-m'")
        if not name.isidentifier():
            raise click.BadParameter(f"{name!r} is not a name (letters, digits, _)",
                                     param_hint="'-m'")
        if name in out:
            raise click.BadParameter(f"{name!r} is bound twice", param_hint="'-m'")
        out[name] = path
    return out


@cli.command()
@click.argument("expr", metavar="EXPR")
@click.option("-m", "--model", "bindings", multiple=True, metavar="NAME=PATH",
              help="Bind a name in EXPR to a model: a 'train' folder, or a diffusers UNet2DModel "
                   "folder (PATH@LABEL conditions it on a class). Repeatable.")
@click.option("--sampler", type=click.Choice(["reverse", "ula", "uhmc", "mala", "hmc"]),
              default="hmc", show_default=True,
              help="reverse: reverse diffusion with the composed score (the baseline); ula, "
                   "uhmc: annealed Langevin and underdamped HMC; mala, hmc: with Metropolis "
                   "corrections (energies only).")
@click.option("--preset", type=click.Choice(["auto", "toy", "image"]), default="auto",
              show_default=True,
              help="The paper's settings: toy (2D notebook: MCMC only, 10 steps per level, "
                   "ULA/MALA 0.001, U-HMC/HMC 0.03, damping 0.5, 3 leapfrog steps) or image "
                   "(a reverse step per level, MCMC in the less noisy half: ULA 20 x 2 beta_t, "
                   "MALA 20 x 0.035 beta_t, HMC 10 x 3 leapfrog x 0.1 beta_t, damping 0.7, mass "
                   "beta_t); auto: toy for 'train' models, image for UNets.")
@click.option("-n", "--samples", "num", type=click.IntRange(min=1), default=1000,
              show_default=True, help="Samples to draw.")
@options.alias("--num", to="num", new="-n/--samples", type=click.IntRange(min=1))
@click.option("--levels", type=click.IntRange(min=1),
              help="Noise levels to anneal over (default: all of the model's, at most 100).")
@click.option("--steps-per-level", type=click.IntRange(min=0), help="MCMC steps per level.")
@click.option("--step-size", type=click.FloatRange(min=0, min_open=True),
              help="ULA/MALA eta or HMC leapfrog step (times beta_t with --step-schedule beta).")
@click.option("--step-schedule", type=click.Choice(["constant", "beta"]))
@click.option("--leapfrog", type=click.IntRange(min=1), help="Leapfrog steps per HMC step.")
@click.option("--damping", type=click.FloatRange(0, 1, max_open=True),
              help="Momentum kept at each refresh (rho).")
@click.option("--mass", type=click.FloatRange(min=0, min_open=True),
              help="Square root of the diagonal mass (times beta_t with --mass-schedule beta).")
@click.option("--mass-schedule", type=click.Choice(["constant", "beta"]))
@click.option("--mcmc-from", type=click.FloatRange(0, 1),
              help="Skip MCMC in this fraction of the levels, noisiest first (image: 0.5).")
@click.option("--reverse-steps/--no-reverse-steps", default=None,
              help="A reverse-diffusion step between levels (image preset: on; toy: off).")
@click.option("--on-reject", type=click.Choice(["flip", "keep"]), default="flip",
              show_default=True,
              help="HMC momentum after a rejection: negated (exact generalised HMC) or kept (the "
                   "public notebook).")
@click.option("--adapt", is_flag=True,
              help="MALA/HMC: adapt the step size at every level toward --target-accept in "
                   "--warmup steps before the kept ones (log step += 2 (rate - target) after "
                   "each, from the previous level's step; the first level warms up 5 times as "
                   "long, from --step-size); the kept steps use the mean of the later half of "
                   "the iterates (in log), fixed. --stats records each level's step, and the "
                   "warm-up's acceptance apart.")
@click.option("--warmup", type=click.IntRange(min=1), default=10, show_default=True,
              help="Adaptation steps per level (with --adapt).")
@click.option("--target-accept", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Acceptance rate --adapt aims for. [default: 0.57 for MALA, 0.65 for HMC]")
@click.option("--mix-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True,
              help="Temperature of '|' in log-density units (1: the exact mixture).")
@click.option("--stats", "stats_path", metavar="PATH", type=click.Path(dir_okay=False),
              help="Write one record per noise level (acceptance, step size) to PATH.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10000, show_default=True,
              help="Chains run together (samples depend on it).")
@options.out_dir(help="For image models: write PNGs here and their paths to the records.")
@options.device
@threads_option
@options.seed
@options.output
@options.quiet
def sample(expr, bindings, sampler, preset, num, levels, steps_per_level, step_size,
           step_schedule, leapfrog, damping, mass, mass_schedule, mcmc_from, reverse_steps,
           on_reject, adapt, warmup, target_accept, mix_temperature, stats_path, batch_size, out_dir,
           device, threads, seed, output, quiet):
    """Sample a composition of models with an annealed sampler.

    EXPR is energy algebra over names bound with -m: "a + b" (product), "2*a" (tempering),
    "1.3*a - 0.3*b" (negation), "a | b" or "0.2:a | 0.8:b" (mixture, needs energies), with
    parentheses. Levels run noisiest first; at each level the sampler targets the composed
    density p_t ~ exp(-E/sigma_t). Per-level Metropolis acceptance rates go to --stats and, in
    short, to standard error. The same --seed gives byte-identical samples.

    \b
    Examples:
      papertools compose-sample sample "ring + bar" -m ring=examples/compose_sample/models/ring -m bar=examples/compose_sample/models/bar -n 5 --levels 10
      papertools compose-sample sample "left | right" -m left=examples/compose_sample/models/left_bar -m right=examples/compose_sample/models/right_bar --sampler mala -n 100 --levels 10 --stats /tmp/cs-stats.jsonl -o /tmp/cs-mix.jsonl
      papertools compose-sample sample "ring + bar" -m ring=examples/compose_sample/models/ring -m bar=examples/compose_sample/models/bar --sampler reverse -n 100 -q | papertools compose-sample eval -q
    """
    import numpy as np

    from . import samplers as S
    from .compose import ComposedTarget, check_compatible, load_leaf, needs_energy, toy_target
    from .expr import ExprError, check_names
    from papertools.core.models import resolve_device

    node = _parse_expr(expr, "EXPR")
    bound = _parse_bindings(bindings)
    _set_threads(threads)
    try:
        check_names(node, bound)
    except ExprError as err:
        raise click.BadParameter(f"{err} in {expr!r}; bind names with -m NAME=PATH",
                                 param_hint="EXPR") from None
    from .expr import names as expr_names

    used = expr_names(node)
    dev = resolve_device(device)
    leaves = {name: load_leaf(name, bound[name], dev) for name in used}
    check_compatible(leaves)
    score_models = [leaf for leaf in leaves.values() if not leaf.has_energy]
    why = needs_energy(node, sampler)
    if score_models and why:
        bad = score_models[0]
        raise click.UsageError(f"{why}, but model {bad.name!r} ({bad.path}) is "
                               "score-parameterised; train it with --param energy, or use "
                               "--sampler reverse, ula or uhmc with a linear expression")
    first = next(iter(leaves.values()))
    chosen, settings = S.choose(
        preset, sampler, first.kind, adapt=adapt, steps=steps_per_level, step_size=step_size,
        step_schedule=step_schedule, leapfrog=leapfrog, damping=damping, mass=mass,
        mass_schedule=mass_schedule, mcmc_from=mcmc_from, reverse=reverse_steps,
        on_reject=on_reject, target_accept=target_accept, warmup=warmup)
    scheduler = first.scheduler
    total = scheduler.config.num_train_timesteps
    n_levels = levels or min(total, 100)
    if n_levels > total:
        raise click.BadParameter(f"the models have {total} noise levels", param_hint="'--levels'")
    target = ComposedTarget(node, leaves, scheduler, mix_temperature)
    toy = toy_target(node, leaves)
    target_text = str(toy) if toy is not None else None

    bar = None
    if enabled(quiet):
        from tqdm import tqdm

        chunks = (num + batch_size - 1) // batch_size
        bar = tqdm(total=n_levels * chunks, desc=f"compose-sample {sampler}", unit="level",
                   leave=False, dynamic_ncols=True)
    started = time.perf_counter()
    all_stats = []
    image = len(first.shape) == 3
    if out_dir and image:
        from pathlib import Path

        Path(out_dir).mkdir(parents=True, exist_ok=True)
    with open_output(output, tool=TOOL) as out:
        for done, x, stats in S.sample_batches(
                target, first.shape, num, batch_size, settings, scheduler, n_levels, seed,
                on_level=(lambda _s: bar.update(1)) if bar else None):
            all_stats.append(stats)
            arr = x.detach().cpu().numpy().astype(np.float32)
            for j in range(len(arr)):
                i = done + j
                rec = {"id": f"{sampler}:{i}", "sample": i}
                if image:
                    rec["shape"] = list(first.shape)
                    if out_dir:
                        rec["image"] = _save_png(arr[j], out_dir, f"{sampler}-{i:06d}.png")
                    else:
                        rec["x"] = arr[j].ravel()
                else:
                    rec["x"] = arr[j]
                rec.update(sampler=sampler, expr=str(node))
                if target_text:
                    rec["target"] = target_text
                out.write(rec)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - started
    merged = S.merge_stats(all_stats)
    if stats_path:
        with open_output(stats_path, tool=TOOL) as st:
            for row in merged:
                st.write(row)
    rates = [r["accept"] for r in merged if r["accept"] is not None]
    acc = ""
    if rates:
        every = max(1, len(merged) // 10)
        shown = " ".join(f"{r['accept']:.2f}" if r["accept"] is not None else "-"
                         for r in merged[::every])
        acc = (f"; acceptance mean {sum(rates) / len(rates):.3f}, every {every} levels from the "
               f"noisiest: {shown}")
    note(TOOL, f"{sampler} ({chosen} preset): {num} samples over {n_levels} levels in "
               f"{seconds:.1f} s ({num / max(seconds, 1e-9):.0f} samples/s, "
               f"{target.evaluations} model evaluations){acc}", quiet=quiet)


def _save_png(chw, out_dir: str, name: str) -> str:
    import os

    import numpy as np
    from PIL import Image

    img = np.clip((chw.transpose(1, 2, 0) + 1) * 127.5, 0, 255).round().astype(np.uint8)
    if img.shape[2] == 1:
        img = img[:, :, 0]
    path = os.path.join(out_dir, name)
    Image.fromarray(img).save(path)
    return path


@cli.command(name="eval")
@options.inputs
@click.option("--target", "target_expr", metavar="EXPR",
              help="The composition of toy sets the samples should follow (default: the "
                   "records' \"target\" field, which 'sample' writes for toy-set models).")
@click.option("--by", "group_field", default="sampler", show_default=True, metavar="FIELD",
              help="Score each value of FIELD separately (records without it form one group).")
@options.plot(help="Draw each group's samples over the target's density.", dest="plot_path")
@click.option("--bandwidth", type=click.FloatRange(min=0), default=0.02, show_default=True,
              help="Smoothing of the exact density for log-densities and support.")
@click.option("--mix-temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Temperature of '|' in the target.")
@click.option("--max-points", type=click.IntRange(min=10), default=2000, show_default=True,
              help="Points per group for the energy distance.")
@click.option("--field", "point_field", default="x", show_default=True, metavar="NAME")
@options.seed
@options.output
@options.on_error
@options.quiet
@click.pass_context
def evaluate(ctx, files, target_expr, group_field, plot_path, bandwidth, mix_temperature,
             max_points, point_field, seed, output, on_error, quiet):
    """Score samples against the exact composed density of toy sets.

    Figures per group: the mean log-density of the samples under the exact composed density
    (smoothed by --bandwidth, with a floor for far-away points), the fraction inside the
    target's 99% highest-density region, and the energy distance to exact samples; the same
    figures for exact samples are given beside them (a perfect sampler's scores).

    \b
    Examples:
      papertools compose-sample toy ring -n 300 | papertools compose-sample eval --target ring
      papertools compose-sample toy "ring + bar" -n 500 | papertools compose-sample eval --plot /tmp/cs-eval.png -q
    """
    import numpy as np

    from .evaluate import Reference, plot

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    points, items = _read_points(files, point_field, diag, dim=2, keep=True)
    if not points:  # empty input: no groups, no records (papertools-jsonl(7))
        note(TOOL, f"no points in {_name(files)}: nothing to evaluate", quiet=quiet)
        ctx.exit(diag.exit_code())
    text = target_expr
    if text is None:
        for item in items:
            value = item.record.get("target")
            if value is not None:
                if not isinstance(value, str):
                    raise InputError("expected a string", item.place.file, item.place.line,
                                     "target")
                text = value
                break
        if text is None:
            raise click.UsageError("the records carry no \"target\" field: give --target EXPR "
                                   "(an expression over toy sets)")
    node = _parse_expr(text, "'--target'")
    bind = _toy_bind(node, text, "'--target'")
    groups: dict[str, list] = {}
    for p, item in zip(points, items):
        key = item.record.get(group_field)
        groups.setdefault("all" if key is None else str(key), []).append(p)
    ref = Reference(node, bind, bandwidth=bandwidth, mix_temperature=mix_temperature, seed=seed,
                    max_points=max_points)
    exact = ref.exact_scores()
    rows = []
    with open_output(output, tool=TOOL) as out:
        for key, pts in groups.items():
            row = {"id": key, "target": str(node), **ref.score(np.asarray(pts)), **exact}
            out.write(row)
            rows.append(row)
    if plot_path:
        plot(plot_path, ref, {k: np.asarray(v) for k, v in groups.items()}, f"target: {node}")
    for row in rows:
        note(TOOL, f"{row['id']}: n={row['n']} mean log-density {row['mean_log_density']:.3f} "
                   f"(exact {row['exact_mean_log_density']:.3f}), inside support "
                   f"{row['support_fraction']:.3f} (exact {row['exact_support_fraction']:.3f}), "
                   f"energy distance {row['energy_distance']:.4f} (floor "
                   f"{row['energy_distance_floor']:.4f})", quiet=quiet)
    ctx.exit(diag.exit_code())
