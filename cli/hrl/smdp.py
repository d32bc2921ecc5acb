"""The high level's RL stage: PPO over segments (a semi-Markov decision process), read top to
bottom.

The hierarchy (core.learn.hierarchy, a policy folder of kind "hierarchy") plays ``n_envs``
environments together. Its low level is frozen and batched across all of them every step; the
high level is asked only in the environments whose segment ended (the low level said finished,
the segment reached ``max_segment`` steps, or the episode ended). One high-level transition is
one segment: from its first observation, the chosen subgoal, the reward

    R = sum_k gamma^k r_{t+k}   over the segment's steps k = 0 .. len-1,

and the discount gamma^len with which the next segment's value bootstraps it (none where the
episode terminated; where it was truncated, the value of its last observation).
:func:`smdp_advantages` turns a sequence of those into generalised advantage estimates, with
lambda acting once per segment.

An update collects ``n_envs * segments`` finished segments, then makes ``epochs`` passes of
``minibatches`` minibatch steps of the clipped surrogate objective, a value loss, an entropy
bonus and ``kl`` times KL(pi_high || prior), the prior being the high level as the run found it
(the cloned one: the "soft supervision" of the subgoal space). ``reinit_high`` starts the high
level from random weights (RL alone; the prior stays the cloned one). A recurrent high level
is trained on the state it had at each decision, stored in the rollout (not replayed).

The run folder is core.training's: settings.json, log.jsonl (one record per update: "frames"
(environment steps, the low level's), "episodes", "segments", "success" and "return" (episodes
that ended in the update), "segment_length", "kl", the losses, "fps"), checkpoints at update
boundaries (every ``save_every`` updates, at the end, and on Ctrl-C once the update ends)
holding the environments themselves (pickled, with their generators) and every segment in
progress, so a resumed run continues the very episodes; finished.json; RUN/policy (the
hierarchy with the trained high level).
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.training import RunDir

WINDOW = 100  # episodes in the summary's success and return


@dataclass
class SMDPConfig:
    env: str = "babyai/UnlockPickup"
    frames: int = 100_000  # environment frames (low-level steps of all envs together)
    n_envs: int = 8
    segments: int = 16  # finished segments per environment per update (n_envs * segments)
    epochs: int = 4  # passes over each update's segments
    minibatches: int = 4
    # Adam, annealed linearly to 0 over the frames. None: 3e-5 when fine-tuning a cloned high
    # level (measured: at 2.5e-4 one update moved it a KL of 0.1-0.6 from the prior and the
    # success of the clone fell), 2.5e-4 (PPO's usual) with reinit_high
    lr: float | None = None
    anneal_lr: bool = True
    gamma: float = 0.99  # per environment step
    gae_lambda: float = 0.95  # per segment
    clip: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    kl: float = 0.0  # weight of KL(pi_high || prior), the prior = the high level at the start
    reinit_high: bool = False  # start the high level from random weights (RL alone)
    max_segment: int = 0  # low-level steps after which a segment ends (0: the folder's)
    low_deterministic: bool = False  # the low level's argmax action instead of a sample
    seed: int = 0
    arm: str = ""  # the arm's name in curves (settings.json's "arm"; "": the folder's name)
    device: str = "cpu"
    threads: int = 1  # torch threads (0: torch's default)
    log_every: int = 1  # updates between log records
    save_every: int = 10  # updates between checkpoints (and one at the end)


MUTABLE = ("device", "threads", "log_every", "save_every")
LR_FINETUNE, LR_SCRATCH = 3e-5, 2.5e-4


def learning_rate(config: SMDPConfig) -> float:
    """The configured rate, else the default for a cloned or a fresh high level."""
    if config.lr is not None:
        return config.lr
    return LR_SCRATCH if config.reinit_high else LR_FINETUNE


def smdp_advantages(rewards, discounts, values, next_values, terminated, ended,
                    lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(advantages, returns) of one environment's segments in order.

    Segment i: ``rewards[i]`` = its discounted reward sum, ``discounts[i]`` = gamma^len,
    ``values[i]`` = V(its first observation), ``next_values[i]`` = V(the observation after it),
    ``terminated[i]`` (no bootstrap), ``ended[i]`` (the episode ended with it: the estimate
    does not run into the next episode). delta_i = R_i + d_i (1 - term_i) V'_i - V_i;
    A_i = delta_i + d_i lam (1 - ended_i) A_{i+1}; returns = A + V."""
    rewards, discounts = np.asarray(rewards, np.float64), np.asarray(discounts, np.float64)
    values, next_values = np.asarray(values, np.float64), np.asarray(next_values, np.float64)
    keep = 1.0 - np.asarray(terminated, np.float64)
    go_on = 1.0 - np.asarray(ended, np.float64)
    advantages = np.zeros(len(rewards))
    running = 0.0
    for i in reversed(range(len(rewards))):
        delta = rewards[i] + discounts[i] * keep[i] * next_values[i] - values[i]
        running = delta + discounts[i] * lam * go_on[i] * running
        advantages[i] = running
    return advantages, advantages + values


