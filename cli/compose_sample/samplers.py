"""Annealed samplers over a composed target: reverse diffusion (the baseline), ULA, U-HMC, MALA
and HMC with Metropolis corrections.

A target is ``target(x, t, energy) -> (U, dU/dx)`` with p_t ~ exp(-U) (``compose.ComposedTarget``
or an analytic one in tests). Levels run noisiest first: level index i = 0..n-1 maps to the
diffusers timestep ``scheduler.timesteps[i]`` (t = T-1-i when every level is used), and the
same t gives the step size, the gradient and the energy (no off-by-one between them).

Updates (eta: step size, xi ~ N(0, I)):

- ULA:   x <- x - eta dU(x) + sqrt(2 eta) xi
- MALA:  y = x - eta dU(x) + sqrt(2 eta) xi, accepted with probability
         min(1, exp(U(x) - U(y) + log q(x|y) - log q(y|x))),
         log q(y|x) = -||y - x + eta dU(x)||^2 / (4 eta)   (the proposal's variance is 2 eta)
- U-HMC: partial momentum refresh v' = rho v + sqrt(1 - rho^2) m xi (mass matrix m^2), then L
         leapfrog steps of size eps: v -= eps/2 dU(x); x += eps v / m^2; v -= eps/2 dU(x); no test
- HMC:   U-HMC's proposal (x1, v1) from (x, v'), accepted with probability
         min(1, exp(H(x, v') - H(x1, v1))), H = U + ||v||^2 / (2 m^2), where v' is the momentum
         before the leapfrog steps (every update is out of place, so nothing aliases it); on
         rejection x stays and the momentum is -v' (Horowitz's generalised HMC, exact for any
         rho; ``on_reject="keep"`` keeps v' as the public notebook does)

Between levels the ``reverse`` setting applies diffusers' DDPM step with the composed noise
prediction (the paper's image setting: reverse step, then MCMC at the next level); the 2D setting
runs MCMC only, annealed over the levels, as the public notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from papertools.core.seed import derive_seed

SAMPLERS = ("reverse", "ula", "uhmc", "mala", "hmc")
NEEDS_ENERGY = ("mala", "hmc")
PRESETS = ("toy", "image")
# acceptance rates the step-size adaptation aims for (the reference's 0.57 for MALA; 0.65 for HMC)
TARGET_ACCEPT = {"mala": 0.57, "hmc": 0.65}
FIRST_WARMUP = 5


@dataclass
class Settings:
    sampler: str = "hmc"
    steps: int = 10  # MCMC steps per level
    step_size: float = 0.03
    step_schedule: str = "constant"  # "constant": eta; "beta": eta * beta_t
    leapfrog: int = 3
    damping: float = 0.5  # rho in the momentum refresh
    mass: float = 1.0  # m, the square root of the diagonal mass
    mass_schedule: str = "constant"  # "constant": m; "beta": m * beta_t
    reverse: bool = False  # a reverse-diffusion step between levels
    mcmc_from: float = 0.0  # fraction of the levels (noisiest first) without MCMC
    on_reject: str = "flip"
    # Step-size adaptation (MALA, HMC): at each level, `warmup` Metropolis steps before the
    # `steps` kept ones, each followed by log(step) += adapt_lr * (accept - target) with accept
    # the batch's acceptance rate; the level's kept steps then use the mean of the later half
    # of these iterates (in log), fixed,
    # and the next level starts from it (the first MCMC level warms up FIRST_WARMUP times as
    # long, from step_size). target_accept None: TARGET_ACCEPT[sampler].
    adapt: bool = False
    warmup: int = 10
    target_accept: float | None = None
    adapt_lr: float = 2.0


def preset(name: str, sampler: str) -> Settings:
    """The paper's settings: "toy" (the 2D notebook) or "image" (inf_sample.py)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}")
    if name == "toy":
        # 100 levels, MCMC only, 10 steps per level; ULA/MALA eta = 0.001, U-HMC/HMC eps = 0.03,
        # damping 0.5, mass 1, 3 leapfrog steps; all constant over the levels.
        if sampler == "reverse":
            return Settings(sampler="reverse", steps=0, step_size=0.0, reverse=True)
        if sampler in ("ula", "mala"):
            return Settings(sampler=sampler, steps=10, step_size=0.001)
        return Settings(sampler=sampler, steps=10, step_size=0.03, leapfrog=3, damping=0.5,
                        mass=1.0)
    if name == "image":
        # 100 linear-schedule levels; a reverse step at every level, MCMC after it in the less
        # noisy half (i > 50). ULA 20 steps, eta = 2 beta_t; MALA 20 steps, eta = 0.035 beta_t;
        # U-HMC/HMC 10 steps, 3 leapfrog steps of 0.1 beta_t, damping 0.7, mass sqrt = beta_t.
        base = dict(reverse=True, mcmc_from=0.5, step_schedule="beta")
        if sampler == "reverse":
            return Settings(sampler="reverse", steps=0, step_size=0.0, reverse=True)
        if sampler == "ula":
            return Settings(sampler=sampler, steps=20, step_size=2.0, **base)
        if sampler == "mala":
            return Settings(sampler=sampler, steps=20, step_size=0.035, **base)
        return Settings(sampler=sampler, steps=10, step_size=0.1, leapfrog=3, damping=0.7,
                        mass=1.0, mass_schedule="beta", **base)
    raise ValueError(f"unknown preset {name!r}")


