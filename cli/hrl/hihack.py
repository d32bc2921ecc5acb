"""HiHack's hierarchical behavioural cloning on NetHack (Piterbarg, Pinto and Fergus, 2023):
clone nhrecord's strategy-labelled games into a flat or a strategy-headed policy, then score
it in the real game beside the expert that played the data and a random agent.

1. Data: an nhrecord dataset folder is converted once (core.trajectories_convert.from_nhrecord:
   the tty screen, the action index, the per-step ``strategy`` label, classes ``ordinal + 1``)
   into a trajectory dataset in the cache; an already converted folder is used as it is. The
   games are split by game: ``valid_games`` held out (chosen by a hash of the game ids, the
   same for every size and seed), and the training set is the first ``games`` of the rest in
   recording order, so a larger size contains a smaller one.
2. Models (core.learn): ``hier`` is :class:`~papertools.core.learn.hihack_net.HiHackPolicy`
   (strategy head, S action heads, hard Gumbel-softmax selection); ``flat`` is
   NetHackPolicy with an MLP actor sized by ``matched_flat_kwargs`` to the same parameter
   count. Both share the torso (screen CNN, crop around the cursor, the top line's message,
   an LSTM).
3. Loss (core.learn.bc): action cross-entropy + ``strategy_coef`` x the strategy head's
   cross-entropy (HiHack's ``strategy_loss_coeff``); ``oracle`` picks the head by the true
   strategy. After training, the per-strategy action accuracy on the held-out games is
   written to ``RUN/accuracy.json``.
4. Evaluation: whole games of NetHackChallenge (the data's task, its settings: random
   character, 1,000 steps without a new game turn end a game) on seeds derived from
   ``EVAL_KEY``, a key the recorder never uses; each agent (the policy, sampling its actions;
   the symbolic expert; the random agent) plays the same seeds. The in-game score's median,
   quartiles, mean and a seeded bootstrap 95% interval of the median.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError

ENV = "nle/NetHackChallenge-v0"
EVAL_KEY = 0x68686576  # "hhev": evaluation seeds; never a recording seed derivation
BOOT_KEY = 0x68686273  # "hhbs": the bootstrap's resamples
NO_PROGRESS_STEPS = 1000  # steps without a new game turn that end a game (nhrecord's, HiHack's)
MODELS = ("flat", "hier")
AGENTS = ("policy", "expert", "random")


@dataclass
class CloneConfig:
    model: str = "hier"  # "flat" (matched size) or "hier" (HiHack's strategy heads)
    strategy_coef: float = 1.0  # weight of the strategy cross-entropy (HiHack: 1.0); hier only
    oracle: bool = False  # hier: the true strategy picks the head (ablation, offline only)
    straight_through: bool = True  # the action loss reaches the strategy head (HiHack: no)
    tau: float = 1.0  # Gumbel-softmax temperature (HiHack's gumbel_softmax_tau)
    eval_strategy: str = "argmax"  # in play: the likeliest strategy, or "sample" (HiHack's)
    games: int | None = None  # training games: the first N of the training split (None: all)
    valid_games: int = 5  # games held out for validation and per-strategy accuracy
    split_seed: int = 0  # the hash that picks the held-out games (not the training seed)
    hidden: int = 256  # the torso's width and LSTM size (HiHack: 512)
    head_hidden: int = 256  # each strategy's action head's hidden layer (HiHack: 256)
    crop: int = 9  # the egocentric crop's side
    embed_dim: int = 16  # character embedding width
    epochs: int = 5
    seq_len: int = 32  # HiHack: ttyrec_unroll_length 32
    batch_size: int = 32  # HiHack: ttyrec_batch_size 128
    lr: float = 3e-4  # HiHack: 1e-4 at batch 128
    max_grad_norm: float = 4.0  # HiHack: grad_norm_clipping 4
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    save_every: int = 0
    extra: dict = field(default_factory=dict)  # more BCConfig fields (log_every, ...)


# ---------------------------------------------------------------------------------------------
# 1. Data


def prepare_dataset(path, progress=None) -> Path:
    """A trajectory dataset folder for ``path``: itself when it is one, else (an nhrecord
    dataset) its conversion in the cache, made or completed on first use. Conversions of one
    dataset by several processes wait for each other (a lock file)."""
    import fcntl

    from papertools.core.cache import cache_dir
    from papertools.core.nethack.dataset import MARKER

    path = Path(path)
    if (path / "dataset.json").exists():
        return path
    if not (path / MARKER).exists():
        raise PapertoolsError(f"{path} is neither a trajectory dataset (dataset.json) nor an "
                              f"nhrecord dataset ({MARKER})")
    from papertools.core.trajectories_convert import from_nhrecord

    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    out = cache_dir("hrl", "nhrecord", f"{path.name}-{key}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(out) + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one conversion at a time; the others then reuse it
        if not _converted(path, out):
            from_nhrecord(path, out, resume=(out / "dataset.json").exists(),
                          on_episode=progress)
    finally:
        os.close(fd)
    return out


def _converted(source: Path, out: Path) -> bool:
    """Whether ``out`` holds every game of the nhrecord dataset ``source``."""
    import orjson

    summary, episodes = source / "summary.jsonl", out / "episodes.jsonl"
    if not episodes.exists() or not summary.exists():
        return False
    games = {orjson.loads(line).get("episode") for line in summary.read_bytes().splitlines()
             if line.strip()}
    have = {orjson.loads(line)["id"] for line in episodes.read_bytes().splitlines()
            if line.strip()}
    return games <= have


class GameSplit:
    """A trajectory dataset seen through a fixed split by game: what train_bc reads
    (``meta``, ``episodes``, ``path``, ``split``, ``batches``), limited to the chosen games."""

    def __init__(self, dataset, train_ids: list, valid_ids: list):
        self.dataset, self.meta, self.path = dataset, dataset.meta, dataset.path
        keep = set(train_ids) | set(valid_ids)
        self.episodes = [r for r in dataset.episodes if r["id"] in keep]
        self.train_ids, self.valid_ids = list(train_ids), list(valid_ids)

    def split(self, valid_fraction=None, seed=None):
        return self.train_ids, self.valid_ids

    def batches(self, *args, **kwargs):
        return self.dataset.batches(*args, **kwargs)


def split_games(dataset, games: int | None, valid_games: int, split_seed: int = 0):
    """(train ids, valid ids): ``valid_games`` held out by a hash of the ids, then the first
    ``games`` of the rest in recording order (the episode's ``game`` index)."""
    n = len(dataset.episodes)
    if n < 2:
        raise PapertoolsError(f"{dataset.path} has {n} game(s): at least 2 are needed "
                              "(training and validation)")
    valid_games = min(max(1, valid_games), n - 1)
    _, valid = dataset.split(valid_games / n, split_seed)
    held = set(valid)
    order = sorted((r for r in dataset.episodes if r["id"] not in held),
                   key=lambda r: (r.get("game", 0), r["id"]))
    train = [r["id"] for r in order][:games]
    if games is not None and len(train) < games:
        raise PapertoolsError(f"asked for {games} training games; {dataset.path} has "
                              f"{len(train)} besides the {len(valid)} held out")
    return train, valid


# ---------------------------------------------------------------------------------------------
# 2-3. Models and cloning


def policy_settings(config: CloneConfig, n_actions: int, n_strategies: int) -> tuple[str, dict]:
    """(policy kind, its keyword arguments) for ``config.model``."""
    from papertools.core.learn.hihack_net import matched_flat_kwargs

    torso = dict(mode="tty", crop=config.crop, embed_dim=config.embed_dim)
    hier = dict(torso, hidden=config.hidden, head_hidden=config.head_hidden,
                n_strategies=n_strategies, tau=config.tau,
                straight_through=config.straight_through, oracle=config.oracle,
                eval_strategy=config.eval_strategy)
    if config.model == "hier":
        return "hihack", hier
    return "nethack", matched_flat_kwargs(n_actions, **hier)


def clone(dataset, run_dir, config: CloneConfig | None = None, resume: bool = False,
          log=None, progress: bool = False, **overrides) -> dict:
    """Clone ``dataset`` (an nhrecord or a converted trajectory dataset folder) into the run
    folder ``run_dir`` (RUN/policy at the end); ``overrides`` set CloneConfig fields
    (``clone(ds, run, model="flat")``). Returns BC's summary with the held-out per-strategy
    action accuracy (also in RUN/accuracy.json)."""
    from papertools.core.jsonl import write_json
    from papertools.core.learn.bc import BCConfig, train_bc
    from papertools.core.trajectories import TrajectoryDataset

    config = CloneConfig(**{**asdict(config or CloneConfig()), **overrides})
    if config.model not in MODELS:
        raise PapertoolsError(f"unknown model {config.model!r} (known: {', '.join(MODELS)})")
    if config.oracle and config.model != "hier":
        raise PapertoolsError("the oracle ablation needs the hierarchical model (--model hier)")
    data = TrajectoryDataset(prepare_dataset(dataset))
    vocab = data.meta.get("labels", {}).get("strategy")
    if vocab is None:
        raise PapertoolsError(f"{data.path} has no per-step 'strategy' label (not nhrecord's)")
    train, valid = split_games(data, config.games, config.valid_games, config.split_seed)
    n_actions = len(data.meta["actions"]["keys"])
    kind, kwargs = policy_settings(config, n_actions, len(vocab))
    hier = config.model == "hier"
    bc = BCConfig(policy=kind, policy_kwargs=kwargs, seq_len=config.seq_len,
                  batch_size=config.batch_size, epochs=config.epochs, lr=config.lr,
                  max_grad_norm=config.max_grad_norm,
                  policy_labels={"strategy": config.strategy_coef} if hier else {},
                  label_obs={"strategy": "strategy"} if config.oracle else {},
                  obs_keys=["tty_chars", "tty_colors", "tty_cursor"], seed=config.seed,
                  device=config.device, threads=config.threads, save_every=config.save_every,
                  **config.extra)
    summary = train_bc(bc, GameSplit(data, train, valid), run_dir, resume=resume, log=log,
                       progress=progress)
    accuracy_file = Path(run_dir) / "accuracy.json"
    if accuracy_file.exists():
        import orjson

        accuracy = orjson.loads(accuracy_file.read_bytes())
    else:
        accuracy = strategy_accuracy(Path(run_dir) / "policy", data, valid, config)
        write_json(accuracy_file, accuracy)
    return dict(summary, games=len(train), valid_games=len(valid), model=config.model,
                accuracy=accuracy)


def strategy_accuracy(policy_dir, data, ids, config: CloneConfig) -> dict:
    """Action accuracy of the policy on the episodes ``ids`` (the recurrent state carried
    through each episode, the policy in eval mode: its argmax strategy, or the true one for
    the oracle), per true strategy: {"all": {...}, name: {"accuracy", "steps"}}."""
    import torch

    from papertools.core.learn.policies import load_policy

    policy, meta = load_policy(policy_dir)
    vocab = data.meta["labels"]["strategy"]
    oracle = bool(meta["kwargs"].get("oracle"))
    correct, count = np.zeros(len(vocab) + 1), np.zeros(len(vocab) + 1)
    with torch.no_grad():
        for i in ids:
            arrays = data.load(i)
            steps = len(arrays["actions"])
            obs = {k: torch.as_tensor(arrays[f"obs/{k}"][:steps])[None]
                   for k in ("tty_chars", "tty_colors", "tty_cursor")}
            labels = arrays["label/strategy"].astype(np.int64)
            if oracle:
                obs["strategy"] = torch.as_tensor(labels)[None]
            first = torch.zeros(1, steps, dtype=torch.bool)
            first[0, 0] = True
            state = None
            hits = []
            for start in range(0, steps, config.seq_len):  # windows: bounded memory
                part = {k: v[:, start:start + config.seq_len] for k, v in obs.items()}
                logits, _, state = policy.forward_sequence(
                    part, state, first[:, start:start + config.seq_len])
                hits.append(logits[0].argmax(-1).numpy() == arrays["actions"][start:start
                                                                             + config.seq_len])
            hits = np.concatenate(hits)
            np.add.at(correct, labels, hits)  # label -1 lands in the last cell (unlabelled)
            np.add.at(count, labels, 1)
    out = {"all": {"accuracy": _ratio(correct.sum(), count.sum()), "steps": int(count.sum())}}
    for c, name in enumerate(vocab):
        if count[c]:
            out[name] = {"accuracy": _ratio(correct[c], count[c]), "steps": int(count[c])}
    return out


def _ratio(a, b) -> float:
    return round(float(a) / float(b), 5) if b else float("nan")


# ---------------------------------------------------------------------------------------------
# 4. Evaluation in the game


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """The evaluation games' seeds: from (seed, EVAL_KEY, i), never a recording's."""
    from papertools.core.seed import derive_seed

    return [derive_seed(seed, EVAL_KEY, i) % 2**62 for i in range(episodes)]


_LOADED: dict = {}  # policy folder -> policy, loaded once per process


def play(unit: tuple) -> dict:
    """One game: ``unit`` = (agent, policy_dir or None, game seed, max_steps). The policy samples
    its actions from a generator seeded by the game's seed. Returns {"seed", "score",
    "depth", "steps", "turns", "seconds"}."""
    import torch
    from nle import nethack as nh

    from papertools.core.envs import make_env
    from papertools.core.envs.nle import NATIVE_KEYS, OBS_KEYS, with_keys
    from papertools.core.nethack.agent import make_agent
    from papertools.core.seed import numpy_rng

    agent_kind, policy_dir, seed, max_steps = unit
    env = make_env(ENV, observation_keys=with_keys(NATIVE_KEYS, OBS_KEYS), max_steps=max_steps,
                   no_progress_timeout=2 * NO_PROGRESS_STEPS,  # NLE 1.3 counts each twice
                   fix_moon_phase=True)
    policy = agent = None
    if agent_kind == "policy":
        if policy_dir not in _LOADED:
            from papertools.core.learn.policies import load_policy

            torch.set_num_threads(1)
            _LOADED[policy_dir] = load_policy(policy_dir)[0].eval()
        policy = _LOADED[policy_dir]
        keys = list(policy.observation_space.spaces)
        generator = torch.Generator().manual_seed(int(seed))
        state = policy.initial_state(1)
    else:
        agent = make_agent("symbolic" if agent_kind == "expert" else "random",
                           numpy_rng(seed, 7))
        key_to_index = {}
        for i, a in enumerate(env.env.unwrapped.actions):
            key_to_index.setdefault(int(a), i)
    started = time.perf_counter()
    score = steps = 0
    try:
        obs, _ = env.reset(seed=seed)
        depth = int(obs["blstats"][nh.NLE_BL_DEPTH])
        done = False
        while not done:
            if policy is not None:
                with torch.no_grad():
                    batch = {k: np.asarray(obs[k])[None] for k in keys}
                    logits, _, state = policy(batch, state, torch.tensor([steps == 0]))
                action = int(torch.multinomial(torch.softmax(logits[0], -1), 1,
                                               generator=generator))
            else:
                action = key_to_index.get(int(agent.act(obs)), 0)
            obs, reward, terminated, truncated, _ = env.step(action)
            score += reward
            steps += 1
            depth = max(depth, int(obs["blstats"][nh.NLE_BL_DEPTH]))
            done = terminated or truncated
        turns = int(obs["blstats"][nh.NLE_BL_TIME])
    finally:
        env.close()
    return {"seed": seed, "score": int(round(score)), "depth": depth, "steps": steps,
            "turns": turns, "seconds": round(time.perf_counter() - started, 3)}


def summarise(games: list[dict], seed: int = 0, reps: int = 2000) -> dict:
    """Median score, quartiles, mean, the bootstrap 95% interval of the median (``reps``
    resamples of the games, seeded), median depth, steps per second."""
    from papertools.core.seed import numpy_rng

    scores = np.array([g["score"] for g in games], float)
    rng = numpy_rng(seed, BOOT_KEY)
    medians = np.median(scores[rng.integers(len(scores), size=(reps, len(scores)))], axis=1)
    lo, hi = np.percentile(medians, [2.5, 97.5])
    q1, med, q3 = np.percentile(scores, [25, 50, 75])
    seconds = sum(g["seconds"] for g in games)
    return {"episodes": len(games), "median": float(med), "q1": float(q1), "q3": float(q3),
            "mean": round(float(scores.mean()), 2), "median_ci": [float(lo), float(hi)],
            "depth": float(np.median([g["depth"] for g in games])),
            "mean_steps": round(float(np.mean([g["steps"] for g in games])), 1),
            "steps_per_s": round(sum(g["steps"] for g in games) / max(seconds, 1e-9), 1),
            "scores": [g["score"] for g in games]}


def evaluate(policy_dir=None, episodes: int = 200, seed: int = 0, max_steps: int = 5000,
             workers: int = 1, expert: bool = False, random: bool = False,
             engine: str = "auto", on_game=None) -> dict:
    """Play ``episodes`` games per agent on the same seeds: the policy (when ``policy_dir``),
    the expert and the random agent (when asked). Returns {"seeds": [...], agent: summary}
    (see :func:`summarise`); ``on_game(agent, game)`` after each game."""
    from papertools.core.parallel import ordered_map

    agents = [a for a, on in zip(AGENTS, (policy_dir is not None, expert, random)) if on]
    if not agents:
        raise PapertoolsError("nothing to evaluate: give a policy, the expert or random")
    path = None if policy_dir is None else str(Path(policy_dir).resolve())
    seeds = eval_seeds(seed, episodes)
    units = [(a, path, s, max_steps) for a in agents for s in seeds]
    games: dict = {a: [] for a in agents}
    for unit, game in zip(units, ordered_map(play, units, workers=workers, engine=engine,
                                             chunk_size=1)):
        games[unit[0]].append(game)
        if on_game:
            on_game(unit[0], game)
    return {"seeds": seeds, "max_steps": max_steps,
            **{a: summarise(g, seed) for a, g in games.items()}}


__all__ = ["AGENTS", "CloneConfig", "EVAL_KEY", "GameSplit", "MODELS", "clone", "eval_seeds",
           "evaluate", "play", "prepare_dataset", "split_games", "strategy_accuracy",
           "summarise"]
