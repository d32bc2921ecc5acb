"""core.learn.evaluate: held-out episodes of a policy folder, the same for any worker count."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    from papertools.core.envs import make_env
    from papertools.core.learn.policies import make_policy, save_policy

    torch.manual_seed(0)
    env = make_env("babyai/GoToLocal")
    policy = make_policy(env.observation_space, env.action_space)
    env.close()
    return save_policy(tmp_path_factory.mktemp("eval") / "policy", policy,
                       {"env": "babyai/GoToLocal"})


def test_evaluate_is_seeded_and_worker_independent(policy_dir):
    from papertools.core.learn.evaluate import evaluate_policy, evaluation_seeds

    one = evaluate_policy(policy_dir, "babyai/GoToLocal", 4, seed=3, max_steps=30)
    two = evaluate_policy(policy_dir, "babyai/GoToLocal", 4, seed=3, max_steps=30, workers=2,
                          engine="process")
    assert one == two
    assert [r["seed"] for r in one["records"]] == evaluation_seeds(3, 4)
    assert evaluation_seeds(3, 4) != evaluation_seeds(4, 4)
    for r in one["records"]:
        assert 1 <= r["length"] <= 30
        assert r["success"] == (r["return"] > 0)  # BabyAI: a positive reward ends the mission
    assert one["success"] == sum(r["success"] for r in one["records"]) / 4

