"""Models as energies, and the composed annealed target of an energy-algebra expression.

A leaf (one bound model) answers ``eps_energy(x, t) -> (eps, E or None)`` at a training level t.
In log-density units a leaf's energy is U_t = E / sigma_t and its gradient is eps / sigma_t, so
p_t ~ exp(-U_t) and grad log p_t = -eps / sigma_t (the reference's scaling; the same t is used
for energy, gradient and step size).

The composed target at level t (``ComposedTarget(x, t, energy)``) returns (U, dU/dx):

- linear nodes: U = sum_i c_i U_i and dU = sum_i c_i dU_i (works with score models: then U is
  None);
- mixtures: U = -(1/tau) logsumexp_i(log pi_i - tau U_i) and dU = sum_i softmax_i dU_i, with tau
  the mixture temperature (1: the exact mixture of the unnormalised densities, which commutes
  with noising; larger: closer to min_i U_i). Energies are required.

Every leaf is evaluated once per call, however often its name appears.

A caveat the method carries: eps-training fixes a model's energy only up to a constant at each
level, so in a mixture each model's weight is also scaled by exp(-(c_i(t) - c_j(t)) / sigma_t)
for unknown offsets c. The mixture's mode proportions can therefore drift from the weights
given; products, tempering and negation (linear) are unaffected.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from papertools.core.errors import PapertoolsError

from .expr import Linear, Mixture, Name, Node, has_mixture, rename
from .samplers import NEEDS_ENERGY


class MLPLeaf:
    """A model from ``compose-sample train``."""

    kind = "mlp"

    def __init__(self, name: str, path: str, device="cpu"):
        from .diffusion import load_model, make_scheduler

        self.name, self.path = name, path
        self.model, meta = load_model(path, device)
        cfg = self.model.config
        self.param = cfg.param
        self.has_energy = self.model.has_energy
        self.shape = (cfg.dim,)
        self.scheduler = make_scheduler(cfg.levels, cfg.schedule)
        data = meta.get("data") or {}
        self.toy = data.get("toy")
        self.device = device

    def eps_energy(self, x: torch.Tensor, t: int):
        tt = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        return self.model.eps_energy(x, tt)


class UNetLeaf:
    """A diffusers ``UNet2DModel`` from a local folder (``save_pretrained`` output), optionally
    with a class label (``-m name=DIR@LABEL``). ``DIR/papertools.json`` may say
    ``{"param": "energy-l2"}`` (E = 0.5||unet(x, t)||^2) or ``"energy"`` (E = ||unet - x||^2);
    otherwise the UNet predicts the noise (score parameterisation). The noise schedule is the
    folder's ``scheduler/`` (or ``scheduler_config.json``), else diffusers' default linear one."""

    kind = "unet"
    toy = None

    def __init__(self, name: str, path: str, label: int | None = None, device="cpu"):
        from diffusers import DDPMScheduler, UNet2DModel

        self.name, self.path, self.label = name, path, label
        try:
            self.unet = UNet2DModel.from_pretrained(path).to(device)
        except (OSError, ValueError, EnvironmentError) as exc:
            raise PapertoolsError(f"cannot load a diffusers UNet2DModel: {exc}", path) from None
        self.unet.eval()
        self.unet.requires_grad_(False)
        meta = Path(path) / "papertools.json"
        self.param = json.loads(meta.read_text()).get("param", "score") if meta.exists() \
            else "score"
        if self.param not in ("energy", "energy-l2", "score"):
            raise PapertoolsError(f"unknown param {self.param!r}", str(meta))
        self.has_energy = self.param != "score"
        c = self.unet.config
        size = c.sample_size if isinstance(c.sample_size, int) else tuple(c.sample_size)
        self.shape = (c.in_channels, *((size, size) if isinstance(size, int) else size))
        if label is not None and not c.num_class_embeds and c.class_embed_type is None:
            raise PapertoolsError(f"model {name!r} has no class embedding, so @{label} cannot "
                                  "condition it", path)
        sub = Path(path) / "scheduler"
        if (sub / "scheduler_config.json").exists():
            self.scheduler = DDPMScheduler.from_pretrained(path, subfolder="scheduler")
        elif (Path(path) / "scheduler_config.json").exists():
            self.scheduler = DDPMScheduler.from_pretrained(path)
        else:
            self.scheduler = DDPMScheduler(num_train_timesteps=1000, clip_sample=False)
        self.device = device

    def _net(self, x, t):
        tt = torch.full((x.shape[0],), int(t), dtype=torch.long, device=x.device)
        labels = None if self.label is None else torch.full_like(tt, self.label)
        out = self.unet(x, tt, class_labels=labels).sample
        return out[:, : x.shape[1]]  # a learned-variance UNet returns 2C channels

    def eps_energy(self, x: torch.Tensor, t: int):
        if not self.has_energy:
            with torch.no_grad():
                return self._net(x, t), None
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            f = self._net(x, t)
            e = (((f - x) ** 2) if self.param == "energy" else 0.5 * f ** 2).flatten(1).sum(1)
            (eps,) = torch.autograd.grad(e.sum(), x)
        return eps, e.detach()


def load_leaf(name: str, spec: str, device="cpu"):
    """``PATH`` (a train folder, model.pt, or a diffusers UNet folder) or ``PATH@LABEL``."""
    path, label = spec, None
    if "@" in spec:
        head, _, tail = spec.rpartition("@")
        if tail.lstrip("-").isdigit():
            path, label = head, int(tail)
    p = Path(path)
    if (p / "config.json").exists() and not (p / "model.pt").exists():
        return UNetLeaf(name, path, label, device)
    if label is not None:
        raise PapertoolsError("a class label (@N) needs a diffusers UNet folder", path)
    return MLPLeaf(name, path, device)


def check_compatible(leaves: dict) -> None:
    """Same data shape and the same noise levels for every model in one expression."""
    items = list(leaves.values())
    first = items[0]
    for leaf in items[1:]:
        if tuple(leaf.shape) != tuple(first.shape):
            raise PapertoolsError(f"model {leaf.name!r} has points of shape {list(leaf.shape)} but "
                                  f"model {first.name!r} has {list(first.shape)}", leaf.path)
        a, b = first.scheduler.alphas_cumprod, leaf.scheduler.alphas_cumprod
        if a.shape != b.shape or not torch.allclose(a, b, atol=1e-6):
            raise PapertoolsError(f"model {leaf.name!r} was trained on other noise levels than "
                                  f"model {first.name!r}; composed models must share them",
                                  leaf.path)


def needs_energy(node: Node, sampler: str) -> str | None:
    """Why sampling ``node`` with ``sampler`` needs energies (a Metropolis test, a mixture),
    or None when noise predictions (score models) will do."""
    if sampler in NEEDS_ENERGY:
        return f"sampler {sampler!r} needs energies (a Metropolis test)"
    if has_mixture(node):
        return "the mixture '|' needs energies"
    return None


def toy_target(node: Node, leaves: dict) -> Node | None:
    """The expression over the toy sets the models learned (what eval scores against), or None
    when a model was not trained on a toy set."""
    toys = [leaf.toy for leaf in leaves.values()]
    return rename(node, dict(zip(leaves, toys))) if all(toys) else None


class ComposedTarget:
    """``target(x, t, energy) -> (U (B,) or None, dU/dx (B, ...))`` at training level t."""

    def __init__(self, node: Node, leaves: dict, scheduler, mix_temperature: float = 1.0):
        self.node, self.leaves, self.tau = node, leaves, float(mix_temperature)
        self.sigma = (1 - scheduler.alphas_cumprod.double()).sqrt()
        self.evaluations = 0  # leaf evaluations (one forward, plus a backward for energies)

    def __call__(self, x: torch.Tensor, t: int, energy: bool = True):
        sigma = float(self.sigma[int(t)])
        cache = {}

        def leaf(name):
            if name not in cache:
                eps, e = self.leaves[name].eps_energy(x, t)
                self.evaluations += 1
                cache[name] = (None if e is None else e / sigma, eps / sigma)
            return cache[name]

        def walk(node):
            if isinstance(node, Name):
                return leaf(node.name)
            if isinstance(node, Linear):
                u, g = 0.0, 0.0
                for coef, child in node.terms:
                    cu, cg = walk(child)
                    g = g + coef * cg
                    u = None if (u is None or cu is None) else u + coef * cu
                return u, g
            if isinstance(node, Mixture):
                logits, grads = [], []
                for w, child in zip(node.weights(), node.parts):
                    if w <= 0:
                        continue
                    cu, cg = walk(child)
                    if cu is None:
                        raise PapertoolsError("the mixture operator needs energies, and a model "
                                              "in it is score-parameterised")
                    logits.append(torch.log(torch.tensor(w, dtype=cu.dtype)) - self.tau * cu)
                    grads.append(cg)
                stack = torch.stack(logits)  # (k, B)
                u = -torch.logsumexp(stack, 0) / self.tau
                weights = torch.softmax(stack, 0)  # (k, B)
                shape = (-1,) + (1,) * (grads[0].dim() - 1)
                g = sum(weights[i].reshape(shape) * grads[i] for i in range(len(grads)))
                return u, g
            raise TypeError(node)

        u, g = walk(self.node)
        if isinstance(g, float):  # an expression whose coefficients are all 0
            g = torch.zeros_like(x)
            u = torch.zeros(x.shape[0], dtype=x.dtype)
        if not energy:
            u = None
        return (None if u is None else u.detach()), g.detach()

    def eps(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """The composed noise prediction sigma_t * dU/dx (for the reverse diffusion step)."""
        _, g = self(x, t, energy=False)
        return g * float(self.sigma[int(t)])
