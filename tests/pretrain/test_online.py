"""pretrain's online arms (cli/pretrain/online.py): what each arm's PPO run is, and a real run
of the encoder arms from a policy folder, resumed exactly after Ctrl-C."""

from __future__ import annotations

import os
import signal

import orjson
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

from papertools.cli.pretrain.online import ARMS, OnlineConfig, ppo_config, run_arm  # noqa: E402
from papertools.core.errors import PapertoolsError  # noqa: E402

TINY = OnlineConfig(frames=4 * 2 * 32, n_envs=2, n_steps=32)


def _encoder(path, **kw):
    """A policy folder of the online network's kind (what ``pretrain encoder`` writes)."""
    from papertools.core.envs import make_env
    from papertools.core.learn.policies import make_policy, save_policy

    env = make_env("minigrid/MultiRoom-N2-S4")
    torch.manual_seed(7)
    save_policy(path, make_policy(env.observation_space, env.action_space, "babyai", **kw))
    env.close()
    return path


def test_arms_differ_only_in_start_freezing_and_reward(tmp_path):
    dirs = {"encoder": str(_encoder(tmp_path / "enc" / "policy").parent),
            "progress": str(tmp_path)}
    configs = {arm: ppo_config("multiroom", arm, 3, dirs, TINY) for arm in ARMS}
    assert configs["scratch"].init_from is None and not configs["scratch"].progress
    assert configs["encoder-frozen"].freeze_torso and configs["encoder-frozen"].init_from == str(
        tmp_path / "enc" / "policy")
    assert not configs["encoder-finetune"].freeze_torso
    assert configs["progress"].progress == {"path": str(tmp_path), "alpha": 0.003, "k": 8}
    assert configs["both"].init_from and configs["both"].progress
    assert not configs["both"].freeze_torso
    frozen = OnlineConfig(both_encoder="frozen")
    assert ppo_config("multiroom", "both", 0, dirs, frozen).freeze_torso
    shared = {"env", "total_frames", "n_envs", "n_steps", "seed", "policy", "policy_kwargs"}
    for c in configs.values():
        assert {k: getattr(c, k) for k in shared} == {k: getattr(configs["scratch"], k)
                                                      for k in shared}


def test_arms_refuse_missing_inputs():
    with pytest.raises(PapertoolsError, match="needs a pre-trained encoder"):
        ppo_config("multiroom", "encoder-frozen", 0, {}, TINY)
    with pytest.raises(PapertoolsError, match="needs a progress model"):
        ppo_config("multiroom", "progress", 0, {"encoder": "x"}, TINY)
    with pytest.raises(PapertoolsError, match="holds no policy folder"):
        ppo_config("multiroom", "both", 0, {"encoder": "x", "progress": "y"}, TINY)
    with pytest.raises(PapertoolsError, match="unknown arm"):
        ppo_config("multiroom", "curiosity", 0, {}, TINY)
    with pytest.raises(PapertoolsError, match="unknown task"):
        ppo_config("lavacrossing", "scratch", 0, {}, TINY)


@pytest.mark.slow
def test_encoder_arm_resumes_exactly(tmp_path):
    from safetensors.torch import load_file

    dirs = {"encoder": str(_encoder(tmp_path / "enc"))}
    whole = run_arm("multiroom", "encoder-finetune", 1, {**dirs, "run": tmp_path / "whole"},
                    TINY, echo=lambda r: None)
    assert whole["arm"] == "encoder-finetune" and whole["frames"] > 0

    def interrupt(record):
        if record["update"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        run_arm("multiroom", "encoder-finetune", 1, {**dirs, "run": tmp_path / "parts"}, TINY,
                echo=interrupt)
    run_arm("multiroom", "encoder-finetune", 1, {**dirs, "run": tmp_path / "parts"}, TINY,
            resume=True, echo=lambda r: None)
    a = load_file(str(tmp_path / "whole" / "policy" / "model.safetensors"))
    b = load_file(str(tmp_path / "parts" / "policy" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [orjson.loads(x) for x in (tmp_path / "parts" / "log.jsonl").read_bytes().splitlines()]
    assert [r["update"] for r in log] == [1, 2, 3, 4]
    assert all({"frames", "success", "return"} <= set(r) for r in log)
