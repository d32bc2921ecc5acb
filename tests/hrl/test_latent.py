"""hrl latent: K latent subgoals learned by hard EM without language (real BabyAI bot rollouts,
real torch BC)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papertools.cli.hrl.latent import (LatentConfig, code_words, evaluate_codes, learn_latent,
                                       reassign)
from papertools.core.trajectories import TrajectoryDataset
from tests.hrl._latent_fixtures import bot_demos, two_rule_demos
from tests.helpers import invoke

TINY = dict(codes=3, segment=3, rounds=2, epochs=1, seed=0)


def _quiet(record):
    pass


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    return bot_demos(tmp_path_factory.mktemp("latent") / "demos", episodes=4)


@pytest.fixture(scope="module")
def learned(demos, tmp_path_factory):
    out = tmp_path_factory.mktemp("latent") / "out"
    summary = learn_latent(demos, out, LatentConfig(**TINY), log=_quiet)
    return out, summary


def _codes(out) -> dict[str, np.ndarray]:
    ds = TrajectoryDataset(out / "dataset")
    return {rid: ds.load(rid)["label/subgoal"] for rid in ds.ids}


def test_output_is_the_shared_format_with_code_words_only(demos, learned):
    import torch

    from papertools.core.learn.policies import load_policy

    out, summary = learned
    words = code_words(3)
    assert words == ["code one", "code two", "code three"]
    coded, source = TrajectoryDataset(out / "dataset"), TrajectoryDataset(demos)
    labels = coded.meta["labels"]
    assert labels == {"subgoal": words, "phrase": words, "start": ["no", "yes"],
                      "finished": ["no", "yes"], "kind": ["latent"]}
    assert coded.meta["env"] == source.meta["env"] and "hrl" in coded.meta
    assert coded.ids == source.ids and summary["episodes"] == len(source)
    language = set(source.meta["labels"]["subgoal"]) - {"none"}
    assert not language & set(json.dumps(coded.meta["labels"]).split('"'))
    for rid in coded.ids:
        a, b = coded.load(rid), source.load(rid)
        assert np.array_equal(a["actions"], b["actions"])
        assert np.array_equal(a["obs/image"], b["obs/image"])
        steps = len(a["actions"])
        starts = np.arange(0, steps, 3)
        assert np.flatnonzero(a["label/start"]).tolist() == starts.tolist()
        assert np.flatnonzero(a["label/finished"]).tolist() == \
            [min(s + 3, steps) - 1 for s in starts]
        assert np.array_equal(a["label/subgoal"], a["label/phrase"])
        for s in starts:  # one code per chunk
            assert len(set(a["label/subgoal"][s:s + 3].tolist())) == 1
        assert a["label/subgoal"].min() >= 0 and a["label/subgoal"].max() < 3
    policy, meta = load_policy(out / "low" / "policy")
    assert meta["kind"] == "babyai" and {"code", "one", "three"} <= set(policy.vocab)
    heads = torch.load(out / "low" / "policy" / "aux_heads.pt", weights_only=False)
    assert heads["state_dict"]["label_finished.weight"].shape == (2, policy.features_dim)


def test_the_input_labels_are_never_read(demos, learned, tmp_path):
    scrambled = bot_demos(tmp_path / "scrambled", episodes=4, scramble=7)
    a, b = TrajectoryDataset(scrambled), TrajectoryDataset(demos)
    assert not np.array_equal(np.concatenate([a.load(i)["label/start"] for i in a.ids]),
                              np.concatenate([b.load(i)["label/start"] for i in b.ids]))
    learn_latent(scrambled, tmp_path / "out", LatentConfig(**dict(TINY, rounds=1)), log=_quiet)
    first = np.load(learned[0] / "low" / "codes-01.npy")
    assert np.array_equal(np.load(tmp_path / "out" / "low" / "codes-01.npy"), first)


def test_e_step_never_lowers_the_likelihood(learned):
    loglik = np.array([[-1.0, -2.0, -1.0], [-3.0, -0.5, -0.5], [-2.0, -2.0, -9.0]])
    codes = np.array([2, 2, 1])
    new = reassign(loglik, codes)
    assert new.tolist() == [2, 2, 1]  # ties keep the current code
    assert reassign(loglik, np.array([1, 0, 2])).tolist() == [0, 1, 0]
    out, _ = learned
    rounds = [json.loads(line) for line in (out / "low" / "log.jsonl").read_text().splitlines()]
    em = [r for r in rounds if r["round"] >= 1]
    assert [r["round"] for r in em] == [1, 2]
    for r in em:
        assert r["loglik"] >= r["loglik_before"] - 1e-9
        assert sum(r["usage"]) == rounds[0]["chunks"] and 0 <= r["reassigned"] <= 1


@pytest.mark.slow
def test_two_alternating_behaviours_are_recovered(tmp_path):
    path, rules = two_rule_demos(tmp_path / "rules", episodes=24, segments=6, segment=4)
    config = LatentConfig(codes=2, segment=4, rounds=2, epochs=15, lr=3e-3, recurrent=False)
    learn_latent(path, tmp_path / "out", config, log=_quiet)
    codes = _codes(tmp_path / "out")
    found = np.concatenate([codes[f"rules/{e}"] for e in range(len(rules))])
    truth = np.concatenate(rules)
    agreement = max((found == truth).mean(), (found != truth).mean())  # up to the codes' names
    assert agreement >= 0.9  # chance: 0.5
    log = [json.loads(line) for line in (tmp_path / "out" / "low" / "log.jsonl").open()]
    assert log[-1]["loglik"] > -0.2  # the rules' actions are predictable given the code


def test_resume_after_an_interrupted_round_gives_the_same_result(demos, learned, tmp_path):
    from safetensors.torch import load_file

    def stop(r):
        if r == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learn_latent(demos, tmp_path / "out", LatentConfig(**TINY), log=_quiet, on_round=stop)
    assert (tmp_path / "out" / "low" / "codes-01.npy").exists()
    assert not (tmp_path / "out" / "dataset").exists()
    summary = learn_latent(demos, tmp_path / "out", LatentConfig(**TINY), resume=True,
                           log=_quiet)
    assert summary["usage"] == learned[1]["usage"]
    a, b = _codes(tmp_path / "out"), _codes(learned[0])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    wa = load_file(str(tmp_path / "out" / "low" / "policy" / "model.safetensors"))
    wb = load_file(str(learned[0] / "low" / "policy" / "model.safetensors"))
    assert all(np.array_equal(wa[k].numpy(), wb[k].numpy()) for k in wa)


def test_cli_latent_and_report(demos, tmp_path):
    out = tmp_path / "cli"
    result = invoke(["hrl", "latent", str(demos), "--codes", "2", "--rounds", "1", "--epochs",
                     "1", "--out-dir", str(out), "--report", "-q"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r.get("round") for r in records[:2]] == [0, 1]
    report = records[-1]
    assert report["codes"] == 2 and 0 < report["purity"] <= 1 and 0 <= report["nmi"] <= 1
    assert report == evaluate_codes(out, demos)
    again = invoke(["hrl", "latent", str(demos), "--codes", "2", "--rounds", "1", "--out-dir",
                    str(out), "-q"])
    assert again.exit_code != 0 and "--resume" in again.stderr
