"""Composed targets: the energy-to-log-density scaling across levels, and the operators
(product, tempering, mixture, negation) sampled with the real samplers on exact noised
Gaussian-mixture leaves; reverse diffusion against MCMC on a product (the paper's effect)."""

import pytest
import torch

from papertools.cli.compose_sample import samplers as S
from papertools.cli.compose_sample.compose import ComposedTarget
from papertools.cli.compose_sample.expr import parse

from .analytic import GaussianMixtureLeaf, scheduler

torch.set_num_threads(1)
LEVELS = 30


def make(expr, leaves, tau=1.0):
    sched = scheduler(LEVELS)
    bound = {name: GaussianMixtureLeaf(name, means, std, sched) for name, (means, std) in
             leaves.items()}
    return ComposedTarget(parse(expr), bound, sched, tau), bound, sched


def draw(target, sched, sampler="hmc", n=2000, seed=0, **kw):
    settings = S.Settings(sampler=sampler, steps=kw.pop("steps", 10), step_size=kw.pop(
        "step_size", 0.03), **kw)
    if sampler == "reverse":
        settings.reverse = True
    x, stats = S.sample(target, (2,), n, settings, sched, LEVELS,
                        torch.Generator().manual_seed(seed))
    return x, stats


def test_energy_scaling_matches_log_density_at_every_level():
    """U = E / sigma_t is -log p_t up to a constant, and dU = eps / sigma_t is -grad log p_t."""
    target, bound, _ = make("a", {"a": ([[0.3, -0.2], [-0.4, 0.5]], 0.1)})
    leaf = bound["a"]
    x = torch.randn(64, 2, dtype=torch.float64) * 0.5
    for t in (0, 7, 15, 29):
        u, g = target(x, t)
        logp = leaf.log_density(x, t)
        diff = u + logp
        assert torch.allclose(diff, diff[0].expand_as(diff), atol=1e-9)
        xx = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(leaf.log_density(xx, t).sum(), xx)
        assert torch.allclose(g, -grad, atol=1e-9)


def test_composed_gradient_is_the_gradient_of_the_composed_energy():
    target, _, _ = make("0.3:(1.3*a - 0.3*b) | 0.7:(a + 2*b)",
                        {"a": ([[0.5, 0.0]], 0.2), "b": ([[-0.5, 0.1], [0.0, 0.4]], 0.15)}, tau=2.0)
    x = torch.randn(16, 2, dtype=torch.float64) * 0.4
    u, g = target(x, 3)
    h = 1e-6
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = h
        fd = (target(x + e, 3)[0] - target(x - e, 3)[0]) / (2 * h)
        assert torch.allclose(fd, g[:, k], atol=1e-5)


def test_product_of_a_model_with_itself_is_its_square():
    """a + a has density p^2: for a Gaussian, the same mean and half the variance."""
    target, _, sched = make("a + a", {"a": ([[0.2, -0.1]], 0.3)})
    x, _ = draw(target, sched, "hmc", steps=10, step_size=0.05)
    assert torch.allclose(x.mean(0), torch.tensor([0.2, -0.1]), atol=0.03)
    assert x.var(0).mean().item() == pytest.approx(0.09 / 2, rel=0.12)


def test_tempering_by_half_doubles_the_variance():
    target, _, sched = make("0.5*a", {"a": ([[0.0, 0.0]], 0.2)})
    x, _ = draw(target, sched, "mala", steps=20, step_size=0.01)
    assert x.var(0).mean().item() == pytest.approx(0.04 * 2, rel=0.12)


def test_mixture_weight_zero_gives_the_other_model():
    target, _, sched = make("0:a | 1:b", {"a": ([[-0.5, 0.0]], 0.1), "b": ([[0.5, 0.0]], 0.1)})
    x, _ = draw(target, sched, "hmc", steps=10, step_size=0.03)
    assert (x[:, 0] > 0).double().mean().item() > 0.99
    assert torch.allclose(x.mean(0), torch.tensor([0.5, 0.0]), atol=0.02)


def test_equal_mixture_puts_half_the_mass_on_each_model():
    target, _, sched = make("a | b", {"a": ([[-0.5, 0.0]], 0.1), "b": ([[0.5, 0.0]], 0.1)})
    x, _ = draw(target, sched, "hmc", steps=10, step_size=0.03)
    assert (x[:, 0] > 0).double().mean().item() == pytest.approx(0.5, abs=0.05)


def test_negation_leaves_the_negated_region_nearly_empty():
    """a is a square of 5 x 5 overlapping Gaussians (a soft box); 1.3*a - 0.3*b with b a
    Gaussian at its centre leaves the centre nearly empty (the paper's box minus small box)."""
    grid = [[0.25 * i, 0.25 * j] for i in range(-2, 3) for j in range(-2, 3)]
    leaves = {"a": (grid, 0.15), "b": ([[0.0, 0.0]], 0.1)}

    def centre(x):
        return (x.norm(dim=1) < 0.15).double().mean().item()

    plain, _, sched = make("a", leaves)
    x_a, _ = draw(plain, sched, "hmc", n=1500)
    negated, _, sched = make("1.3*a - 0.3*b", leaves)
    x_n, _ = draw(negated, sched, "hmc", n=1500)
    assert centre(x_a) > 0.025
    assert centre(x_n) < 0.2 * centre(x_a)


def test_mcmc_beats_reverse_diffusion_on_a_product():
    """The paper's point at small scale: for a product of two Gaussians, adding the noised scores
    in reverse diffusion gives the wrong variance; annealed HMC gets it right."""
    leaves = {"a": ([[-0.3, 0.0]], 0.25), "b": ([[0.3, 0.0]], 0.25)}
    target, _, sched = make("a + b", leaves)
    exact_var = 0.25 ** 2 / 2  # the product N(0, s^2/2)
    x_rev, _ = draw(target, sched, "reverse", n=3000)
    x_hmc, _ = draw(target, sched, "hmc", n=3000, steps=10, step_size=0.05)
    err_rev = abs(x_rev.var(0).mean().item() - exact_var) / exact_var
    err_hmc = abs(x_hmc.var(0).mean().item() - exact_var) / exact_var
    assert err_hmc < 0.1
    assert err_rev > 2 * err_hmc and err_rev > 0.15


def test_mixture_refuses_score_leaves():
    class Score(GaussianMixtureLeaf):
        def eps_energy(self, x, t):
            eps, _ = super().eps_energy(x, t)
            return eps, None

    sched = scheduler(LEVELS)
    leaves = {"a": Score("a", [[0.0, 0.0]], 0.1, sched), "b": Score("b", [[1.0, 0.0]], 0.1, sched)}
    target = ComposedTarget(parse("a | b"), leaves, sched)
    with pytest.raises(Exception, match="mixture operator needs energies"):
        target(torch.zeros(3, 2), 0)
    linear = ComposedTarget(parse("a + b"), leaves, sched)
    u, g = linear(torch.zeros(3, 2), 0, energy=False)
    assert u is None and g.shape == (3, 2)
