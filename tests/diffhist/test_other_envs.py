"""Text observations from other environments (BabyAI's text, TextWorld's) encode the same way."""

import pytest

from tests.helpers import invoke, jsonl

pytest.importorskip("minigrid")


def _episode(env_name: str, seed: int, steps: int = 12) -> list[dict]:
    from papertools.core.envs import make_text_env

    env = make_text_env(env_name, seed=seed)
    obs = env.reset()
    bot = env.bot()
    records = []
    for t in range(steps):
        action = bot.act()
        text = obs.text + ("\n" + obs.short if obs.short else "")
        obs, reward, done, _ = env.step(action)
        records.append({"id": f"{env_name}-{seed}:{t}", "episode": f"{env_name}-{seed}",
                        "step": t, "obs": text, "action": action, "reward": float(reward),
                        "done": bool(done)})
        if done:
            break
    return records


@pytest.mark.parametrize("env_name", ["babyai/goto", "babyai/pick_up_seq_go_to"])
def test_babyai_text_round_trips_and_compresses(env_name):
    records = _episode(env_name, 1) + _episode(env_name, 2)
    assert len(records) > 4
    encoded = invoke(["diffhist", "encode", "-q"], input=jsonl(records))
    assert encoded.exit_code == 0
    assert sum(r["obs_full"] for r in encoded.records) == 2
    decoded = invoke(["diffhist", "decode", "-q"], input=encoded.stdout)
    assert decoded.records == records
    stats = invoke(["diffhist", "stats", "--json"], input=jsonl(records)).records[-1]
    assert stats["steps"] == len(records) and stats["tokens_diff"] > 0
