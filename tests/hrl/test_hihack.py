"""HiHack's strategy-headed policy and its cloning on real recorded NetHack games (nhrecord's
symbolic agent, real NLE, real torch): one head per step, where the gradients go, the oracle,
matched sizes, the policy folder in bench, learning above chance, the game evaluation."""

from __future__ import annotations

import orjson
import pytest

from tests.helpers import invoke

torch = pytest.importorskip("torch")
pytest.importorskip("nle")

TTY = ("tty_chars", "tty_colors", "tty_cursor")
TINY = dict(hidden=16, head_hidden=8, embed_dim=8)  # a network that runs in milliseconds


@pytest.fixture(scope="module")
def games(tmp_path_factory, private_cache):
    """Four recorded games of up to 300 steps, and their conversion."""
    from papertools.cli.hrl.hihack import prepare_dataset
    from papertools.core.trajectories import TrajectoryDataset

    root = tmp_path_factory.mktemp("hihack") / "games"
    run = invoke(["nhrecord", "record", "--episodes", "4", "--max-steps", "300", "--seed", "3",
                  "--out-dir", str(root), "-q"])
    assert run.exit_code == 0, run.stderr
    return root, TrajectoryDataset(prepare_dataset(root))


@pytest.fixture(scope="module")
def batch(games):
    """A real [2, 12] batch of screens with strategy labels."""
    _, data = games
    b = next(iter(data.batches(data.ids[:2], 12, 2, seed=0, obs_keys=TTY)))
    return b


def make(data, **kw):
    from papertools.core.learn.bc import _make_policy, BCConfig

    torch.manual_seed(0)
    return _make_policy(data.meta, BCConfig(policy="hihack", policy_kwargs=dict(TINY, **kw),
                                            obs_keys=list(TTY)))


def obs_of(batch, strategy=False):
    obs = {k: torch.as_tensor(v) for k, v in batch["obs"].items()}
    if strategy:
        obs["strategy"] = torch.as_tensor(batch["labels"]["strategy"], dtype=torch.long)
    return obs


def test_strategy_classes_equal_the_label_range(games):
    from papertools.core.nethack import strategies

    _, data = games
    vocab = data.meta["labels"]["strategy"]
    assert len(vocab) == strategies.NUM_CLASSES == 13
    assert [strategies.ordinal(name) + 1 for name in vocab] == list(range(13))  # -1..11, +1
    policy = make(data)
    assert policy.n_strategies == 13 and policy.strategy_head.out_features == 13
    assert len(policy.heads) == 13


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_exactly_one_head_per_step(games, batch, mode):
    _, data = games
    policy = make(data)
    getattr(policy, mode)()
    obs, first = obs_of(batch), torch.as_tensor(batch["first"])
    logits, _, _, features, strategy_logits, chosen = policy.forward_sequence(
        obs, None, first, return_features=True, return_strategy=True)
    every = torch.stack([head(features) for head in policy.heads], -2)  # [B,T,S,A]
    picked = every.gather(-2, chosen[..., None, None].expand(-1, -1, 1, every.shape[-1]))
    assert torch.allclose(logits, picked[..., 0, :])  # the logits of one head, not a mixture
    choice = policy.choose(strategy_logits)
    assert torch.equal(choice.sum(-1), torch.ones(choice.shape[:-1]))  # one-hot
    assert set(choice.unique().tolist()) <= {0.0, 1.0}
    if mode == "eval":  # the most likely strategy
        assert torch.equal(chosen, strategy_logits.argmax(-1))


def _strategy_grad(policy, batch, coef):
    """The gradient of the strategy head's weight under BC's loss (action CE + coef * CE)."""
    from torch.nn import functional as F

    policy.train()
    torch.manual_seed(1)
    mask = torch.as_tensor(batch["mask"])
    logits, _, _, labels = policy.forward_sequence(obs_of(batch), None,
                                                   torch.as_tensor(batch["first"]),
                                                   return_labels=True)
    actions = torch.as_tensor(batch["actions"], dtype=torch.long)
    target = torch.as_tensor(batch["labels"]["strategy"], dtype=torch.long)
    loss = F.cross_entropy(logits[mask], actions[mask]) \
        + coef * F.cross_entropy(labels["strategy"][mask], target[mask])
    policy.zero_grad()
    loss.backward()
    grad = policy.strategy_head.weight.grad
    return torch.zeros_like(policy.strategy_head.weight) if grad is None else grad