def _weights_digest(policy_dir) -> str:
    path = Path(policy_dir) / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def train_smdp(config: SMDPConfig, policy_dir, run_dir, resume: bool = False,
               progress: bool = False, log=None) -> dict:
    """Train the high level of the hierarchy in ``policy_dir`` by PPO over segments in the run
    folder ``run_dir``; returns the summary (also finished.json). ``log(record)`` receives the
    log records (default: standard output)."""
    import torch

    from papertools.core.learn.policies import load_policy

    if config.threads:
        torch.set_num_threads(config.threads)
    policy, meta = load_policy(policy_dir, config.device)
    if meta.get("kind") != "hierarchy":
        raise PapertoolsError(f"{policy_dir} holds a {meta.get('kind')!r} policy, not a "
                              "hierarchy (hrl high writes one)")
    settings = dict(asdict(config), policy=str(Path(policy_dir)),
                    policy_sha256=_weights_digest(policy_dir))
    with RunDir(run_dir, settings, resume=resume, mutable=MUTABLE, echo=log) as run:
        if run.finished:
            return run.finished
        return _train(config, policy, run, progress)


def _train(config: SMDPConfig, policy, run: RunDir, progress: bool) -> dict:
    import torch

    from papertools.core.envs import make_env
    from papertools.core.learn.hierarchy import assign_rows, select_rows
    from papertools.core.learn.policies import make_policy, save_policy
    from papertools.core.training import Progress, StopRequest

    device = torch.device(config.device)
    n, gamma = config.n_envs, config.gamma
    torch.manual_seed(config.seed)
    shuffle = np.random.default_rng(config.seed)
    if config.max_segment:
        policy.max_segment = config.max_segment
        policy.kwargs["max_segment"] = config.max_segment
    # the prior: the high level as it came (frozen); the low level and its head are frozen too
    prior = copy.deepcopy(policy.high).eval()
    if config.reinit_high:
        policy.high = make_policy(policy.high.observation_space, policy.high.action_space,
                                  "babyai", **policy.high.kwargs).to(device)
    high = policy.high
    for p in [*prior.parameters(), *policy.low.parameters(),
              *policy.finished_head.parameters()]:
        p.requires_grad_(False)
    policy.low.eval()
    optimizer = torch.optim.Adam(high.parameters(), lr=learning_rate(config), eps=1e-5)
    threshold = policy.finished_threshold

    state = {"update": 0, "frames": 0, "episodes": 0, "segments": 0, "seconds": 0.0}
    saved = run.load_checkpoint()
    if saved is not None:
        saved.restore(optimizer=optimizer, modules={"high": high}, generators=[shuffle])
        state = saved.state
        loop = pickle.loads(state["loop"])
    else:
        envs = [make_env(config.env) for _ in range(n)]
        first_obs = [env.reset(seed=config.seed + i)[0] for i, env in enumerate(envs)]
        loop = {"envs": envs, "obs": first_obs,
                "first": np.ones(n, bool),  # the observation begins an episode
                "start": np.ones(n, bool),  # a segment starts at this observation
                "high": high.initial_state(n), "prior": prior.initial_state(n),
                "subgoal": torch.zeros(n, dtype=torch.long), "low": policy.low.initial_state(n),
                "segment": [None] * n,  # the segment in progress per env
                "last": [None] * n,  # the env's last finished segment, awaiting its next value
                "ep_return": np.zeros(n), "ep_length": np.zeros(n, np.int64),
                "recent": deque(maxlen=WINDOW)}
    envs = loop["envs"]

    def checkpoint():
        state["loop"] = pickle.dumps(loop)
        run.save_checkpoint(state=state, optimizer=optimizer, modules={"high": high},
                            generators=[shuffle])

    def high_obs(rows):
        return {"image": torch.from_numpy(np.stack([loop["obs"][i]["image"] for i in rows]))
                .to(device), "mission": [loop["obs"][i]["mission"] for i in rows]}

    def choose(rows):
        """The high level decides for the envs ``rows`` (their segments start now); the
        previous segment of each gets this decision's value as its bootstrap."""
        rows = np.asarray(rows)
        index = torch.from_numpy(rows)
        first = torch.from_numpy(loop["first"][rows])
        obs = high_obs(rows)
        h_in = select_rows(loop["high"], index)
        logits, value, h_out = policy.choose(obs, h_in, first)
        prior_logits, _, p_out = prior(obs, select_rows(loop["prior"], index), first)
        action = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1)
        logp = torch.log_softmax(logits, -1).gather(-1, action[:, None]).squeeze(-1)
        loop["high"] = assign_rows(loop["high"], index, h_out)
        loop["prior"] = assign_rows(loop["prior"], index, p_out)
        loop["subgoal"][index] = action
        for j, i in enumerate(rows.tolist()):
            last = loop["last"][i]
            if last is not None:
                last["next_value"] = float(value[j])
                loop["last"][i] = None
            loop["segment"][i] = {
                "image": obs["image"][j].cpu().numpy(), "mission": obs["mission"][j],
                "state": None if h_in is None else tuple(s[:, j].clone() for s in h_in),
                "first": bool(first[j]), "action": int(action[j]), "logp": float(logp[j]),
                "value": float(value[j]), "prior": prior_logits[j].clone(),
                "reward": 0.0, "discount": 1.0, "length": 0}
        loop["first"][rows] = False

    bar = Progress(config.frames, state["frames"], "hrl rl") if progress else None
    with StopRequest() as interrupt:  # Ctrl-C: the update ends, a checkpoint, then stop
        while state["frames"] < config.frames:
            started = time.perf_counter()
            if config.anneal_lr:
                lr = learning_rate(config) * max(0.0, 1.0 - state["frames"] / config.frames)
                for g in optimizer.param_groups:
                    g["lr"] = lr
            transitions = [[] for _ in range(n)]
            finished, need, done_segments, frames0 = [], n * config.segments, 0, state["frames"]

            # -- rollout: the low level acts everywhere, the high level where segments start
            high.eval()
            with torch.no_grad(), policy.frozen():
                while True:
                    rows = np.flatnonzero(loop["start"])
                    if rows.size:
                        choose(rows)
                    if done_segments >= need:
                        break
                    obs = {"image": torch.from_numpy(np.stack([o["image"] for o in loop["obs"]]))
                           .to(device), "mission": [o["mission"] for o in loop["obs"]]}
                    logits, _, loop["low"], fin = policy.low_step(
                        obs, loop["subgoal"], loop["low"], torch.from_numpy(loop["start"]))
                    actions = (logits.argmax(-1) if config.low_deterministic else
                               torch.multinomial(torch.softmax(logits, -1), 1).squeeze(-1))
                    for i, env in enumerate(envs):
                        o, r, term, trunc, _ = env.step(int(actions[i]))
                        seg = loop["segment"][i]
                        seg["reward"] += seg["discount"] * r
                        seg["discount"] *= gamma
                        seg["length"] += 1
                        loop["ep_return"][i] += r
                        loop["ep_length"][i] += 1
                        ended = term or trunc
                        end = ended or bool(fin[i] > threshold) or \
                            seg["length"] >= policy.max_segment
                        loop["obs"][i] = o
                        loop["start"][i] = end
                        if not end:
                            continue
                        seg.update(terminated=term, ended=ended,
                                   next_value=0.0 if term else None)
                        if trunc and not term:  # bootstrap from the last observation
                            index = torch.tensor([i])
                            _, v, _ = policy.choose(high_obs([i]),
                                                    select_rows(loop["high"], index),
                                                    torch.zeros(1, dtype=torch.bool))
                            seg["next_value"] = float(v[0])
                        transitions[i].append(seg)
                        loop["last"][i] = seg if seg["next_value"] is None else None
                        loop["segment"][i] = None
                        done_segments += 1
                        if ended:
                            finished.append((bool(term and r > 0), float(loop["ep_return"][i]),
                                             int(loop["ep_length"][i])))
                            loop["ep_return"][i], loop["ep_length"][i] = 0.0, 0
                            loop["obs"][i], _ = env.reset()
                            loop["first"][i] = True
                    state["frames"] += n

            # -- advantages per environment, then one flat batch
            batch = [seg for env_segs in transitions for seg in env_segs]
            advantages, returns = [], []
            for env_segs in transitions:
                if not env_segs:
                    continue
                a, g = smdp_advantages([s["reward"] for s in env_segs],
                                       [s["discount"] for s in env_segs],
                                       [s["value"] for s in env_segs],
                                       [s["next_value"] for s in env_segs],
                                       [s["terminated"] for s in env_segs],
                                       [s["ended"] for s in env_segs], config.gae_lambda)
                advantages.append(a)
                returns.append(g)
            advantages, returns = np.concatenate(advantages), np.concatenate(returns)

            # -- optimisation of the high level
            high.train()
            stats = _optimise(config, high, optimizer, shuffle, device, batch, advantages,
                              returns)

            # -- bookkeeping, log, checkpoint
            state["update"] += 1
            state["episodes"] += len(finished)
            state["segments"] += len(batch)
            loop["recent"].extend(finished)
            state["seconds"] += time.perf_counter() - started
            if bar is not None:
                bar.update(state["frames"] - frames0)
            if state["update"] % config.log_every == 0 or state["frames"] >= config.frames:
                run.log(_record(state, finished, batch, stats, optimizer, frames0,
                                time.perf_counter() - started))
            if interrupt.requested or state["frames"] >= config.frames or (
                    config.save_every and state["update"] % config.save_every == 0):
                checkpoint()
            if interrupt.requested:
                if bar is not None:
                    bar.close()
                raise KeyboardInterrupt
    if bar is not None:
        bar.close()

    for env in envs:
        env.close()
    recent = list(loop["recent"])
    summary = {"frames": state["frames"], "episodes": state["episodes"],
               "segments": state["segments"], "updates": state["update"],
               "seconds": round(state["seconds"], 3),
               "fps": round(state["frames"] / max(state["seconds"], 1e-9), 1),
               "success": float(np.mean([e[0] for e in recent])) if recent else None,
               "return": float(np.mean([e[1] for e in recent])) if recent else None,
               "policy": str(Path(run.path) / "policy")}
    save_policy(Path(run.path) / "policy", policy.cpu(),
                {"env": config.env, "trainer": "hrl rl", "frames": state["frames"],
                 "kl": config.kl, "reinit_high": config.reinit_high})
    run.finish(summary)
    return summary


