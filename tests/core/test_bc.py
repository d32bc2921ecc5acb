"""Behavioural cloning: it learns actions that only the observations explain, its label heads
learn their labels, and a run killed and resumed ends as one never interrupted."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

torch = pytest.importorskip("torch")

from papertools.core.errors import PapertoolsError  # noqa: E402
from papertools.core.learn.bc import BCConfig, train_bc  # noqa: E402

N_INV, N_ACTIONS, SIZE = 4, 4, 16


def rule(image, inventory) -> int:
    """The demonstrator: the inventory's full slot, shifted by two when the image is bright."""
    return (int(np.argmax(inventory)) + 2 * int(image.mean() > 127)) % N_ACTIONS


def write_dataset(path, episodes: int = 64, seed: int = 0):
    """A trajectory dataset of random observations whose actions follow :func:`rule`, with a
    per-step label ("half": whether the action is 2 or 3)."""
    from papertools.core.trajectories import TrajectoryWriter

    rng = np.random.default_rng(seed)
    meta = {"env": "synthetic", "observation": {
        "image": {"dtype": "uint8", "shape": [SIZE, SIZE, 3]},
        "inventory": {"dtype": "int64", "shape": [N_INV]}}, "labels": {"half": ["low", "high"]}}
    with TrajectoryWriter(path, meta) as out:
        for e in range(episodes):
            length = int(rng.integers(6, 15))
            bright = rng.random(length + 1) < 0.5
            images = np.where(bright[:, None, None, None], 200, 40).astype(np.uint8) \
                + rng.integers(0, 30, (length + 1, SIZE, SIZE, 3), dtype=np.uint8)
            inventory = 5 * np.eye(N_INV, dtype=np.int64)[rng.integers(0, N_INV, length + 1)]
            actions = np.array([rule(images[t], inventory[t]) for t in range(length)], np.int64)
            dones = np.zeros(length, bool)
            dones[-1] = True
            out.add({"id": f"ep-{e}", "env": "synthetic", "seed": e, "length": length,
                     "return": 0.0, "success": True},
                    {"obs/image": images, "obs/inventory": inventory, "actions": actions,
                     "rewards": np.zeros(length, np.float32), "dones": dones,
                     "truncated": np.zeros(length, bool),
                     "label/half": (actions // 2).astype(np.int32)})
    return path


def spaces():
    import gymnasium

    obs = gymnasium.spaces.Dict({
        "image": gymnasium.spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8),
        "inventory": gymnasium.spaces.Box(0, 100, (N_INV,), np.int64)})
    return obs, gymnasium.spaces.Discrete(N_ACTIONS)


def new_policy(seed=0, **kw):
    from papertools.core.learn.policies import make_policy

    torch.manual_seed(seed)
    return make_policy(*spaces(), kind="crafter", hidden=64, **kw)


def records(run_dir) -> list[dict]:
    return [orjson.loads(line) for line in (run_dir / "log.jsonl").read_bytes().splitlines()]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    torch.set_num_threads(1)
    return write_dataset(tmp_path_factory.mktemp("bc") / "demos")


def test_bc_learns_the_demonstrator_and_its_label_head(dataset, tmp_path):
    config = BCConfig(seq_len=8, batch_size=4, epochs=6, lr=3e-3, valid_fraction=0.25,
                      aux_labels={"half": 0.5}, log_every=1000)
    summary = train_bc(config, dataset, tmp_path / "run", policy=new_policy(), log=lambda r: None)
    assert summary["finished"] and summary["valid_episodes"] == 16
    valid = [r for r in records(tmp_path / "run") if r.get("valid")]
    assert [r["epoch"] for r in valid] == list(range(1, 7))
    # chance is 0.25 (0.5 for the label): only the observations explain the actions
    assert valid[-1]["valid_accuracy"] >= 0.9, valid
    assert valid[-1]["valid_half_accuracy"] >= 0.9, valid
    assert valid[-1]["valid_loss"] < valid[0]["valid_loss"]

    from papertools.core.learn.policies import load_policy

    policy, meta = load_policy(tmp_path / "run" / "policy")
    assert meta["trained_by"] == "bc" and meta["kind"] == "crafter"
    heads = torch.load(tmp_path / "run" / "policy" / "aux_heads.pt", weights_only=False)
    assert heads["labels"] == {"half": ["low", "high"]}
    rng = np.random.default_rng(99)  # fresh observations, never seen in training
    images = rng.choice([40, 200], 64)[:, None, None, None].astype(np.uint8) \
        + rng.integers(0, 30, (64, SIZE, SIZE, 3), dtype=np.uint8)
    inventory = 5 * np.eye(N_INV, dtype=np.int64)[rng.integers(0, N_INV, 64)]
    actions, _ = policy.act({"image": images, "inventory": inventory}, deterministic=True)
    expected = [rule(images[i], inventory[i]) for i in range(64)]
    assert np.mean(actions.numpy() == np.array(expected)) >= 0.9


class Interrupt:
    """The dataset's batches, with Ctrl-C arriving before batch ``at`` of the first epoch."""

    def __init__(self, dataset, at: int):
        from papertools.core.trajectories import TrajectoryDataset

        self.data, self.at, self.calls = TrajectoryDataset(dataset), at, 0

    def __call__(self, *args):
        self.calls += 1
        for k, batch in enumerate(self.data.batches(*args)):
            if self.calls == 1 and k == self.at:
                raise KeyboardInterrupt
            yield batch


def test_bc_resume_is_exact(dataset, tmp_path):
    # a recurrent policy, so the carried state is part of what must resume exactly
    config = BCConfig(seq_len=4, batch_size=6, epochs=2, lr=1e-3, valid_fraction=0.2,
                      aux_labels={"half": 1.0}, log_every=2, save_every=4)
    whole = new_policy(recurrent=True)
    train_bc(config, dataset, tmp_path / "a", policy=whole, log=lambda r: None)

    cut = new_policy(recurrent=True)
    with pytest.raises(KeyboardInterrupt):
        train_bc(config, dataset, tmp_path / "b", policy=cut, batches_fn=Interrupt(dataset, 7),
                 log=lambda r: None)
    assert (tmp_path / "b" / "checkpoint").exists()
    resumed = new_policy(seed=5, recurrent=True)  # other weights: the checkpoint's must win
    train_bc(config, dataset, tmp_path / "b", resume=True, policy=resumed, log=lambda r: None)

    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name

    def plain(run):
        return [{k: v for k, v in r.items() if k != "frames_per_s"} for r in records(run)]

    assert plain(tmp_path / "a") == plain(tmp_path / "b")


def test_bc_resume_refuses_other_settings(dataset, tmp_path):
    config = BCConfig(seq_len=8, batch_size=8, epochs=1, valid_fraction=0.2)
    train_bc(config, dataset, tmp_path / "run", policy=new_policy(), log=lambda r: None)
    with pytest.raises(PapertoolsError, match="lr"):
        train_bc(BCConfig(seq_len=8, batch_size=8, epochs=1, valid_fraction=0.2, lr=1e-2),
                 dataset, tmp_path / "run", resume=True, policy=new_policy(), log=lambda r: None)
    with pytest.raises(PapertoolsError, match="no per-step labels"):
        train_bc(BCConfig(aux_labels={"strategy": 1.0}), dataset, tmp_path / "other",
                 policy=new_policy(), log=lambda r: None)


def test_text_labels_become_per_step_text_and_reset_label_resets():
    """``text_labels`` puts each step's label string into the observation (padding: ""), and
    ``reset_label`` marks ``first`` where that label is 1."""
    from papertools.core.learn.bc import _tensors

    batch = {"obs": {"image": np.zeros((2, 3, 1), np.uint8)},
             "actions": np.zeros((2, 3), np.int64), "mask": np.ones((2, 3), bool),
             "first": np.array([[True, False, False], [False, False, False]]),
             "labels": {"phrase": np.array([[0, 1, 1], [1, 0, -1]], np.int32),
                        "start": np.array([[1, 1, 0], [0, 0, 1]], np.int32)},
             "episode": {"mission": ["go", "go"]}}
    config = BCConfig(text_labels={"mission": "phrase"}, reset_label="start")
    labels = {"phrase": ["open the door", "go to the key"], "start": ["no", "yes"]}
    obs, _, _, first = _tensors(batch, "cpu", labels, config)
    assert obs["mission"] == [["open the door", "go to the key", "go to the key"],
                              ["go to the key", "open the door", ""]]
    assert first.tolist() == [[True, True, False], [False, False, True]]
