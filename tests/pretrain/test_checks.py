"""The exploitability checks (cli/pretrain/checks.py) and Part O's command line."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.cli.pretrain.checks import episode_bonus, exploitability, window_starts
from papertools.cli.pretrain.offline import ProgressConfig, train_progress
from papertools.core.learn.progress import load_progress
from tests.helpers import invoke
from tests.pretrain.o_fixtures import OTHER, bot_dataset


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("o-checks")
    return bot_dataset(root / "demos", episodes=24), bot_dataset(root / "other", OTHER, 8)


def test_window_starts_is_the_shaping_pair():
    # frames 1..6 compared with max(t - 3, 0)
    assert window_starts(7, 3).tolist() == [0, 0, 0, 1, 2, 3]


def _trained(data, folder, reversed_fraction):
    config = ProgressConfig(batch_size=32, steps=200, log_every=200, max_gap=32,
                            reversed_fraction=reversed_fraction)
    train_progress(data, folder, config, log=lambda r: None)
    return load_progress(folder / "progress")


@pytest.mark.slow
def test_checks_tell_a_forward_only_model_from_one_that_saw_reversed_pairs(demos, tmp_path):
    data, other = demos
    forward_only = _trained(data, tmp_path / "fwd", 0.0)
    both_ways = _trained(data, tmp_path / "rev", 0.5)
    results = {}
    for name, model in (("fwd", forward_only), ("rev", both_ways)):
        results[name] = exploitability(model, data, other=other, k=4, episodes=2, max_steps=40,
                                       pairs=256)
        assert set(results[name]) == {"reversed", "oscillation", "random", "transfer"}
        for r in results[name].values():
            assert {"check", "value", "reference", "pass", "measure"} <= set(r)
        # forward pairs of the demonstrations score above their reversals
        rev = results[name]["reversed"]
        assert rev["reference"] > rev["value"] + (1.0 if name == "rev" else 0.0)
    # a model that only ever saw forward pairs pays for going backwards; one shown reversed
    # pairs with negative targets does not
    assert results["fwd"]["reversed"]["value"] > 0 and not results["fwd"]["reversed"]["pass"]
    assert results["rev"]["reversed"]["value"] < 0 and results["rev"]["reversed"]["pass"]
    # so going back and forth earns the forward-only model nearly what a demonstration
    # earns per step (measured: 2.08 against 2.27), and the other about nothing (0.001)
    assert not results["fwd"]["oscillation"]["pass"]
    assert results["rev"]["oscillation"]["pass"]
    osc = results["rev"]["oscillation"]
    assert osc["value"] < osc["reference"]


def test_episode_bonus_is_zero_length_for_one_frame(demos, tmp_path):
    data, _ = demos
    from papertools.cli.pretrain.data import ObservationDataset

    model = _untrained(data)
    frames = ObservationDataset(data).frames(0, [0])
    assert len(episode_bonus(model, frames, 4, 1.0)) == 0
    frames = ObservationDataset(data).frames(0, np.arange(5))
    assert len(episode_bonus(model, frames, 4, 1.0)) == 4


def _untrained(data):
    import torch

    from papertools.cli.pretrain.data import ObservationDataset
    from papertools.core.learn.progress import ProgressModel

    torch.manual_seed(0)
    return ProgressModel(*ObservationDataset(data).spaces(), hidden=16)


def test_cli_records(demos, tmp_path):
    data, other = demos
    run = invoke(["pretrain", "encoder", str(data), "--steps", "4", "--batch-size", "8",
                  "--log-every", "2", "--out-dir", str(tmp_path / "enc"), "-q"])
    assert run.exit_code == 0, run.stderr
    assert [r["step"] for r in run.records] == [2, 4]
    assert {"loss", "accuracy", "valid_loss", "valid_accuracy"} <= set(run.records[-1])
    assert (tmp_path / "enc" / "policy" / "policy.json").exists()
    run = invoke(["pretrain", "reward", str(data), "--steps", "4", "--batch-size", "8",
                  "--log-every", "4", "--out-dir", str(tmp_path / "rew"), "-q"])
    assert run.exit_code == 0, run.stderr
    assert {"step", "loss", "valid_loss", "valid_spearman"} <= set(run.records[-1])
    run = invoke(["pretrain", "check", str(tmp_path / "rew"), str(data), "--other", str(other),
                  "--episodes", "1", "--max-steps", "8", "--pairs", "32", "--json"])
    assert run.exit_code == 0, run.stderr
    assert [r["check"] for r in run.records] == ["reversed", "oscillation", "random", "transfer"]
    assert all(isinstance(r["pass"], bool) for r in run.records)
    run = invoke(["pretrain", "check", str(tmp_path / "rew"), str(data), "--no-random",
                  "--pairs", "32"])
    assert run.exit_code == 0 and b"| oscillation |" in run.stdout and b"random" not in run.stdout
    # a second run into the same folder is refused unless resumed; resumed, it is finished
    run = invoke(["pretrain", "reward", str(data), "--steps", "4", "--batch-size", "8",
                  "--out-dir", str(tmp_path / "rew"), "-q"])
    assert run.exit_code == 1 and "--resume" in run.stderr


@pytest.mark.parametrize("command", ["encoder", "reward"])
def test_a_bad_dataset_path_is_one_clean_error_line(tmp_path, command):
    run = invoke([command == "check" and "x" or "pretrain", command, str(tmp_path / "nowhere"),
                  "--out-dir", str(tmp_path / "run"), "-q"])
    assert run.exit_code == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a trajectory dataset" in lines[0]
    assert lines[0].startswith("papertools pretrain: error:")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_check_of_a_missing_progress_folder_is_one_clean_error_line(demos, tmp_path):
    data, _ = demos
    run = invoke(["pretrain", "check", str(tmp_path / "none"), str(data), "--json"])
    assert run.exit_code == 1 and len(run.stderr.strip().splitlines()) == 1
    assert "is not a progress folder" in run.stderr
