"""Analytic leaves for tests: isotropic Gaussian mixtures noised exactly by the forward process,
so every level's density, energy and noise prediction is known in closed form."""

from __future__ import annotations

import torch

from papertools.cli.compose_sample.diffusion import make_scheduler


class GaussianMixtureLeaf:
    """p_0 = mean_k N(mu_k, s^2 I); p_t = mean_k N(sqrt(ab_t) mu_k, (ab_t s^2 + sigma_t^2) I).

    Reports E = sigma_t * U_t and eps = sigma_t * dU_t/dx, as a trained energy model would
    (U_t = -log p_t)."""

    kind = "analytic"
    toy = None
    has_energy = True

    def __init__(self, name, means, std, scheduler):
        self.name, self.path = name, f"<{name}>"
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.std = std
        self.scheduler = scheduler
        self.shape = (self.means.shape[1],)
        self.acp = scheduler.alphas_cumprod.double()

    def log_density(self, x: torch.Tensor, t: int) -> torch.Tensor:
        ab = self.acp[t]
        var = ab * self.std ** 2 + (1 - ab)
        mu = ab.sqrt() * self.means  # (k, d)
        d2 = ((x.double()[:, None, :] - mu[None]) ** 2).sum(-1)  # (n, k)
        dim = x.shape[1]
        logs = -0.5 * d2 / var - 0.5 * dim * torch.log(2 * torch.pi * var)
        return torch.logsumexp(logs, 1) - torch.log(torch.tensor(float(len(self.means))))

    def eps_energy(self, x: torch.Tensor, t: int):
        sigma = float((1 - self.acp[t]).sqrt())
        with torch.enable_grad():
            xx = x.detach().requires_grad_(True)
            u = -self.log_density(xx, t)
            (g,) = torch.autograd.grad(u.sum(), xx)
        return (sigma * g).to(x.dtype), (sigma * u.detach()).to(x.dtype)


def scheduler(levels: int = 50):
    return make_scheduler(levels)
