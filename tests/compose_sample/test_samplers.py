"""Each sampler against analytic targets: moments, Metropolis acceptance, and the corrections."""

import math
from dataclasses import replace

import pytest
import torch

from papertools.cli.compose_sample import samplers as S
from papertools.cli.compose_sample.diffusion import make_scheduler

torch.set_num_threads(1)

MEAN = torch.tensor([1.0, -0.5])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.8]])
PREC = torch.linalg.inv(COV)


def gaussian(x, t, energy=True):
    """A correlated 2D Gaussian, the same at every level: U = (x-m)' P (x-m) / 2."""
    d = x - MEAN
    g = d @ PREC
    return (0.5 * (d * g).sum(1) if energy else None), g


def run(settings, n=3000, levels=10, target=gaussian, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return S.sample(target, (2,), n, settings, make_scheduler(levels), levels, gen)


@pytest.mark.parametrize("name,step", [("ula", 0.05), ("mala", 0.2), ("uhmc", 0.2), ("hmc", 0.4)])
def test_each_sampler_matches_the_gaussian_moments(name, step):
    x, stats = run(S.Settings(sampler=name, steps=30, step_size=step, leapfrog=3, damping=0.5))
    assert torch.allclose(x.mean(0), MEAN, atol=0.07)
    assert torch.allclose(torch.cov(x.T), COV, atol=0.09)
    if name in ("mala", "hmc"):
        assert all(0.5 < s.accept <= 1.0 for s in stats)
    else:
        assert all(s.accept is None for s in stats)


@pytest.mark.parametrize("name", ["mala", "hmc"])
def test_acceptance_falls_to_zero_for_a_huge_step_and_is_high_for_a_small_one(name):
    _, small = run(S.Settings(sampler=name, steps=3, step_size=1e-3), n=500, levels=3)
    _, huge = run(S.Settings(sampler=name, steps=3, step_size=30.0), n=500, levels=3)
    assert min(s.accept for s in small) > 0.97
    assert max(s.accept for s in huge) < 0.02


def test_metropolis_corrects_what_langevin_gets_wrong():
    """At eta = 0.5 ULA's stationary law is visibly too wide; MALA with the proposal's variance
    2 eta in its MH ratio is exact (a ratio with the wrong variance would not be)."""
    settings = dict(steps=60, step_size=0.5)
    x_ula, _ = run(S.Settings(sampler="ula", **settings), levels=4)
    x_mala, _ = run(S.Settings(sampler="mala", **settings), levels=4)
    err_ula = (torch.cov(x_ula.T) - COV).abs().max()
    err_mala = (torch.cov(x_mala.T) - COV).abs().max()
    assert err_ula > 0.3
    assert err_mala < 0.1


def test_hmc_corrects_what_unadjusted_hmc_gets_wrong():
    settings = dict(steps=40, step_size=0.9, leapfrog=3, damping=0.5)
    x_u, _ = run(S.Settings(sampler="uhmc", **settings), levels=4)
    x_h, stats = run(S.Settings(sampler="hmc", **settings), levels=4)
    assert (torch.cov(x_u.T) - COV).abs().max() > 0.25
    assert (torch.cov(x_h.T) - COV).abs().max() < 0.1
    assert 0.1 < stats[-1].accept < 0.9


def bimodal(x, t, energy=True):
    """Two well-separated modes (+-1.5, 0), std 0.5: U = -log(N(-m) + N(+m))."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        a = -((x - torch.tensor([1.5, 0.0])) ** 2).sum(1) / 0.5
        b = -((x + torch.tensor([1.5, 0.0])) ** 2).sum(1) / 0.5
        u = -torch.logsumexp(torch.stack([a, b]), 0)
        (g,) = torch.autograd.grad(u.sum(), x)
    return (u.detach() if energy else None), g


def test_hmc_momentum_after_rejection_flip_and_keep_both_sample_the_modes():
    for on_reject in ("flip", "keep"):
        x, _ = run(S.Settings(sampler="hmc", steps=30, step_size=0.5, on_reject=on_reject),
                   n=2000, levels=3, target=bimodal)
        right = (x[:, 0] > 0).double().mean().item()
        assert abs(right - 0.5) < 0.06
        assert abs(x[:, 0].abs().mean().item() - 1.5) < 0.1


def shrinking(x, t, energy=True):
    """A Gaussian whose scale shrinks 50-fold from the noisiest level to the cleanest: std s_t
    along x and 2.5 s_t along y (not isotropic: on an isotropic Gaussian HMC's acceptance has
    resonances, steps where the leapfrog orbit closes and nothing is rejected), s_t = 0.02 +
    t / 10 (levels t = 9..0). A fixed step cannot suit both ends."""
    s2 = ((0.02 + t / 10) * torch.tensor([1.0, 2.5])) ** 2
    return ((x ** 2 / s2).sum(1) / 2 if energy else None), x / s2


@pytest.mark.parametrize("name", ["mala", "hmc"])
@pytest.mark.parametrize("start", [1e-4, 5.0])
def test_adaptation_reaches_the_target_acceptance_at_every_level(name, start):
    """Issue 17: with the notebook's small fixed steps the chains accept 99.9% of proposals and
    barely move. --adapt tunes the step per level in a warm-up, from a far too small or far too
    large start, so the kept steps accept about 0.57 (MALA) or 0.65 (HMC) everywhere."""
    x, stats = run(S.Settings(sampler=name, steps=10, step_size=start, adapt=True, warmup=10),
                   n=1000, levels=10, target=shrinking)
    aim = S.TARGET_ACCEPT[name]
    assert aim == {"mala": 0.57, "hmc": 0.65}[name]
    for s in stats:
        assert s.warmup_steps == (50 if s.level == 0 else 10) and s.steps == 10
        # HMC's rate on a Gaussian is not monotone in the step (leapfrog resonances): looser
        assert abs(s.accept - aim) < (0.12 if name == "mala" else 0.2), (s.t, s.accept)
    sizes = [s.step_size for s in stats]
    assert sizes[0] > 20 * sizes[-1]  # the step follows the target's scale down the levels
    assert torch.allclose(x.std(0), torch.tensor([0.02, 0.05]), rtol=0.1)  # still exact


def test_adapted_steps_sample_the_gaussian_exactly():
    x, stats = run(S.Settings(sampler="mala", steps=30, step_size=0.01, adapt=True,
                              target_accept=0.8))
    assert torch.allclose(x.mean(0), MEAN, atol=0.07)
    assert torch.allclose(torch.cov(x.T), COV, atol=0.09)
    assert all(abs(s.accept - 0.8) < 0.08 for s in stats[1:])


def test_without_adapt_the_step_is_fixed_and_no_warmup_runs():
    _, stats = run(S.Settings(sampler="hmc", steps=3, step_size=0.03), n=50, levels=3)
    assert all(s.step_size == 0.03 and s.warmup_steps == 0 and s.warmup_accept is None
               for s in stats)


def test_levels_run_noisiest_first_with_matching_step_sizes():
    seen = []

    def target(x, t, energy=True):
        seen.append(t)
        return gaussian(x, t, energy)

    settings = S.Settings(sampler="ula", steps=1, step_size=0.1, step_schedule="beta")
    sched = make_scheduler(5)
    _, stats = S.sample(target, (2,), 4, settings, sched, 5, torch.Generator().manual_seed(0))
    assert seen == [4, 3, 2, 1, 0]
    assert [s.t for s in stats] == [4, 3, 2, 1, 0]
    betas = sched.betas.double()
    for s in stats:  # the step size at level t uses beta_t, not beta_{t+1}
        assert s.step_size == pytest.approx(0.1 * float(betas[s.t]), rel=1e-6)


def test_presets_are_the_papers():
    toy_hmc = S.preset("toy", "hmc")
    assert (toy_hmc.steps, toy_hmc.step_size, toy_hmc.damping, toy_hmc.leapfrog, toy_hmc.mass,
            toy_hmc.reverse) == (10, 0.03, 0.5, 3, 1.0, False)
    assert S.preset("toy", "ula").step_size == 0.001 and S.preset("toy", "mala").steps == 10
    img = S.preset("image", "mala")
    assert (img.steps, img.step_size, img.step_schedule, img.reverse, img.mcmc_from) == \
        (20, 0.035, "beta", True, 0.5)
    assert S.preset("image", "ula").step_size == 2.0
    hmc = S.preset("image", "hmc")
    assert (hmc.steps, hmc.step_size, hmc.damping, hmc.mass_schedule) == (10, 0.1, 0.7, "beta")


def test_choose_takes_the_preset_by_model_kind_and_overrides_that_are_given():
    assert S.choose("auto", "hmc", "unet")[0] == "image"
    assert S.choose("auto", "hmc", "mlp")[0] == "toy"
    chosen, settings = S.choose("toy", "mala", "unet", adapt=True, step_size=0.5, leapfrog=None)
    assert chosen == "toy" and settings == replace(S.preset("toy", "mala"), step_size=0.5,
                                                   adapt=True)
    assert S.choose("toy", "reverse", "mlp", reverse=False)[1].reverse  # reverse always steps


def test_batches_draw_from_the_seed_and_their_index_alone():
    sched, settings = make_scheduler(4), S.preset("toy", "ula")
    parts = list(S.sample_batches(gaussian, (2,), 10, 4, settings, sched, 4, seed=3))
    assert [first for first, _, _ in parts] == [0, 4, 8]
    assert [len(x) for _, x, _ in parts] == [4, 4, 2]
    for b, (_, x, _) in enumerate(parts):
        alone, _ = S.sample(gaussian, (2,), len(x), settings, sched, 4, S.batch_generator(3, b))
        assert torch.equal(x, alone)
    # in one batch (what the benchmark draws): batch 0's stream
    (_, whole, stats), = S.sample_batches(gaussian, (2,), 10, 16, settings, sched, 4, seed=3)
    alone, _ = S.sample(gaussian, (2,), 10, settings, sched, 4, S.batch_generator(3, 0))
    assert torch.equal(whole, alone) and len(S.merge_stats([stats, stats])) == 4


def test_leapfrog_does_not_modify_its_inputs():
    x = torch.randn(5, 2)
    v = torch.randn(5, 2)
    x0, v0 = x.clone(), v.clone()
    _, g = gaussian(x, 0)
    x1, v1, _, _ = S.leapfrog(gaussian, x, v, g, 0, 0.1, 1.0, 3, True)
    assert torch.equal(x, x0) and torch.equal(v, v0)
    assert not torch.equal(x1, x0) and not math.isclose(float(v1.sum()), float(v0.sum()))
