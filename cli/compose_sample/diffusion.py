"""Small diffusion models on points, in the energy or the score parameterisation, and training.

The noise schedule and the forward process are diffusers' ``DDPMScheduler`` (cosine
"squaredcos_cap_v2" by default, 100 levels, as the paper's 2D notebook); the reverse step of the
baseline sampler is the same scheduler's ``step``. The network is the notebook's residual MLP:

    x -> Linear(h) -> n_layers x [LayerNorm, swish, Linear(w*h) + Linear_emb(w*h)(emb(t)), swish,
                                  Linear(w*h), swish, Linear(h) (zero init)] (residual) -> Linear(d)

with a learned 32-d embedding of the integer level t, h = 128, w = 2, 4 layers.

Parameterisations (``param``):

- ``energy``: E(x, t) = ||f(x, t) - x||^2 (the notebook's DAE-style energy) and the noise
  prediction is its gradient, eps(x, t) = dE/dx (autograd, create_graph while training);
- ``energy-l2``: E(x, t) = 0.5 ||f(x, t)||^2 (the PyTorch repository's UNet energy);
- ``score``: eps(x, t) = f(x, t), no energy (reverse diffusion, ULA and U-HMC only).

All are trained with the simple eps-MSE at a uniformly drawn level. The model's density at level
t is p_t(x) ~ exp(-E(x, t) / sigma_t) with sigma_t = sqrt(1 - alphabar_t), and its score is
-eps(x, t) / sigma_t (the notebook's ``energy_scale``).

The run folder is core.training's: ``DIR/model.pt`` (EMA weights and the configuration; what
``sample -m`` loads), ``DIR/checkpoint/`` (model, EMA, optimiser, random states and step;
replaced atomically every ``save_every`` steps, on Ctrl-C and at the end, and kept, so a
finished run can be resumed with more steps), ``DIR/log.jsonl``, ``DIR/settings.json`` and
``DIR/finished.json``. Every step's randomness is drawn from (seed, step), so ``--resume``
continues exactly as an uninterrupted run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed
from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt,
                                      torch_save_atomic)

FORMAT = "papertools-compose-sample"
PARAMS = ("energy", "energy-l2", "score")
SCHEDULES = ("squaredcos_cap_v2", "linear", "scaled_linear")


# ---------------------------------------------------------------------------------------------
# Noise schedule (diffusers)


def make_scheduler(levels: int = 100, schedule: str = "squaredcos_cap_v2",
                   variance: str = "fixed_large"):
    """A diffusers DDPM scheduler; variance "fixed_large" is the notebook's "beta_forward"."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=levels, beta_schedule=schedule, clip_sample=False,
                         variance_type=variance, prediction_type="epsilon")


def sigmas(scheduler) -> torch.Tensor:
    """sigma_t = sqrt(1 - alphabar_t) for every training level t (float64)."""
    return (1 - scheduler.alphas_cumprod.double()).sqrt()


# ---------------------------------------------------------------------------------------------
# The network


class ResMLP(nn.Module):
    """The notebook's residual MLP with a learned time embedding; output has the input's size."""

    def __init__(self, dim: int, levels: int, hidden: int = 128, layers: int = 4, emb: int = 32,
                 widen: int = 2, zero_out: bool = True):
        super().__init__()
        self.embed = nn.Embedding(levels, emb)
        self.inp = nn.Linear(dim, hidden)
        wide = hidden * widen
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            block = nn.ModuleDict(dict(norm=nn.LayerNorm(hidden), h=nn.Linear(hidden, wide),
                                       emb=nn.Linear(emb, wide), mid=nn.Linear(wide, wide),
                                       out=nn.Linear(wide, hidden)))
            nn.init.zeros_(block["out"].weight)
            nn.init.zeros_(block["out"].bias)
            self.blocks.append(block)
        self.out = nn.Linear(hidden, dim)
        if zero_out:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # x: (B, d) float; t: (B,) long
        emb = self.embed(t)  # (B, emb)
        h = self.inp(x)  # (B, hidden)
        act = nn.functional.silu
        for b in self.blocks:
            z = b["h"](act(b["norm"](h))) + b["emb"](emb)
            z = b["out"](act(b["mid"](act(z))))
            h = h + z
        return self.out(h)  # (B, d)


@dataclass
class ModelConfig:
    dim: int
    param: str = "energy"
    levels: int = 100
    schedule: str = "squaredcos_cap_v2"
    hidden: int = 128
    layers: int = 4
    emb: int = 32
    widen: int = 2


