"""Proximal policy optimisation over a gymnasium vector environment, in one file (cleanrl's
manner: read it top to bottom).

One update: ``n_steps`` steps of each of ``n_envs`` environments with the current policy
(no gradients), generalised advantage estimates, then ``epochs`` passes of minibatch
gradient steps on the clipped surrogate objective, a value loss (optionally clipped) and an
entropy bonus, with the gradient norm clipped and the learning rate annealed linearly to 0.

Gymnasium 1.x vector environments reset a finished sub-environment on the *next* step
(``AutoresetMode.NEXT_STEP``): the step that ends an episode returns that episode's last
observation, and the following ``step`` ignores the action and returns the new episode's first
observation with reward 0. That reset step is no transition: it is kept in the buffer only so
the arrays stay rectangular, and left out of every loss (``valid`` False). It also makes
truncation exact: the last observation of a truncated episode is in the buffer, so its value
bootstraps the return, while a terminated episode's return stops at its reward.

With a recurrent policy (``policy_kwargs={"recurrent": True}``) the rollout keeps the
policy's state, zeroes it where an episode begins (``first``), and the update trains on whole
environment sequences (minibatches are sets of environments), replayed from the state each
environment had at the rollout's start.

The run folder is core.training's (settings.json, log.jsonl, checkpoint/, finished.json).
Checkpoints are taken at rollout boundaries and hold, besides weights, optimiser and every
random state, the environments themselves (pickled sub-environments of a SyncVectorEnv, with
their generators) and the loop's carried state, so a run killed and resumed ends with the same
weights as one that was never stopped. An AsyncVectorEnv's sub-environments live in other
processes, and environments with state in C (NLE) do not pickle: a resumed run of those
starts new episodes (reset with a seed derived from the update), which is not exact. Ctrl-C finishes the rollout step it is in, saves a checkpoint
at the boundary and stops (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import PapertoolsError
from ..training import RunDir, StopRequest
from .policies import make_policy, save_policy

WINDOW = 100  # episodes in the success and return averages of the summary


@dataclass
class PPOConfig:
    """What a PPO run is (its settings.json). Frames count agent-environment transitions
    (gymnasium's reset steps are not frames); the run makes
    ``total_frames // (n_envs * n_steps)`` updates."""

    env: str = "minigrid/DoorKey-5x5"
    total_frames: int = 100_000
    n_envs: int = 8
    n_steps: int = 128
    epochs: int = 4
    minibatches: int = 4
    lr: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    clip_value: bool = False  # clip the value update to ``clip`` around the rollout's values
    ent_coef: float = 0.01
    vf_coef: float = 0.5  # times the mean squared error (stable-baselines3's scale)
    max_grad_norm: float = 0.5
    norm_adv: bool = True
    seed: int = 0
    policy: str = "auto"
    policy_kwargs: dict = field(default_factory=dict)
    env_options: dict = field(default_factory=dict)
    asynchronous: bool = False
    device: str = "cpu"
    threads: int = 1  # torch threads (0: leave torch's default)
    log_every: int = 1  # updates between log records
    save_every: int = 10  # updates between checkpoints (and one at the end)
    # Offline pre-training (pretrain's arms; all off by default, and then absent from
    # settings.json, so runs recorded before these existed still resume):
    init_from: str | None = None  # a policy folder of the same kind: its torso starts the policy
    freeze_torso: bool = False  # the torso's weights stay fixed (left out of the optimiser)
    progress: dict = field(default_factory=dict)  # {"path", "alpha", "k"}: a progress bonus

    @property
    def updates(self) -> int:
        return max(1, self.total_frames // (self.n_envs * self.n_steps))


MUTABLE = ("device", "threads", "log_every", "save_every")
OPTIONAL = {"init_from": None, "freeze_torso": False, "progress": {}}  # recorded when set


def settings_of(config: PPOConfig) -> dict:
    """settings.json's contents: the config, less the optional fields left at their defaults."""
    settings = asdict(config)
    for key, default in OPTIONAL.items():
        if settings[key] == default:
            del settings[key]
    return settings


def gym_vec_env(gym_id: str, **options) -> Callable:
    """A factory ``(n, seed) -> SyncVectorEnv`` over ``gymnasium.make(gym_id)`` (a registered
    id such as MiniGrid-DoorKey-5x5-v0): the very envs stable-baselines3 is given in
    benchmarks/agents_bench.py, so both learners step the same code. Sub-environments are
    seeded by the first ``reset(seed=seed)`` (env i: seed + i). Everything else builds its
    envs with core.envs' ``make_vec_env`` (:func:`default_env_fn`)."""
    import gymnasium

    if gym_id.startswith(("MiniGrid", "BabyAI")):
        import minigrid  # noqa: F401  (registers the ids)

    def build(n: int, seed: int):
        return gymnasium.vector.SyncVectorEnv(
            [lambda: gymnasium.make(gym_id, **options) for _ in range(n)])
    return build


def default_env_fn(config: PPOConfig) -> Callable:
    """core.envs' ``make_vec_env`` for ``config.env`` (a registry name: minigrid/DoorKey-5x5)."""
    from ..envs import make_vec_env

    return lambda n, seed: make_vec_env(config.env, n, seed=seed,
                                        asynchronous=config.asynchronous, **config.env_options)


# ---------------------------------------------------------------------------------------------
# Observations: numpy buffers [T, N, ...] per key; strings (missions) as object arrays


def _obs_keys(policy, space) -> list[str]:
    keys = getattr(policy, "obs_keys", None)
    return list(keys) if keys else list(space.spaces)


def _alloc(obs: dict, keys, steps: int) -> dict:
    out = {}
    for k in keys:
        v = obs[k]
        if isinstance(v, np.ndarray) and v.dtype != object:
            out[k] = np.zeros((steps, *v.shape), v.dtype)
        else:
            out[k] = np.empty((steps, len(v)), object)
    return out


def _to_policy(obs: dict, device) -> dict:
    """numpy arrays -> tensors (no copy on CPU); object arrays -> lists of strings."""
    out = {}
    for k, v in obs.items():
        if isinstance(v, np.ndarray) and v.dtype != object:
            out[k] = torch.from_numpy(np.ascontiguousarray(v)).to(device)
        else:
            out[k] = v.tolist() if isinstance(v, np.ndarray) else list(v)
    return out


# ---------------------------------------------------------------------------------------------
# Saving the environments at a rollout boundary


def _env_snapshot(envs) -> bytes | None:
    """The sub-environments and the vector env's pending resets, pickled (SyncVectorEnv);
    None when they cannot be captured here (an AsyncVectorEnv's live in other processes)."""
    subs = getattr(envs, "envs", None)
    if subs is None:
        return None
    try:
        return pickle.dumps({"envs": subs, "autoreset": np.array(envs._autoreset_envs)})
    except (pickle.PicklingError, TypeError, AttributeError):  # C state (NLE): not capturable
        return None


def _env_restore(envs, blob: bytes) -> None:
    saved = pickle.loads(blob)
    for e in envs.envs:
        e.close()
    envs.envs = saved["envs"]
    envs._autoreset_envs = saved["autoreset"]


# ---------------------------------------------------------------------------------------------
# The progress bonus (pretrain): r = r_task + alpha * f(s_max(t-k, start), s_t)


def _shaping(config: PPOConfig, n_envs: int):
    """core.learn.progress's ProgressShaping for ``config.progress`` ({"path", "alpha", "k"}),
    or None when the run has no progress bonus."""
    if not config.progress:
        return None
    p = config.progress
    if set(p) - {"path", "alpha", "k"} or "path" not in p:
        raise PapertoolsError(f"progress takes path, alpha and k, not {', '.join(sorted(p))}")
    from .progress import ProgressShaping, load_progress

    return ProgressShaping(load_progress(p["path"]), float(p.get("alpha", 1.0)),
                           int(p.get("k", 1)), n_envs)


def _add_bonus(rewards: np.ndarray, t: int, bonus, was_valid: np.ndarray) -> None:
    """Add the bonus of the observation that step ``t`` reached to the rewards the losses see,
    on real transitions only (a reset step's reward stays 0; no loss reads it). Called after the
    episode statistics took the task's reward, so the logged return and success stay the task's."""
    rewards[t] += np.where(was_valid, np.asarray(bonus, np.float32), np.float32(0.0))


# ---------------------------------------------------------------------------------------------
# Training


def train_ppo(config: PPOConfig, run_dir, resume: bool = False, env_fn: Callable | None = None,
              echo=None) -> dict:
    """Train with PPO in the run folder ``run_dir``; returns the summary (also finished.json):
    frames, episodes, updates, success and return over the last 100 episodes, fps, policy
    folder. ``env_fn(n, seed) -> gymnasium VectorEnv`` (default: :func:`default_env_fn`)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    env_fn = env_fn or default_env_fn(config)
    settings = settings_of(config)
    with RunDir(run_dir, settings, resume=resume, mutable=MUTABLE, echo=echo) as run:
        if run.finished:
            return run.finished
        return _train(config, run, env_fn)


def _train(config: PPOConfig, run: RunDir, env_fn) -> dict:
    device = torch.device(config.device)
    n, steps = config.n_envs, config.n_steps
    envs = env_fn(n, config.seed)
    autoreset = getattr(envs, "metadata", {}).get("autoreset_mode")
    if autoreset is not None and str(getattr(autoreset, "value", autoreset)) != "NextStep":
        raise PapertoolsError(f"train_ppo needs a vector env with next-step autoreset, not "
                              f"{autoreset}")
    torch.manual_seed(config.seed)
    shuffle = np.random.default_rng(config.seed)
    policy = make_policy(envs.single_observation_space, envs.single_action_space, config.policy,
                         **config.policy_kwargs).to(device)
    if config.init_from:
        from .torso import load_torso

        load_torso(policy, config.init_from)
    if config.freeze_torso:
        from .torso import freeze_torso

        freeze_torso(policy)
    # frozen parameters are not in the optimiser: no step (weight decay or momentum) moves them
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad],
                                 lr=config.lr, eps=1e-5)
    shaping = _shaping(config, n)
    keys = _obs_keys(policy, envs.single_observation_space)

    state = {"update": 0, "frames": 0, "episodes": 0, "seconds": 0.0}
    saved = run.load_checkpoint()
    if saved is not None:
        saved.restore(optimizer=optimizer, modules={"policy": policy}, generators=[shuffle])
        state = saved.state
        loop = pickle.loads(state["loop"])
        if shaping is not None and state.get("shaping") is not None:
            shaping.load_state_dict(pickle.loads(state["shaping"]))
        if state.get("envs") is not None:
            _env_restore(envs, state["envs"])
        else:
            loop["obs"], _ = envs.reset(seed=config.seed + 7919 * state["update"])
            loop["first"][:] = True
            loop["valid"][:] = True
            loop["rnn"] = policy.initial_state(n)
            if shaping is not None:  # new episodes: the bonus's history starts again
                shaping(loop["obs"], loop["first"])
    else:
        obs, _ = envs.reset(seed=config.seed)
        loop = {"obs": obs,
                "first": np.ones(n, bool),  # the observation begins an episode
                "valid": np.ones(n, bool),  # the next step is a transition (no reset step)
                "rnn": policy.initial_state(n),
                "ep_return": np.zeros(n), "ep_length": np.zeros(n, np.int64),
                "recent": deque(maxlen=WINDOW)}  # (success, return, length) per episode
        if shaping is not None:  # the episodes' first observations start the bonus's history
            shaping(obs, loop["first"])

    def checkpoint():
        state["loop"] = pickle.dumps(loop)
        state["envs"] = _env_snapshot(envs)
        if shaping is not None:
            state["shaping"] = pickle.dumps(shaping.state_dict())
        run.save_checkpoint(state=state, optimizer=optimizer, modules={"policy": policy},
                            generators=[shuffle])

    buf = _alloc(loop["obs"], keys, steps)
    actions = np.zeros((steps, n), np.int64)
    logps = np.zeros((steps, n), np.float32)
    values = np.zeros((steps + 1, n), np.float32)
    rewards = np.zeros((steps, n), np.float32)
    terminated = np.zeros((steps, n), bool)
    done = np.zeros((steps, n), bool)
    valid = np.zeros((steps, n), bool)
    first = np.zeros((steps, n), bool)
    recurrent = policy.recurrent
    total = config.updates

    with StopRequest() as interrupt:
        while state["update"] < total:
            started = time.perf_counter()
            if config.anneal_lr:
                for g in optimizer.param_groups:
                    g["lr"] = config.lr * (1.0 - state["update"] / total)
            rnn0 = None if loop["rnn"] is None else tuple(s.clone() for s in loop["rnn"])
            finished = []

            # -- rollout: the policy acts, no gradients
            policy.eval()
            with torch.inference_mode(), policy.frozen():
                for t in range(steps):
                    obs = loop["obs"]
                    for k in keys:
                        buf[k][t] = obs[k]
                    first[t] = loop["first"]
                    valid[t] = loop["valid"]
                    logits, value, loop["rnn"] = policy(
                        _to_policy({k: obs[k] for k in keys}, device), loop["rnn"],
                        torch.from_numpy(loop["first"]).to(device) if recurrent else None)
                    logp_all = torch.log_softmax(logits, -1)
                    action = torch.multinomial(logp_all.exp(), 1).squeeze(-1)
                    actions[t] = action.cpu().numpy()
                    logps[t] = logp_all.gather(-1, action[:, None]).squeeze(-1).cpu().numpy()
                    values[t] = value.cpu().numpy()

                    loop["obs"], r, term, trunc, infos = envs.step(actions[t])
                    rewards[t] = r
                    terminated[t] = term
                    done[t] = term | trunc
                    was_valid = loop["valid"]
                    # episode bookkeeping over real transitions only
                    loop["ep_return"] += np.where(was_valid, r, 0.0)
                    loop["ep_length"] += was_valid
                    ended = was_valid & done[t]
                    for i in np.flatnonzero(ended):
                        success = bool(term[i] and r[i] > 0)
                        finished.append((success, float(loop["ep_return"][i]),
                                         int(loop["ep_length"][i])))
                        loop["ep_return"][i] = 0.0
                        loop["ep_length"][i] = 0
                    # next step: a reset step where an episode just ended; the observation
                    # after a reset step begins an episode
                    loop["first"] = ~was_valid
                    loop["valid"] = ~ended
                    state["frames"] += int(was_valid.sum())
                    if shaping is not None:  # after the task's bookkeeping: stats stay the task's
                        _add_bonus(rewards, t, shaping(loop["obs"], loop["first"]), was_valid)
                _, last_value, _ = policy(
                    _to_policy({k: loop["obs"][k] for k in keys}, device), loop["rnn"],
                    torch.from_numpy(loop["first"]).to(device) if recurrent else None)
                values[steps] = last_value.cpu().numpy()

            # -- generalised advantage estimation; reset steps get no advantage
            advantages = np.zeros((steps, n), np.float32)
            gae = np.zeros(n, np.float32)
            for t in reversed(range(steps)):
                delta = rewards[t] + config.gamma * values[t + 1] * ~terminated[t] - values[t]
                gae = delta + config.gamma * config.gae_lambda * ~done[t] * gae
                gae = np.where(valid[t], gae, 0.0).astype(np.float32)
                advantages[t] = gae
            returns = advantages + values[:steps]

            # -- optimisation
            policy.train()
            stats = _optimise(config, policy, optimizer, shuffle, device, keys, buf, actions,
                              logps, values[:steps], advantages, returns, valid, first, rnn0)

            # -- bookkeeping, log, checkpoint
            state["update"] += 1
            state["episodes"] += len(finished)
            loop["recent"].extend(finished)
            state["seconds"] += time.perf_counter() - started
            if state["update"] % config.log_every == 0 or state["update"] == total:
                run.log(_record(state, finished, stats, optimizer))
            at_end = state["update"] == total
            if interrupt.requested or at_end or (
                    config.save_every and state["update"] % config.save_every == 0):
                checkpoint()
            if interrupt.requested:
                raise KeyboardInterrupt

    envs.close()
    recent = list(loop["recent"])
    summary = {"frames": state["frames"], "episodes": state["episodes"],
               "updates": state["update"], "seconds": round(state["seconds"], 3),
               "fps": state["frames"] / max(state["seconds"], 1e-9),
               "success": float(np.mean([e[0] for e in recent])) if recent else None,
               "return": float(np.mean([e[1] for e in recent])) if recent else None,
               "policy": str(Path(run.path) / "policy")}
    save_policy(Path(run.path) / "policy", policy.cpu(),
                {"env": config.env, "trainer": "ppo", "frames": state["frames"]})
    run.finish(summary)
    return summary


def _envs_of(state: torch.Tensor, idx) -> torch.Tensor:
    """The recurrent state of the environments ``idx``: the batch axis is the second to last
    (nn.LSTM's [layers, N, H], as BabyAI's; an LSTMCell's [N, H], as NetHack's and Crafter's)."""
    return state.index_select(state.dim() - 2, torch.as_tensor(idx, device=state.device))


def _optimise(config, policy, optimizer, shuffle, device, keys, buf, actions, logps, values,
              advantages, returns, valid, first, rnn0) -> dict:
    """``epochs`` passes of minibatch steps; returns the last epoch's mean losses."""
    steps, n = actions.shape
    t_actions = torch.from_numpy(actions).to(device)
    t_logps = torch.from_numpy(logps).to(device)
    t_values = torch.from_numpy(values).to(device)
    t_adv = torch.from_numpy(advantages).to(device)
    t_ret = torch.from_numpy(returns).to(device)
    t_valid = torch.from_numpy(valid).to(device)
    seen = []
    for _ in range(config.epochs):
        seen = []
        if policy.recurrent:  # whole sequences, minibatches of environments
            order = shuffle.permutation(n)
            groups = np.array_split(order, max(1, min(config.minibatches, n)))
        else:  # single transitions, reset steps left out
            order = shuffle.permutation(np.flatnonzero(valid.reshape(-1)))
            groups = np.array_split(order, config.minibatches)
        for idx in groups:
            if policy.recurrent:
                obs = {k: (v[:, idx].swapaxes(0, 1)) for k, v in buf.items()}
                state = None if rnn0 is None else tuple(_envs_of(s, idx) for s in rnn0)
                logits, value, _ = policy.forward_sequence(
                    _to_policy(obs, device), state,
                    torch.from_numpy(first[:, idx].T.copy()).to(device))
                cols = torch.from_numpy(idx).to(device)
                pick = lambda x: x[:, cols].T  # noqa: E731  [T, N] -> [B, T]
                mask = pick(t_valid)
                logits, value = logits[mask], value[mask]
                act, old_logp, old_v = pick(t_actions)[mask], pick(t_logps)[mask], \
                    pick(t_values)[mask]
                adv, ret = pick(t_adv)[mask], pick(t_ret)[mask]
            else:
                obs = {k: v.reshape(steps * n, *v.shape[2:])[idx] for k, v in buf.items()}
                logits, value, _ = policy(_to_policy(obs, device))
                rows = torch.from_numpy(idx).to(device)
                flat = lambda x: x.reshape(-1)[rows]  # noqa: E731
                act, old_logp, old_v = flat(t_actions), flat(t_logps), flat(t_values)
                adv, ret = flat(t_adv), flat(t_ret)
            if adv.numel() == 0:
                continue
            if config.norm_adv and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            logp_all = torch.log_softmax(logits, -1)
            logp = logp_all.gather(-1, act[:, None]).squeeze(-1)
            ratio = (logp - old_logp).exp()
            pg_loss = torch.max(-adv * ratio,
                                -adv * ratio.clamp(1 - config.clip, 1 + config.clip)).mean()
            if config.clip_value:
                clipped = old_v + (value - old_v).clamp(-config.clip, config.clip)
                v_loss = torch.max((value - ret) ** 2, (clipped - ret) ** 2).mean()
            else:
                v_loss = ((value - ret) ** 2).mean()
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            loss = pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                log_ratio = logp - old_logp
                seen.append((pg_loss.item(), v_loss.item(), entropy.item(),
                             ((ratio - 1) - log_ratio).mean().item(),
                             ((ratio - 1).abs() > config.clip).float().mean().item()))
    means = np.mean(seen, axis=0) if seen else [None] * 5
    return dict(zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac"),
                    (None if m is None else round(float(m), 6) for m in means)))


def _record(state, finished, stats, optimizer) -> dict:
    """One log record: the episodes that ended in this update (success, return, length) and
    the losses."""
    rec = {"update": state["update"], "frames": state["frames"], "episodes": state["episodes"],
           "success": float(np.mean([e[0] for e in finished])) if finished else None,
           "return": round(float(np.mean([e[1] for e in finished])), 6) if finished else None,
           "length": round(float(np.mean([e[2] for e in finished])), 3) if finished else None,
           "fps": round(state["frames"] / max(state["seconds"], 1e-9), 1),
           "lr": optimizer.param_groups[0]["lr"]}
    rec.update(stats)
    return rec


__all__ = ["PPOConfig", "default_env_fn", "gym_vec_env", "settings_of", "train_ppo"]
