"""The energy parameterisation: the noise prediction is the gradient of the energy; training
through it lowers the loss; checkpoints resume exactly."""

import pytest
import torch

from papertools.cli.compose_sample.diffusion import (DiffusionModel, ModelConfig, TrainConfig,
                                                     load_model, make_scheduler, train)
from papertools.cli.compose_sample.toysets import sample_toy

torch.set_num_threads(1)


@pytest.mark.parametrize("param", ["energy", "energy-l2"])
def test_noise_prediction_is_the_gradient_of_the_energy(param):
    torch.manual_seed(0)
    model = DiffusionModel(ModelConfig(dim=3, param=param, hidden=16, layers=2)).double()
    for p in model.parameters():  # leave the zero initialisation, so f is not trivial
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(8, 3, dtype=torch.float64)
    t = torch.randint(0, 100, (8,))
    eps, energy = model.eps_energy(x, t)
    assert torch.allclose(energy, model.energy(x, t))
    h = 1e-6
    for k in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = h
        fd = (model.energy(x + e, t) - model.energy(x - e, t)) / (2 * h)
        assert torch.allclose(eps[:, k], fd, atol=1e-6)


def test_energy_form_and_score_form():
    model = DiffusionModel(ModelConfig(dim=2, param="energy", hidden=8, layers=1))
    x = torch.randn(4, 2)
    t = torch.zeros(4, dtype=torch.long)
    # zero-initialised output: f = 0, so E = ||x||^2 and eps = 2x
    eps, energy = model.eps_energy(x, t)
    assert torch.allclose(energy, (x ** 2).sum(1)) and torch.allclose(eps, 2 * x)
    score = DiffusionModel(ModelConfig(dim=2, param="score", hidden=8, layers=1))
    eps, energy = score.eps_energy(x, t)
    assert energy is None and torch.allclose(eps, torch.zeros_like(x))
    l2 = DiffusionModel(ModelConfig(dim=2, param="energy-l2", hidden=8, layers=1))
    eps, _ = l2.eps_energy(x, t)
    assert eps.abs().sum() > 0  # not stuck at f = 0 (its output layer is not zero-initialised)


def test_schedule_is_diffusers_cosine():
    sched = make_scheduler(100)
    assert sched.config.beta_schedule == "squaredcos_cap_v2" and len(sched.betas) == 100
    assert not sched.config.clip_sample


def _config(tmp_path, name, steps, resume=False, param="energy"):
    return TrainConfig(out_dir=str(tmp_path / name), model=ModelConfig(
        dim=2, param=param, hidden=16, layers=1), steps=steps, batch_size=64, seed=3,
        save_every=5, log_every=5, resume=resume, data={"toy": "ring"})


def _draw(rng, n):
    return sample_toy("ring", n, rng)


def test_training_lowers_the_loss_and_resume_is_exact(tmp_path):
    logs = []
    train(_config(tmp_path, "full", 20), _draw, logs.append)
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert [r["step"] for r in logs] == [5, 10, 15, 20]
    half = []
    train(_config(tmp_path, "half", 10), _draw, half.append)
    train(_config(tmp_path, "half", 20, resume=True), _draw, half.append)
    a, _ = load_model(str(tmp_path / "full"))
    b, meta = load_model(str(tmp_path / "half"))
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert [r["loss"] for r in half[-2:]] == [r["loss"] for r in logs[-2:]]
    assert meta["data"] == {"toy": "ring"} and meta["model"]["param"] == "energy"
