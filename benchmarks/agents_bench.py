#!/usr/bin/env python
"""agents benchmark (issue 18): the project's PPO against stable-baselines3's, same network.

PPO on MiniGrid-DoorKey-5x5 (and BabyAI-GoToLocal with --babyai) for a fixed frame budget,
5 seeds, each seed trained by both implementations with the same hyperparameters and network:

- ours: ``papertools.core.learn.ppo.train_ppo`` with the "babyai" policy (grid embeddings, two
  3x3 convolutions with FiLM from the mission's word GRU, actor and critic heads of one tanh
  layer of 64), over a gymnasium SyncVectorEnv of ``gymnasium.make(id)`` (next-step autoreset);
- SB3: ``stable_baselines3.PPO("MultiInputPolicy")`` over a DummyVecEnv of the same envs, the
  same encoder as its features extractor (``BabyAIEncoder``; the mission given as padded word
  ids, each distinct mission encoded once per batch as ours does), ``net_arch`` pi [64] vf [64]
  tanh, orthogonal initialisation as ours, Adam eps 1e-5, the learning rate annealed linearly to
  0, advantages normalised per minibatch, value loss unclipped (both: the mean squared error
  times vf_coef).

Shared settings: 8 envs x 128 steps, 4 epochs of 4 minibatches, lr 2.5e-4, gamma 0.99, GAE
0.95, clip 0.2, entropy 0.01, value 0.5, gradient norm 0.5. Seeds run as separate processes, two
at a time (ours and SB3 on the same seed side by side), one torch thread each. Frames/s:
environment transitions over the CPU time (the process's user + system time, one thread) of the
whole training call (``train_ppo`` with its checkpoints and policy folder; ``model.learn``),
which other work on the shared machine does not inflate; the wall-time figure is recorded
beside it. Torch's optimiser module is imported before the clock starts for both (SB3 builds
its optimiser before ``learn``). Final success: the
trained policy (actions sampled) on 100 episodes of held-out seeds (100000 + k), the same
evaluation loop for both. Aggregate: IQM over seeds (``rliable.metrics.aggregate_iqm``) with a
95% stratified-bootstrap interval over seeds (2,000 resamples, seeded:
``core.learn.curves.interval_estimates``, as bench curves).

Goals: our success matches SB3's (our interval reaches SB3's IQM or above); our frames/s at
least 2x SB3's (mean over seeds of ours/SB3 on the same seed, CPU time).

Where the ratio comes from: the environments and the network are the same code in both, so
only the PPO loop's own work can differ. A second row trains a small network (embeddings of
2, 4 channels, a text state of 8, 16 features, heads of 16; 2 seeds x 24,576 frames) on the
same task, so the loop's overhead is a larger share of the time; and the vector env alone
(random actions, no learner) gives the ceiling both loops share.

Usage: python benchmarks/agents_bench.py [--quick] [--strict] [--babyai] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/agents.json (--quick:
2 seeds, 16,384 frames, DoorKey only, results in a temporary folder).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "agents.json"

GOALS = {
    "doorkey_success_matches_sb3": ("goal", ">=", 0.0),
    "doorkey_fps_ratio": ("goal", ">=", 2.0),
    "gotolocal_success_matches_sb3": ("aim", ">=", 0.0),
    "gotolocal_fps_ratio": ("aim", ">=", 2.0),
}

MODES = {
    "full": dict(seeds=5, frames=100_000, eval_episodes=100, envs=("MiniGrid-DoorKey-5x5-v0",),
                 small_seeds=2, small_frames=24_576),
    "quick": dict(seeds=2, frames=16_384, eval_episodes=20, envs=("MiniGrid-DoorKey-5x5-v0",),
                  small_seeds=1, small_frames=8192),
}
HYPER = dict(n_envs=8, n_steps=128, epochs=4, minibatches=4, lr=2.5e-4, gamma=0.99,
             gae_lambda=0.95, clip=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5)
NETS = {"default": (dict(embed=8, channels=16, words=32, text_hidden=64, features=128), 64),
        "small": (dict(embed=2, channels=4, words=8, text_hidden=8, features=16), 16)}
MISSION_WORDS = 16  # SB3's mission box: word ids padded to this length
EVAL_SEED = 100_000


def log(message: str) -> None:
    common.log("agents_bench", message)


# --------------------------------------------------------------------------------------------
# Environments and evaluation


def _gym_name(gym_id: str) -> str:
    family, name = gym_id.split("-", 1)
    return f"{family.lower()}/{name.removesuffix('-v0')}"


def evaluate(act, gym_id: str, episodes: int, wrap=None) -> float:
    """Success rate of ``act(obs) -> action`` over ``episodes`` episodes of seeds 100000 + k."""
    import gymnasium
    import minigrid  # noqa: F401

    env = gymnasium.make(gym_id)
    if wrap is not None:
        env = wrap(env)
    wins = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + k)
        while True:
            obs, reward, term, trunc, _ = env.step(act(obs))
            if term or trunc:
                wins += bool(term and reward > 0)
                break
    env.close()
    return wins / episodes


def env_only_fps(gym_id: str, frames: int) -> float:
    """Frames per CPU second of the same vector env (8 envs) with random actions and no
    learner: the most any PPO loop over it can reach."""
    from papertools.core.learn.ppo import gym_vec_env

    envs = gym_vec_env(gym_id)(HYPER["n_envs"], 0)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = frames // HYPER["n_envs"]
    actions = rng.integers(0, envs.single_action_space.n, (steps, HYPER["n_envs"]))
    c0 = _clock()
    for a in actions:
        envs.step(a)
    cpu = _clock() - c0
    envs.close()
    return steps * HYPER["n_envs"] / cpu


# --------------------------------------------------------------------------------------------
# One training run per process


def _clock() -> float:
    """CPU seconds of this process (user + system)."""
    t = os.times()
    return t.user + t.system


def run_ours(gym_id: str, seed: int, frames: int, episodes: int, net: str) -> dict:
    import torch

    from papertools.core.learn.policies import load_policy
    from papertools.core.learn.ppo import PPOConfig, gym_vec_env, train_ppo

    layers, head = NETS[net]
    config = PPOConfig(env=_gym_name(gym_id), total_frames=frames, seed=seed, threads=1,
                       policy="babyai", policy_kwargs=dict(layers, head_hidden=head), **HYPER)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its lazy imports, untimed
    with tempfile.TemporaryDirectory(prefix="agents-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        t0, c0 = time.perf_counter(), _clock()
        summary = train_ppo(config, run_dir, env_fn=gym_vec_env(gym_id), echo=lambda r: None)
        seconds, cpu = time.perf_counter() - t0, _clock() - c0
        policy, _ = load_policy(run_dir / "policy")
    params = sum(p.numel() for p in policy.parameters())
    torch.manual_seed(seed)

    def act(obs):
        return int(policy.act({"image": torch.from_numpy(obs["image"][None]),
                               "mission": [obs["mission"]]})[0][0])

    return dict(frames=summary["frames"], seconds=seconds, cpu_seconds=cpu,
                fps=summary["frames"] / cpu, wall_fps=summary["frames"] / seconds,
                train_success=summary["success"], success=evaluate(act, gym_id, episodes),
                params=params)


def _sb3_parts(net: str):
    """SB3's observation wrapper and features extractor over our encoder."""
    import gymnasium
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    from papertools.core.learn.policies import BabyAIEncoder, MissionTokens, mission_vocab

    vocab = mission_vocab()
    layers, _ = NETS[net]

    class MissionIds(gymnasium.ObservationWrapper):
        """image as float32 (SB3 would transpose and rescale a uint8 image), the mission as
        padded word ids (SB3 has no text spaces)."""

        def __init__(self, env):
            super().__init__(env)
            self.tokens = MissionTokens(vocab)
            self.observation_space = spaces.Dict({
                "image": spaces.Box(0, 255, (7, 7, 3), np.float32),
                "mission": spaces.Box(0, len(vocab) + 2, (MISSION_WORDS,), np.float32)})

        def observation(self, obs):
            ids, _ = self.tokens([obs["mission"]])
            mission = np.zeros(MISSION_WORDS, np.float32)
            mission[:min(MISSION_WORDS, ids.shape[1])] = ids[0, :MISSION_WORDS]
            return {"image": obs["image"].astype(np.float32), "mission": mission}

    class Extractor(BaseFeaturesExtractor):
        def __init__(self, observation_space):
            super().__init__(observation_space, features_dim=layers["features"])
            self.encoder = BabyAIEncoder(len(vocab) + 2, **layers)

        def forward(self, obs):
            ids = obs["mission"].long()
            unique, inverse = torch.unique(ids, dim=0, return_inverse=True)
            text = self.encoder.encode_text(unique, (unique != 0).sum(1).clamp(min=1))
            return self.encoder(obs["image"].long(), text[inverse])

    return MissionIds, Extractor