def _optimise(config, high, optimizer, shuffle, device, batch, advantages, returns) -> dict:
    """``epochs`` passes of minibatch steps over the update's segments; the last epoch's means."""
    import torch
    from torch import nn

    m = len(batch)
    image = torch.from_numpy(np.stack([s["image"] for s in batch])).to(device)
    missions = [s["mission"] for s in batch]
    first = torch.tensor([s["first"] for s in batch])
    states = None
    if batch[0]["state"] is not None:
        states = tuple(torch.stack([s["state"][k] for s in batch], 1)
                       for k in range(len(batch[0]["state"])))
    actions = torch.tensor([s["action"] for s in batch], device=device)
    old_logp = torch.tensor([s["logp"] for s in batch], device=device)
    prior_logp = torch.log_softmax(torch.stack([s["prior"] for s in batch]), -1).to(device)
    adv_all = torch.as_tensor(advantages, dtype=torch.float32, device=device)
    ret_all = torch.as_tensor(returns, dtype=torch.float32, device=device)
    seen = []
    for _ in range(config.epochs):
        seen = []
        for idx in np.array_split(shuffle.permutation(m), min(config.minibatches, m)):
            rows = torch.from_numpy(idx)
            state = None if states is None else tuple(s[:, rows] for s in states)
            seq = {"image": image[rows][:, None],
                   "mission": [[missions[i]] for i in idx.tolist()]}
            logits, _, _, feats = high.forward_sequence(seq, state, first[rows][:, None],
                                                        return_features=True)
            logits = logits[:, 0]
            # the critic reads the features without moving them: fitting a value function
            # the cloned high level never had must not undo what cloning taught it
            value = high.critic(feats[:, 0].detach()).squeeze(-1)
            logp_all = torch.log_softmax(logits, -1)
            logp = logp_all.gather(-1, actions[rows, None]).squeeze(-1)
            adv = adv_all[rows]
            if adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = (logp - old_logp[rows]).exp()
            pg_loss = torch.max(-adv * ratio,
                                -adv * ratio.clamp(1 - config.clip, 1 + config.clip)).mean()
            v_loss = ((value - ret_all[rows]) ** 2).mean()
            probs = logp_all.exp()
            entropy = -(probs * logp_all).sum(-1).mean()
            kl = (probs * (logp_all - prior_logp[rows])).sum(-1).mean()
            loss = pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy + config.kl * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(high.parameters(), config.max_grad_norm)
            optimizer.step()
            seen.append((pg_loss.item(), v_loss.item(), entropy.item(), kl.item(),
                         (((ratio - 1).abs() > config.clip).float().mean().item())))
    means = np.mean(seen, axis=0)
    return dict(zip(("policy_loss", "value_loss", "entropy", "kl", "clipfrac"),
                    (round(float(v), 6) for v in means)))


def _record(state, finished, batch, stats, optimizer, frames0, seconds) -> dict:
    rec = {"update": state["update"], "frames": state["frames"], "episodes": state["episodes"],
           "segments": state["segments"],
           "success": float(np.mean([e[0] for e in finished])) if finished else None,
           "return": round(float(np.mean([e[1] for e in finished])), 6) if finished else None,
           "length": round(float(np.mean([e[2] for e in finished])), 3) if finished else None,
           "segment_length": round(float(np.mean([s["length"] for s in batch])), 3),
           "fps": round((state["frames"] - frames0) / max(seconds, 1e-9), 1),
           "lr": optimizer.param_groups[0]["lr"]}
    rec.update(stats)
    return rec


__all__ = ["SMDPConfig", "smdp_advantages", "train_smdp"]