class DiffusionModel(nn.Module):
    """eps(x, t) and, for the energy parameterisations, E(x, t)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        # E = 0.5||f||^2 has zero gradient everywhere (and for its weights) when f starts at 0.
        self.net = ResMLP(config.dim, config.levels, config.hidden, config.layers, config.emb,
                          config.widen, zero_out=config.param != "energy-l2")

    @property
    def has_energy(self) -> bool:
        return self.config.param != "score"

    def energy(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        f = self.net(x, t)
        if self.config.param == "energy":
            return ((f - x) ** 2).sum(-1)  # (B,)
        return 0.5 * (f ** 2).sum(-1)

    def eps_energy(self, x: torch.Tensor, t: torch.Tensor, create_graph: bool = False):
        """(eps (B, d), E (B,) or None). eps = dE/dx for the energy parameterisations."""
        if not self.has_energy:
            with torch.set_grad_enabled(create_graph):
                return self.net(x, t), None
        with torch.enable_grad():
            x = x if x.requires_grad else x.detach().requires_grad_(True)
            e = self.energy(x, t)
            (eps,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
        return eps, (e if create_graph else e.detach())


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainConfig:
    out_dir: str
    model: ModelConfig
    steps: int = 15001  # the notebook: 15,001 iterations
    batch_size: int = 1000
    lr: float = 1e-3  # Adam
    ema: float = 0.999
    seed: int = 0
    save_every: int = 1000
    log_every: int = 500
    resume: bool = False
    device: str = "cpu"
    data: dict = field(default_factory=dict)  # {"toy": name} or {"file": ..., "points": n}


# what --resume may change: a longer (or the same) step budget, how often, where
MUTABLE = ("steps", "save_every", "log_every", "device")


def train(config: TrainConfig, draw, log, progress: bool = False) -> dict:
    """Train; ``draw(rng, n) -> (n, d) float32 array`` gives a batch of data points.

    ``log(record)`` gets one record per ``log_every`` steps (they also go to DIR/log.jsonl);
    ``progress`` shows a step bar on standard error. A finished run resumed with a larger
    ``steps`` trains on; with no more steps it returns at once (``start`` == ``steps``)."""
    with RunDir(config.out_dir, _plain(config), resume=config.resume, mutable=MUTABLE,
                echo=log) as run:
        if run.finished and run.finished["steps"] >= config.steps:
            return dict(run.finished, start=run.finished["steps"], seconds=0.0)
        run.reopen()
        return _train(config, draw, run, progress)


def _train(config: TrainConfig, draw, run: RunDir, progress: bool) -> dict:
    out = run.path
    model_path = out / "model.pt"
    device = torch.device(config.device)
    torch.manual_seed(derive_seed(config.seed, 0) & 0x7FFFFFFF)
    model = DiffusionModel(config.model).to(device)
    ema = DiffusionModel(config.model).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = adamw(model, config.lr, weight_decay=0.0)  # Adam: no decay in any group
    modules = {"model": model, "ema": ema}
    state = {"step": 0}
    saved = run.load_checkpoint() if config.resume else None
    if saved is not None:
        saved.restore(optimizer=opt, modules=modules)
        state = saved.state
    start = state["step"]
    scheduler = make_scheduler(config.model.levels, config.model.schedule)
    meta = dict(format=FORMAT, config=_plain(config))

    def checkpoint() -> None:
        run.save_checkpoint(state=dict(state), optimizer=opt, modules=modules)

    started, recent = time.perf_counter(), []
    bar = Progress(config.steps, start, "compose-sample train") if progress else None
    # Ctrl-C saves the steps done so far; --resume continues exactly there
    with checkpoint_on_interrupt(checkpoint, bar):
        for step in range(start, config.steps):
            gen = torch.Generator().manual_seed(derive_seed(config.seed, 1, step) & 0x7FFFFFFF)
            rng = np.random.default_rng(derive_seed(config.seed, 2, step))
            x0 = torch.as_tensor(draw(rng, config.batch_size), dtype=torch.float32)  # (B, d)
            t = torch.randint(0, config.model.levels, (len(x0),), generator=gen)  # (B,)
            noise = torch.randn(x0.shape, generator=gen)
            xt = scheduler.add_noise(x0, noise, t)  # sqrt(ab_t) x0 + sqrt(1 - ab_t) noise
            xt, noise, t = xt.to(device), noise.to(device), t.to(device)
            eps, _ = model.eps_energy(xt, t, create_graph=True)
            loss = ((eps - noise) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.mul_(config.ema).add_(pm, alpha=1 - config.ema)
            recent.append(loss.item())
            state["step"] = done = step + 1
            if bar is not None:
                bar.update(**({"loss": f"{np.mean(recent[-50:]):.4f}"} if done % 50 == 0 else {}))
            if done % config.log_every == 0 or done == config.steps:
                run.log(dict(step=done, loss=float(np.mean(recent)), seconds=round(
                    time.perf_counter() - started, 3)))
                recent = []
            if config.save_every and done % config.save_every == 0 and done < config.steps:
                checkpoint()
    checkpoint()  # kept: a later --resume with more --steps trains on
    torch_save_atomic(dict(meta, ema=ema.state_dict(), step=config.steps), model_path)
    summary = dict(steps=config.steps, start=start, seconds=time.perf_counter() - started,
                   parameters=sum(p.numel() for p in model.parameters()), model=str(model_path))
    run.finish(summary, keep_checkpoint=True)
    return summary


def _plain(config: TrainConfig) -> dict:
    d = asdict(config)
    d.pop("resume")
    d.pop("out_dir")
    return d


# ---------------------------------------------------------------------------------------------
# Loading


def load_model(path: str, device="cpu"):
    """(DiffusionModel with EMA weights, metadata) from a ``train`` folder or its model.pt."""
    p = Path(path)
    if p.is_dir():
        p = p / "model.pt"
    if not p.exists():
        raise PapertoolsError("no such model (give a 'compose-sample train' folder or its "
                              "model.pt)", str(path))
    try:
        state = torch.load(p, map_location=device, weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise PapertoolsError(f"cannot load model: {exc}", str(p)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise PapertoolsError("not a compose-sample model", str(p))
    config = ModelConfig(**state["config"]["model"])
    model = DiffusionModel(config).to(device)
    model.load_state_dict(state["ema"])
    model.eval()
    model.requires_grad_(False)
    return model, state["config"]


def timestep_tensor(t: int, n: int, device) -> torch.Tensor:
    return torch.full((n,), int(t), dtype=torch.long, device=device)


__all__ = ["DiffusionModel", "ModelConfig", "PARAMS", "ResMLP", "SCHEDULES", "TrainConfig",
           "load_model", "make_scheduler", "sigmas", "train"]