def run_sb3(gym_id: str, seed: int, frames: int, episodes: int, net: str) -> dict:
    import gymnasium
    import minigrid  # noqa: F401
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    MissionIds, Extractor = _sb3_parts(net)
    head = NETS[net][1]
    venv = DummyVecEnv([lambda: MissionIds(gymnasium.make(gym_id))
                        for _ in range(HYPER["n_envs"])])
    lr = HYPER["lr"]
    updates = max(1, frames // (HYPER["n_envs"] * HYPER["n_steps"]))
    model = PPO("MultiInputPolicy", venv, n_steps=HYPER["n_steps"],
                batch_size=HYPER["n_envs"] * HYPER["n_steps"] // HYPER["minibatches"],
                n_epochs=HYPER["epochs"], learning_rate=lambda progress: lr * progress,
                gamma=HYPER["gamma"], gae_lambda=HYPER["gae_lambda"], clip_range=HYPER["clip"],
                ent_coef=HYPER["ent_coef"], vf_coef=HYPER["vf_coef"],
                max_grad_norm=HYPER["max_grad_norm"], normalize_advantage=True, seed=seed,
                device="cpu", verbose=0,
                policy_kwargs=dict(features_extractor_class=Extractor,
                                   net_arch=dict(pi=[head], vf=[head]),
                                   activation_fn=torch.nn.Tanh, ortho_init=True))
    t0, c0 = time.perf_counter(), _clock()
    model.learn(total_timesteps=updates * HYPER["n_envs"] * HYPER["n_steps"])
    seconds, cpu = time.perf_counter() - t0, _clock() - c0
    params = sum(p.numel() for p in model.policy.parameters())
    torch.manual_seed(seed)

    def act(obs):
        return int(model.predict(obs, deterministic=False)[0])

    return dict(frames=int(model.num_timesteps), seconds=seconds, cpu_seconds=cpu,
                fps=model.num_timesteps / cpu, wall_fps=model.num_timesteps / seconds,
                train_success=None,
                success=evaluate(act, gym_id, episodes, wrap=MissionIds), params=params)


def _job(args):
    impl, gym_id, seed, frames, episodes, net = args
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    fn = run_ours if impl == "ours" else run_sb3
    out = fn(gym_id, seed, frames, episodes, net)
    log(f"{gym_id} {net} net, {impl} seed {seed}: success {out['success']:.2f}, "
        f"{out['fps']:.0f} frames per CPU s, {out['wall_fps']:.0f} per wall s "
        f"({out['frames']} frames, {out['seconds']:.0f} s)")
    return dict(impl=impl, env=gym_id, seed=seed, net=net, **out)


# --------------------------------------------------------------------------------------------
# Aggregates


def iqm_ci(scores, reps: int = 2000, seed: int = 0) -> dict:
    """IQM over runs with its 95% stratified-bootstrap interval (core.learn.curves', which the
    curves of bench curves use too)."""
    from rliable import metrics

    from papertools.core.learn.curves import interval_estimates

    x = np.asarray(scores, float)[:, None]
    est, ci = interval_estimates({"runs": x}, lambda s: np.array([metrics.aggregate_iqm(s)]),
                                 reps, seed)
    return dict(iqm=float(est["runs"][0]), ci_low=float(ci["runs"][0][0]),
                ci_high=float(ci["runs"][1][0]))


def summarise(rows: list[dict], gym_id: str, net: str = "default") -> dict:
    out = {}
    for impl in ("ours", "sb3"):
        mine = sorted((r for r in rows if r["env"] == gym_id and r["impl"] == impl
                       and r["net"] == net), key=lambda r: r["seed"])
        out[impl] = dict(success=[r["success"] for r in mine], fps=[r["fps"] for r in mine],
                         wall_fps=[r["wall_fps"] for r in mine],
                         seconds=[r["seconds"] for r in mine], frames=[r["frames"] for r in mine],
                         params=mine[0]["params"], **iqm_ci([r["success"] for r in mine]),
                         mean_fps=float(np.mean([r["fps"] for r in mine])))
    out["fps_ratio"] = float(np.mean([a / b for a, b in zip(out["ours"]["fps"],
                                                            out["sb3"]["fps"])]))
    out["wall_fps_ratio"] = float(np.mean([a / b for a, b in zip(out["ours"]["wall_fps"],
                                                                 out["sb3"]["wall_fps"])]))
    out["success_margin"] = out["ours"]["ci_high"] - out["sb3"]["iqm"]
    return out


def main(argv=None) -> int:
    args, mode, output = common.parse_args(
        __doc__, RESULTS, argv, extra=[("--babyai", "also BabyAI-GoToLocal (as many runs again)")])
    m = dict(MODES[mode])
    if args.babyai:
        m["envs"] = (*m["envs"], "BabyAI-GoToLocal-v0")
    started = time.perf_counter()
    res = {"mode": mode, "machine": common.machine_info(("torch", "gymnasium", "minigrid",
                                                          "stable-baselines3", "rliable")),
           "hyperparameters": HYPER,
           "networks": {k: dict(v[0], head_hidden=v[1]) for k, v in NETS.items()}, **m,
           "command": "python benchmarks/agents_bench.py" + (" --quick" if args.quick else "")
                      + (" --babyai" if args.babyai else "")}
    res["machine"]["busy_cpus_at_start"] = common.busy_cpus(1.0)
    jobs = [(impl, gym_id, seed, m["frames"], m["eval_episodes"], "default")
            for gym_id in m["envs"] for seed in range(m["seeds"]) for impl in ("ours", "sb3")]
    jobs += [(impl, "MiniGrid-DoorKey-5x5-v0", seed, m["small_frames"], m["eval_episodes"],
              "small") for seed in range(m["small_seeds"]) for impl in ("ours", "sb3")]
    res["env_only_fps"] = {g: env_only_fps(g, 16_384) for g in m["envs"]}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, maxtasksperchild=1) as pool:
        rows = pool.map(_job, jobs, chunksize=1)
    res["runs"] = rows
    goals = {}
    for gym_id in m["envs"]:
        key = "doorkey" if "DoorKey" in gym_id else "gotolocal"
        s = res[key] = summarise(rows, gym_id)
        goals[f"{key}_success_matches_sb3"] = common.judge(GOALS, f"{key}_success_matches_sb3",
                                                           s["success_margin"])
        goals[f"{key}_fps_ratio"] = common.judge(GOALS, f"{key}_fps_ratio", s["fps_ratio"])
    res["doorkey_small_net"] = summarise(rows, "MiniGrid-DoorKey-5x5-v0", "small")
    failed = common.finish(res, goals, output, started, print_table)
    return 1 if (args.strict and failed) else 0