def test_gradients_reach_the_strategy_head(games, batch):
    _, data = games
    # with a strategy coefficient: from the strategy CE, with or without straight-through
    for straight in (True, False):
        assert _strategy_grad(make(data, straight_through=straight), batch, 1.0).abs().sum() > 0
    # coefficient 0, HiHack's code (the hard choice cast to booleans): no gradient at all
    assert _strategy_grad(make(data, straight_through=False), batch, 0.0).abs().sum() == 0
    # coefficient 0, straight-through (the default): the action CE alone reaches it
    assert _strategy_grad(make(data, straight_through=True), batch, 0.0).abs().sum() > 0


@pytest.mark.slow
def test_coef_zero_trains_on_the_action_loss_alone(games, tmp_path):
    """Through bc.py: with the coefficient 0 and HiHack's detached choice the strategy head
    never moves while the rest trains; with a coefficient it moves."""
    from papertools.core.learn.bc import BCConfig, train_bc
    from papertools.core.learn.policies import load_policy

    from papertools.cli.hrl.hihack import GameSplit

    _, data = games
    split = GameSplit(data, data.ids[:1], data.ids[1:2])
    moved = {}
    for coef in (0.0, 1.0):
        config = BCConfig(policy="hihack", policy_kwargs=dict(TINY, straight_through=False),
                          policy_labels={"strategy": coef}, obs_keys=list(TTY), epochs=1,
                          seq_len=16, batch_size=4, log_every=1000)
        torch.manual_seed(config.seed)
        start = make(data, straight_through=False).state_dict()
        train_bc(config, split, tmp_path / f"coef-{coef}", log=lambda record: None)
        end = load_policy(tmp_path / f"coef-{coef}" / "policy")[0].state_dict()
        moved[coef] = {k: not torch.equal(start[k], end[k]) for k in start}
    assert not moved[0.0]["strategy_head.weight"] and not moved[0.0]["strategy_head.bias"]
    assert moved[0.0]["core.weight_ih"] and any(v for k, v in moved[0.0].items()
                                                if k.startswith("heads."))
    assert moved[1.0]["strategy_head.weight"]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_oracle_uses_the_given_strategy(games, batch, mode):
    _, data = games
    policy = make(data, oracle=True)
    getattr(policy, mode)()
    obs = obs_of(batch, strategy=True)
    given = obs["strategy"].clone()
    given[0, 0] = -1  # unlabelled: the policy's own choice
    obs["strategy"] = given
    *_, strategy_logits, chosen = policy.forward_sequence(obs, None,
                                                          torch.as_tensor(batch["first"]),
                                                          return_strategy=True)
    known = given >= 0
    assert torch.equal(chosen[known], given[known])
    if mode == "eval":
        assert chosen[0, 0] == strategy_logits[0, 0].argmax()
    with pytest.raises(ValueError, match="strategy"):
        policy.forward_sequence(obs_of(batch), None, torch.as_tensor(batch["first"]))


@pytest.mark.parametrize("sizes", [dict(hidden=256, head_hidden=256), dict(TINY)])
def test_matched_parameter_counts(games, sizes):
    from papertools.core.learn.bc import BCConfig, _make_policy
    from papertools.core.learn.hihack_net import matched_flat_kwargs

    _, data = games
    n_actions = len(data.meta["actions"]["keys"])
    hier = _make_policy(data.meta, BCConfig(policy="hihack", policy_kwargs=sizes))
    flat_kwargs = matched_flat_kwargs(n_actions, **sizes)
    flat = _make_policy(data.meta, BCConfig(policy="nethack", policy_kwargs=flat_kwargs))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert abs(count(hier) - count(flat)) / count(hier) < 0.05
    assert not hasattr(hier, "actor") and flat.kwargs["head_hidden"] > sizes["head_hidden"]


def test_policy_folder_round_trip(games, batch, tmp_path):
    from papertools.core.learn.policies import load_policy, save_policy

    _, data = games
    policy = make(data, tau=0.5, eval_strategy="argmax").eval()
    save_policy(tmp_path / "p", policy, {"env": data.meta["env"]})
    loaded, meta = load_policy(tmp_path / "p")
    assert meta["kind"] == "hihack" and type(loaded).__name__ == "HiHackPolicy"
    assert loaded.tau == 0.5 and not loaded.training
    obs, first = obs_of(batch), torch.as_tensor(batch["first"])
    with torch.no_grad():
        assert torch.equal(policy.forward_sequence(obs, None, first)[0],
                           loaded.forward_sequence(obs, None, first)[0])


