"""The high level's cloning on segment starts."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from papertools.core.learn.hierarchy import HierarchicalPolicy
from papertools.core.learn.policies import load_policy
from papertools.core.trajectories import TrajectoryDataset
from papertools.cli.hrl.high import HighConfig, load_starts, train_high

from ._fixtures import make_dataset, train_low

SMALL = {"channels": 8, "features": 32, "head_hidden": 32, "text_hidden": 32, "words": 16}


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("high")
    data = make_dataset(root / "demos", "GoToLocal", episodes=150)
    return data, train_low(data, root / "low", epochs=1)


def test_segment_starts_are_the_first_step_and_every_labelled_start(demos):
    data = TrajectoryDataset(demos[0])
    eid = data.ids[0]
    arrays = data.load(eid)
    starts = load_starts(data, [eid])[0]
    assert len(starts["subgoal"]) == 1 + int(arrays["label/start"][1:].sum())
    assert starts["mission"] == data.record(eid)["mission"]


@pytest.mark.slow
def test_high_cloning_beats_the_majority_subgoal_on_held_out_episodes(demos, tmp_path):
    data, low = demos
    config = HighConfig(epochs=15, batch_size=16, lr=3e-3, valid_fraction=0.3, recurrent=False,
                        policy_kwargs=SMALL)
    summary = train_high(data, low, tmp_path / "run", config, log=lambda r: None)
    ds = TrajectoryDataset(data)
    _, valid_ids = ds.split(0.3, 0)
    labels = [int(i) for ep in load_starts(ds, valid_ids) for i in ep["subgoal"]]
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    assert summary["valid_accuracy"] > majority + 0.1, (summary, majority)
    policy, meta = load_policy(tmp_path / "run" / "policy")
    assert isinstance(policy, HierarchicalPolicy) and meta["kind"] == "hierarchy"
    assert len(policy.subgoals) == summary["classes"]
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == list(range(1, 16))


def test_an_interrupted_high_run_resumes_to_the_same_weights(demos, tmp_path):
    from safetensors.torch import load_file

    data, low = demos
    config = HighConfig(epochs=2, batch_size=32, policy_kwargs=SMALL, valid_fraction=0.2)
    train_high(data, low, tmp_path / "full", config, log=lambda r: None)

    def stop(record):  # Ctrl-C as the first epoch's record is written
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_high(data, low, tmp_path / "part", config, log=stop)
    assert (tmp_path / "part" / "checkpoint").exists()
    train_high(data, low, tmp_path / "part", config, resume=True, log=lambda r: None)
    a = load_file(str(tmp_path / "full" / "policy" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "policy" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logs = [(tmp_path / d / "log.jsonl").read_text().count("\n") for d in ("full", "part")]
    assert logs == [2, 2]

