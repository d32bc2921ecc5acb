"""The image path: a tiny diffusers UNet2DModel made from a config, class conditions composed."""

import json

import numpy as np
import pytest
import torch

from tests.helpers import invoke

torch.set_num_threads(1)


def make_unet(folder, param=None):
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
                       block_out_channels=(8, 16), norm_num_groups=4,
                       down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), num_class_embeds=3)
    unet.save_pretrained(folder)
    DDPMScheduler(num_train_timesteps=50, beta_schedule="linear",
                  clip_sample=False).save_pretrained(folder / "scheduler")
    if param:
        (folder / "papertools.json").write_text(json.dumps({"param": param}))
    return str(folder)


@pytest.fixture(scope="module")
def unets(tmp_path_factory):
    root = tmp_path_factory.mktemp("unets")
    return make_unet(root / "energy", "energy-l2"), make_unet(root / "score")


def test_energy_unet_composes_classes_with_hmc(unets, tmp_path):
    energy, _ = unets
    stats = tmp_path / "stats.jsonl"
    run = invoke(["compose-sample", "sample", "u + 2*(a - u) + 2*(b - u)", "-m", f"u={energy}@2",
                  "-m", f"a={energy}@0", "-m", f"b={energy}@1", "--sampler", "hmc",
                  "--levels", "4", "--steps-per-level", "2", "-n", "2", "--stats", str(stats),
                  "-q"])
    assert run.exit_code == 0, run.stderr
    recs = run.records
    assert len(recs) == 2 and recs[0]["shape"] == [3, 8, 8]
    x = np.asarray(recs[0]["x"])
    assert x.shape == (192,) and np.isfinite(x).all()
    rows = [json.loads(line) for line in stats.read_text().splitlines()]
    # image preset: reverse step at every level, MCMC in the less noisy half only
    assert [r["accept"] is not None for r in rows] == [False, False, True, True]


def test_unet_images_as_pngs_and_mixture(unets, tmp_path):
    energy, _ = unets
    run = invoke(["compose-sample", "sample", "a | b", "-m", f"a={energy}@0", "-m",
                  f"b={energy}@1", "--sampler", "mala", "--levels", "3", "-n", "2",
                  "--steps-per-level", "1", "--out-dir", str(tmp_path / "img"), "-q"])
    assert run.exit_code == 0, run.stderr
    for rec in run.records:
        assert rec["image"].endswith(".png") and "x" not in rec
        assert open(rec["image"], "rb").read(4) == b"\x89PNG"


def test_score_unet_refuses_mala_but_runs_ula(unets):
    _, score = unets
    base = ["compose-sample", "sample", "a + b", "-m", f"a={score}@0", "-m", f"b={score}@1",
            "--levels", "3", "-n", "1", "--steps-per-level", "1", "-q"]
    run = invoke(base + ["--sampler", "mala"])
    assert run.exit_code == 2 and "score-parameterised" in run.stderr
    run = invoke(base + ["--sampler", "ula"])
    assert run.exit_code == 0 and len(run.records) == 1