def test_split_games_nests_and_holds_out_the_same_games(games):
    from papertools.cli.hrl.hihack import split_games

    _, data = games
    small, valid_small = split_games(data, 1, 1)
    large, valid_large = split_games(data, 3, 1)
    assert valid_small == valid_large and len(valid_small) == 1
    assert large[:1] == small and not set(large) & set(valid_large)
    from papertools.core.errors import PapertoolsError

    with pytest.raises(PapertoolsError, match="training games"):
        split_games(data, 4, 1)


def test_summarise_hand_computed():
    from papertools.cli.hrl.hihack import summarise

    games = [{"score": s, "depth": d, "steps": 10, "seconds": 0.5}
             for s, d in [(0, 1), (10, 1), (20, 2), (30, 3), (100, 3)]]
    row = summarise(games, seed=0, reps=500)
    assert (row["median"], row["q1"], row["q3"], row["mean"]) == (20.0, 10.0, 30.0, 32.0)
    assert row["median_ci"][0] <= 20 <= row["median_ci"][1]
    assert row["median_ci"] == summarise(games, seed=0, reps=500)["median_ci"]  # seeded
    assert row["depth"] == 2 and row["steps_per_s"] == 20.0


@pytest.mark.slow
def test_clone_learns_above_chance_and_plays_in_bench(games, tmp_path):
    """hrl clone on three games learns the held-out game's actions far above a uniform
    policy's 1/121; the policy folder plays in bench run and in hrl eval."""
    root, data = games
    run = invoke(["hrl", "clone", str(root), "--model", "hier", "--games", "3", "--valid-games",
                  "1", "--epochs", "4", "--hidden", "32", "--head-hidden", "16", "--seq-len",
                  "16", "--batch-size", "8", "--lr", "3e-3", "--out-dir", str(tmp_path / "hier"),
                  "-q"])
    assert run.exit_code == 0, run.stderr
    last = orjson.loads(run.stdout.splitlines()[-1])
    n_actions = len(data.meta["actions"]["keys"])
    assert last["accuracy"]["all"]["accuracy"] > 10 / n_actions  # ten times chance
    assert last["accuracy"]["all"]["steps"] > 0 and "explore" in last["accuracy"]
    policy = tmp_path / "hier" / "policy"

    bench = invoke(["bench", "run", "--env", "nle/NetHackChallenge-v0", "--agent", "policy",
                    "--policy", str(policy), "--episodes", "1", "--max-steps", "20",
                    "--out-dir", str(tmp_path / "bench"), "-q"])
    assert bench.exit_code == 0, bench.stderr

    ev = invoke(["hrl", "eval", "--policy", str(policy), "--expert", "--random", "--episodes",
                 "2", "--max-steps", "25", "--seed", "4", "--json", "-q"])
    assert ev.exit_code == 0, ev.stderr
    rows = [orjson.loads(line) for line in ev.stdout.splitlines()]
    assert [r["agent"] for r in rows] == ["policy", "expert", "random"]
    for r in rows:
        assert len(r["scores"]) == 2 and r["q1"] <= r["median"] <= r["q3"]
        assert r["mean_steps"] <= 25


def test_eval_needs_an_agent():
    run = invoke(["hrl", "eval", "--episodes", "1"])
    assert run.exit_code != 0 and "--policy, --expert or --random" in run.stderr


def test_clone_rejects_oracle_on_flat(games, tmp_path):
    root, _ = games
    run = invoke(["hrl", "clone", str(root), "--model", "flat", "--oracle", "--epochs", "1",
                  "--out-dir", str(tmp_path / "x"), "-q"])
    assert run.exit_code != 0 and "oracle" in run.stderr


def test_eval_seeds_are_not_recording_seeds():
    from papertools.cli.hrl.hihack import eval_seeds

    seeds = eval_seeds(0, 50)
    assert len(set(seeds)) == 50 and seeds == eval_seeds(0, 50) and seeds != eval_seeds(1, 50)