def _sum(a: torch.Tensor) -> torch.Tensor:
    return a.flatten(1).sum(1)


def _bcast(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.reshape((-1,) + (1,) * (like.dim() - 1))


def _accept(log_alpha: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(log_alpha.shape, generator=gen, dtype=torch.float64)
    ok = torch.log(u) < log_alpha.double()
    return ok & torch.isfinite(log_alpha)  # NaN or -inf: reject


class Chain:
    """The MCMC state of all chains at one level: x, momentum, cached U and dU at x."""

    def __init__(self, x):
        self.x = x
        self.v = None
        self.u = None
        self.g = None


def ula_step(target, chain: Chain, t: int, eta: float, gen) -> None:
    _, g = target(chain.x, t, False)
    noise = torch.randn(chain.x.shape, generator=gen, dtype=chain.x.dtype)
    chain.x = chain.x - eta * g + math.sqrt(2 * eta) * noise
    chain.u = chain.g = None


def mala_step(target, chain: Chain, t: int, eta: float, gen) -> torch.Tensor:
    x = chain.x
    if chain.u is None:
        chain.u, chain.g = target(x, t, True)
    u0, g0 = chain.u, chain.g
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    y = x - eta * g0 + math.sqrt(2 * eta) * noise
    u1, g1 = target(y, t, True)
    log_fwd = -_sum((y - x + eta * g0) ** 2) / (4 * eta)  # log q(y | x) + const
    log_rev = -_sum((x - y + eta * g1) ** 2) / (4 * eta)  # log q(x | y) + const
    ok = _accept(u0 - u1 + log_rev - log_fwd, gen)
    m = _bcast(ok, x)
    chain.x = torch.where(m, y, x)
    chain.u = torch.where(ok, u1, u0)
    chain.g = torch.where(m, g1, g0)
    return ok


def leapfrog(target, x, v, g, t: int, eps: float, mass2: float, n: int, energy: bool):
    """n leapfrog steps from (x, v) with dU(x) = g; returns (x, v, U, dU) at the end. Out of
    place throughout: the caller's tensors are never modified."""
    u = None
    for _ in range(n):
        v = v - 0.5 * eps * g
        x = x + eps * v / mass2
        u, g = target(x, t, energy)
        v = v - 0.5 * eps * g
    return x, v, u, g


def hmc_step(target, chain: Chain, t: int, eps: float, mass: float, settings: Settings, gen,
             metropolis: bool):
    x = chain.x
    mass2 = mass * mass
    if chain.v is None:
        chain.v = mass * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    if chain.g is None or (metropolis and chain.u is None):
        chain.u, chain.g = target(x, t, metropolis)
    rho = settings.damping
    noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    v_prime = rho * chain.v + math.sqrt(1 - rho * rho) * mass * noise  # refreshed momentum
    x1, v1, u1, g1 = leapfrog(target, x, v_prime, chain.g, t, eps, mass2, settings.leapfrog,
                              metropolis)
    if not metropolis:
        chain.x, chain.v, chain.u, chain.g = x1, v1, None, g1
        return None
    h0 = chain.u + _sum(v_prime ** 2) / (2 * mass2)
    h1 = u1 + _sum(v1 ** 2) / (2 * mass2)
    ok = _accept(h0 - h1, gen)
    m = _bcast(ok, x)
    chain.x = torch.where(m, x1, x)
    chain.v = torch.where(m, v1, -v_prime if settings.on_reject == "flip" else v_prime)
    chain.u = torch.where(ok, u1, chain.u)
    chain.g = torch.where(m, g1, chain.g)
    return ok


@dataclass
class LevelStats:
    level: int
    t: int
    sigma: float
    beta: float
    step_size: float | None
    accept: float | None
    steps: int
    warmup_steps: int = 0  # adaptation steps run before the kept ones (not in accept)
    warmup_accept: float | None = None


def level_betas(scheduler, timesteps) -> list[float]:
    """beta between consecutive used levels: 1 - alphabar_t / alphabar_prev (beta_t when every
    level is used)."""
    acp = scheduler.alphas_cumprod.double()
    out = []
    for i, t in enumerate(timesteps):
        prev = acp[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0,
                                                                                 dtype=acp.dtype)
        out.append(float(1 - acp[t] / prev) if i + 1 < len(timesteps) else float(1 - acp[t]))
    return out


def target_accept(settings: Settings) -> float:
    if settings.target_accept is not None:
        return settings.target_accept
    return TARGET_ACCEPT.get(settings.sampler, 0.57)


def _mcmc_step(target, chain: Chain, t: int, eta: float, mass: float, settings: Settings, gen):
    """One step of the chosen sampler; the batch's acceptance rate, or None (no test)."""
    if settings.sampler == "ula":
        ula_step(target, chain, t, eta, gen)
        return None
    if settings.sampler == "mala":
        ok = mala_step(target, chain, t, eta, gen)
    else:
        ok = hmc_step(target, chain, t, eta, mass, settings, gen,
                      metropolis=settings.sampler == "hmc")
    return None if ok is None else ok.double().mean().item()


def sample(target, shape, n: int, settings: Settings, scheduler, levels: int, gen,
           dtype=torch.float32, on_level=None):
    """Draw n samples; returns (x (n, *shape), [LevelStats])."""
    scheduler.set_timesteps(levels)
    timesteps = [int(t) for t in scheduler.timesteps]
    sig = (1 - scheduler.alphas_cumprod.double()).sqrt()
    betas = level_betas(scheduler, timesteps)
    x = torch.randn((n, *shape), generator=gen, dtype=dtype)
    chain = Chain(x)
    stats = []
    first_mcmc = int(math.ceil(settings.mcmc_from * len(timesteps)))
    adapting = settings.adapt and settings.sampler in NEEDS_ENERGY
    aim = target_accept(settings)
    gain = 1.0  # the adapted step over the scheduled one, carried from level to level
    for i, t in enumerate(timesteps):
        beta = betas[i]
        eta = settings.step_size * (beta if settings.step_schedule == "beta" else 1.0)
        mass = settings.mass * (beta if settings.mass_schedule == "beta" else 1.0)
        accepts, warm = [], []
        steps = 0
        chain.u = chain.g = None  # the target changed
        if settings.sampler != "reverse" and i >= first_mcmc and settings.steps > 0:
            if adapting:
                # the first MCMC level starts from the configured step, which may be far off
                first = all(st.warmup_steps == 0 for st in stats)
                count = settings.warmup * (FIRST_WARMUP if first else 1)
                logs = []
                for _ in range(count):
                    rate = _mcmc_step(target, chain, t, eta * gain, mass, settings, gen)
                    warm.append(rate)
                    gain *= math.exp(settings.adapt_lr * (rate - aim))
                    logs.append(math.log(gain))
                # the kept step: the mean of the later half of the iterates (in log), which
                # damps the oscillation of a single noisy iterate
                gain = math.exp(sum(logs[count // 2:]) / len(logs[count // 2:]))
                eta = eta * gain
            for _ in range(settings.steps):
                rate = _mcmc_step(target, chain, t, eta, mass, settings, gen)
                steps += 1
                if rate is not None:
                    accepts.append(rate)
        if settings.reverse:
            eps = target.eps(chain.x, t)
            chain.x = scheduler.step(eps, t, chain.x, generator=gen).prev_sample.to(dtype)
            chain.u = chain.g = None
        st = LevelStats(level=i, t=t, sigma=float(sig[t]), beta=beta,
                        step_size=eta if steps else None,
                        accept=(sum(accepts) / len(accepts)) if accepts else None,
                        steps=steps, warmup_steps=len(warm),
                        warmup_accept=(sum(warm) / len(warm)) if warm else None)
        stats.append(st)
        if on_level is not None:
            on_level(st)
    return chain.x, stats


def with_overrides(settings: Settings, **changes) -> Settings:
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})


def choose(preset_name: str, sampler: str, model_kind: str, *, adapt: bool = False,
           **overrides) -> tuple[str, Settings]:
    """(the preset used, the settings) of ``sampler``: preset "auto" is "image" for UNets
    (``model_kind`` "unet") and "toy" for the other models; overrides that are not None replace
    the preset's values, and the reverse sampler always takes its reverse steps."""
    chosen = ("image" if model_kind == "unet" else "toy") if preset_name == "auto" \
        else preset_name
    settings = with_overrides(preset(chosen, sampler), **overrides)
    settings.adapt = adapt
    if sampler == "reverse":
        settings.reverse = True
    return chosen, settings


def batch_generator(seed: int, batch: int) -> torch.Generator:
    """The random stream of the chains of batch ``batch`` (0, 1, ...), derived from (seed,
    batch): samples depend on the seed and the batch size, nothing else."""
    return torch.Generator().manual_seed(derive_seed(seed, batch) & 0x7FFFFFFFFFFFFFFF)


def sample_batches(target, shape, n: int, batch_size: int, settings: Settings, scheduler,
                   levels: int, seed: int, on_level=None):
    """Draw n samples in batches of ``batch_size`` chains (the last one smaller), batch b from
    ``batch_generator(seed, b)``; yields (index of the batch's first sample, x, [LevelStats])."""
    done = batch = 0
    while done < n:
        size = min(batch_size, n - done)
        x, stats = sample(target, shape, size, settings, scheduler, levels,
                          batch_generator(seed, batch), on_level=on_level)
        yield done, x, stats
        done += size
        batch += 1


def merge_stats(per_batch) -> list[dict]:
    """Per-level records averaged over batches (weighted equally)."""
    rows = []
    for level in zip(*per_batch):
        first = level[0]
        accepts = [s.accept for s in level if s.accept is not None]
        sizes = [s.step_size for s in level if s.step_size is not None]
        rows.append(dict(level=first.level, t=first.t, sigma=first.sigma, beta=first.beta,
                         step_size=(sum(sizes) / len(sizes)) if sizes else None,
                         accept=(sum(accepts) / len(accepts)) if accepts else None,
                         steps=first.steps, warmup_steps=first.warmup_steps,
                         warmup_accept=_mean([s.warmup_accept for s in level])))
    return rows


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None