def print_table(res: dict, goals: dict) -> None:
    print(f"agents benchmark ({res['mode']}): PPO, ours vs stable-baselines3, {res['seeds']} "
          f"seeds x {res['frames']:,} frames, same network and hyperparameters")
    for key, gym_id in (("doorkey", "MiniGrid-DoorKey-5x5-v0"), ("gotolocal",
                                                                  "BabyAI-GoToLocal-v0"),
                        ("doorkey_small_net", "MiniGrid-DoorKey-5x5-v0, small network, "
                         f"{res['small_seeds']} seeds x {res['small_frames']:,} frames")):
        if key not in res:
            continue
        s = res[key]
        print(f"  {gym_id}:")
        for impl in ("ours", "sb3"):
            r = s[impl]
            print(f"    {impl:<5} success IQM {r['iqm']:.2f} [{r['ci_low']:.2f}, "
                  f"{r['ci_high']:.2f}]  per seed {[round(x, 2) for x in r['success']]}  "
                  f"frames per CPU s {r['mean_fps']:.0f}  ({r['params']:,} parameters)")
        if key in ("doorkey", "gotolocal"):
            print(f"    the environments alone (random actions): "
                  f"{res['env_only_fps'][gym_id]:.0f} frames per CPU s")
        print(f"    frames/s ours/SB3 {s['fps_ratio']:.2f}x per CPU s, "
              f"{s['wall_fps_ratio']:.2f}x per wall s; our interval's top minus SB3's IQM "
              f"{s['success_margin']:+.2f}")
    common.print_goals(goals)
    common.print_footer(res)


if __name__ == "__main__":
    raise SystemExit(main())
