"""Subgoals without language: K discrete latent codes found by hard EM (option discovery).

The paper's baseline "HRL without the supervised subgoal space": the same two-level agent, but
its subgoal vocabulary is K code words ("code one" .. "code K") that nobody named. Read top to
bottom:

1. Each demonstration is cut into fixed-length chunks of ``segment`` steps (the last one
   shorter). Only the observations, the actions and the episode's mission are read: never the
   input's labels (its language subgoals, phrases, kinds or segment boundaries).
2. Initial codes: seeded k-means (numpy) over a summary of each chunk that uses no language:
   the chunk's action histogram, the histogram of (kind of object in front, action) pairs (what
   is done facing what), the object carried at its start and at its end, and the kind, colour
   and state of the cell in front of the agent at its end (all read from the 7x7 grid: minigrid
   draws the carried object on the agent's own cell, (3, 6)). Each block is scaled to unit
   variance per column, then weighted (:data:`SUMMARY_WEIGHTS`). (Hard EM keeps what it
   starts from when the chunks' own actions decide their codes: a start that knows nothing of
   the behaviours is a fixed point, so the start matters.)
3. ``rounds`` rounds of hard EM:
   (M) the code-conditioned low level is cloned by core.learn.bc (the mission is the chunk's
   code word; the recurrent state resets at every chunk; a "finished" head predicts the chunk's
   last step), warm-started from the previous round's;
   (E) every chunk takes the code under which that low level gives the chunk's actions the
   highest log-likelihood (all chunks x all codes, batched, without gradients; a tie keeps the
   old code, so the total log-likelihood never falls).
   Each round logs the code usage, the fraction of chunks reassigned and the mean per-step
   action log-likelihood before and after the E-step.
4. OUT/dataset: the input's episodes in the shared format (labels "subgoal" and "phrase" = the
   code words, "start"/"finished" = the chunks, "kind" = ["latent"]), so the high level trains
   on it unchanged; OUT/low: the run folder (core.training's RunDir; each round's BC run under
   rounds/), OUT/low/policy the final low level with its aux_heads.pt.

A round is the unit of resumption: --resume keeps the finished rounds (and BC resumes inside an
unfinished one); Ctrl-C keeps them too.

Segments are the chunks: two neighbouring chunks with the same code stay two segments (the low
level's "finished" head learns the fixed length, and the high level chooses again after each).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError

NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
           "fifteen sixteen seventeen eighteen nineteen twenty").split()
KMEANS_KEY, KMEANS_ITERS, KMEANS_RESTARTS = 0x6B6D, 50, 4  # "km": k-means' random stream
OBJECT_TYPES, COLOURS, DOOR_STATES = 11, 6, 3  # minigrid's OBJECT_TO_IDX, COLOR_TO_IDX, states
AGENT_CELL, FRONT_CELL = (3, 6), (3, 5)  # in the egocentric 7x7 view
MUTABLE = ("threads", "device")
# the chunk summary's blocks and their weights: what is done facing what ("paired") is the most
# direct trace of a behaviour, so it counts twice; the others once
SUMMARY_WEIGHTS = {"actions": 1.0, "paired": 2.0, "carried": 1.0, "front": 1.0}


@dataclass
class LatentConfig:
    codes: int = 8  # K: latent subgoals (code words "code one" .. "code K")
    # steps per chunk; 3 = the mean language segment length measured on 250 UnlockPickup bot
    # demonstrations (2.2 steps between changes of bench collect's "subgoal" label), rounded up
    segment: int = 3
    rounds: int = 3  # hard-EM rounds (one M-step and one E-step each)
    # the low level's BC (core.learn.bc.BCConfig's meanings)
    # (the M-step must fit well before the E-step moves chunks: an undertrained low level's
    # preferences are noise, and the E-step then scatters a good start)
    epochs: int = 10  # per M-step
    seq_len: int = 16  # BC windows: steps
    batch_size: int = 8  # BC windows per optimiser step (small: bot demonstrations are short)
    lr: float = 1e-3
    finished_weight: float = 0.5  # weight of the "finished" head's cross-entropy
    recurrent: bool = True  # an LSTM core, reset at every chunk (it can count to the chunk's end)
    memory: int = 64  # the LSTM's width
    valid_fraction: float = 0.0  # BC's held-out episodes (0: every demonstration trains)
    eval_batch: int = 512  # chunks per forward pass in the E-step
    seed: int = 0
    threads: int = 1  # torch threads (0: torch's default)
    device: str = "cpu"


def code_words(k: int) -> list[str]:
    """The K code words: "code one", "code two", ..."""
    if not 1 <= k <= len(NUMBERS):
        raise PapertoolsError(f"--codes must be between 1 and {len(NUMBERS)}, got {k}")
    return [f"code {n}" for n in NUMBERS[:k]]


# ---------------------------------------------------------------------------------------------
# The demonstrations as chunks


@dataclass
class Chunks:
    """Every chunk of every episode, in dataset order: ``episode`` [N] (index into ``ids``),
    ``start`` and ``length`` [N], and the episodes' arrays (image [T+1, 7, 7, 3], actions [T])."""

    ids: list[str]
    episode: np.ndarray
    start: np.ndarray
    length: np.ndarray
    images: list[np.ndarray]
    actions: list[np.ndarray]
    missions: list[str]

    def __len__(self) -> int:
        return len(self.start)

    def of(self, e: int) -> np.ndarray:
        """The chunk indices of episode ``e``."""
        return np.flatnonzero(self.episode == e)


def read_chunks(dataset, segment: int) -> Chunks:
    """The dataset's episodes cut into ``segment``-step chunks; reads only the image, the
    actions and the mission (no label)."""
    if segment < 1:
        raise PapertoolsError(f"--segment must be at least 1, got {segment}")
    if "image" not in dataset.meta.get("observation", {}):
        raise PapertoolsError(f"{dataset.path}: not a BabyAI dataset (no image observation)")
    ids, images, actions, missions, episode, start, length = [], [], [], [], [], [], []
    for record in dataset.episodes:
        steps = record["length"]
        if steps == 0:
            continue
        arrays = dataset.load(record["id"], keys=["image"])
        e = len(ids)
        ids.append(record["id"])
        images.append(np.asarray(arrays["obs/image"]))
        actions.append(np.asarray(arrays["actions"]))
        missions.append(str(record.get("mission", "")))
        for s in range(0, steps, segment):
            episode.append(e)
            start.append(s)
            length.append(min(segment, steps - s))
    if not ids:
        raise PapertoolsError(f"{dataset.path}: no episode with a step")
    return Chunks(ids, np.asarray(episode), np.asarray(start), np.asarray(length), images,
                  actions, missions)


def chunk_summary(chunks: Chunks, n_actions: int) -> np.ndarray:
    """[N, D] language-free summary per chunk (module docstring, step 2)."""
    blocks = {"actions": [], "paired": [], "carried": [], "front": []}
    eye_obj, eye_col, eye_state = (np.eye(n) for n in (OBJECT_TYPES, COLOURS, DOOR_STATES))
    for e, s, n in zip(chunks.episode, chunks.start, chunks.length):
        image, acts = chunks.images[e], chunks.actions[e][s:s + n]
        blocks["actions"].append(np.bincount(acts, minlength=n_actions)[:n_actions] / n)
        seen = np.minimum(image[s:s + n, FRONT_CELL[0], FRONT_CELL[1], 0], 10).astype(np.int64)
        blocks["paired"].append(np.bincount(seen * n_actions + np.minimum(acts, n_actions - 1),
                                            minlength=OBJECT_TYPES * n_actions) / n)
        before, after = image[s][AGENT_CELL], image[s + n][AGENT_CELL]
        blocks["carried"].append(np.concatenate([eye_obj[min(before[0], 10)],
                                                 eye_obj[min(after[0], 10)],
                                                 eye_col[min(after[1], 5)]]))
        front = image[s + n][FRONT_CELL]
        blocks["front"].append(np.concatenate([eye_obj[min(front[0], 10)],
                                               eye_col[min(front[1], 5)],
                                               eye_state[min(front[2], 2)]]))
    out = []
    for name, rows in blocks.items():
        x = np.asarray(rows, np.float64)
        std = x.std(0)
        x = (x - x.mean(0)) / np.where(std > 1e-6, std, 1.0)
        # each block's total variance: its weight squared
        out.append(x * SUMMARY_WEIGHTS[name] / np.sqrt(max(1, int((std > 1e-6).sum()))))
    return np.concatenate(out, 1)


def kmeans(x: np.ndarray, k: int, seed: int, iters: int = KMEANS_ITERS,
           restarts: int = KMEANS_RESTARTS) -> np.ndarray:
    """Cluster ids [N] by Lloyd's k-means with k-means++ seeding, the best of ``restarts``
    (lowest within-cluster sum of squares); seeded, deterministic."""
    from papertools.core.seed import numpy_rng

    n = len(x)
    k = min(k, n)
    best, best_cost = None, np.inf
    for restart in range(restarts):
        rng = numpy_rng(seed, KMEANS_KEY, restart)
        centres = [x[rng.integers(n)]]
        for _ in range(1, k):
            d = np.min([((x - c) ** 2).sum(1) for c in centres], 0)
            p = d / d.sum() if d.sum() > 0 else np.full(n, 1 / n)
            centres.append(x[rng.choice(n, p=p)])
        centres = np.asarray(centres)
        labels = np.zeros(n, np.int64)
        for _ in range(iters):
            dist = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
            new = dist.argmin(1)
            if _ > 0 and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if (labels == j).any():
                    centres[j] = x[labels == j].mean(0)
        cost = ((x - centres[labels]) ** 2).sum()
        if cost < best_cost:
            best, best_cost = labels, cost
    return best


# ---------------------------------------------------------------------------------------------
# The E-step


def chunk_loglik(policy, chunks: Chunks, words: list[str], batch: int = 512) -> np.ndarray:
    """[N, K]: the summed log-probability of each chunk's actions under the low level told
    each code word, the recurrent state starting afresh at the chunk (as BC trained it)."""
    import torch

    n, width = len(chunks), int(chunks.length.max())
    image = np.zeros((n, width, 7, 7, 3), np.uint8)
    actions = np.zeros((n, width), np.int64)
    mask = np.zeros((n, width), bool)
    for i, (e, s, m) in enumerate(zip(chunks.episode, chunks.start, chunks.length)):
        image[i, :m] = chunks.images[e][s:s + m]
        actions[i, :m] = chunks.actions[e][s:s + m]
        mask[i, :m] = True
    out = np.zeros((n, len(words)))
    first = torch.zeros(1, width, dtype=torch.bool)
    first[:, 0] = True
    policy.eval()
    with torch.no_grad(), policy.frozen():
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            img = torch.from_numpy(image[lo:hi])
            act = torch.from_numpy(actions[lo:hi])
            msk = torch.from_numpy(mask[lo:hi])
            for k, word in enumerate(words):
                obs = {"image": img, "mission": [[word] * width] * (hi - lo)}
                logits, _, _ = policy.forward_sequence(obs, None, first.expand(hi - lo, -1))
                logp = torch.log_softmax(logits.float(), -1).gather(-1, act[..., None])[..., 0]
                out[lo:hi, k] = (logp * msk).sum(1).double().numpy()
    return out


def reassign(loglik: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hard EM's E-step: each chunk's most likely code; a tie keeps the current code."""
    best = loglik.argmax(1)
    rows = np.arange(len(codes))
    keep = loglik[rows, codes] >= loglik[rows, best]
    return np.where(keep, codes, best)


# ---------------------------------------------------------------------------------------------
# The coded dataset (what BC reads each round, and what OUT/dataset holds)


LABELS = ("subgoal", "phrase", "start", "finished", "kind")


def coded_meta(source_meta: dict, words: list[str], config: LatentConfig, source: str) -> dict:
    """dataset.json of the coded dataset: the source's environment, observations and action
    words, the code vocabulary as the labels (interface A)."""
    meta = {k: v for k, v in source_meta.items()
            if k in ("env", "observation", "action_words")}
    meta["labels"] = {"subgoal": list(words), "phrase": list(words), "start": ["no", "yes"],
                      "finished": ["no", "yes"], "kind": ["latent"]}
    meta["hrl"] = {"held_out_templates": [], "corrupt": 0.0,
                   "latent": {"codes": config.codes, "segment": config.segment,
                              "rounds": config.rounds, "seed": config.seed,
                              "source": source}}
    return meta


def code_labels(chunks: Chunks, codes: np.ndarray, e: int) -> dict[str, np.ndarray]:
    """Episode ``e``'s per-step label arrays under the chunk ``codes``."""
    steps = len(chunks.actions[e])
    subgoal = np.zeros(steps, np.int32)
    start = np.zeros(steps, np.int32)
    finished = np.zeros(steps, np.int32)
    for i in chunks.of(e):
        s, n = chunks.start[i], chunks.length[i]
        subgoal[s:s + n] = codes[i]
        start[s] = 1
        finished[s + n - 1] = 1
    return {"label/subgoal": subgoal, "label/phrase": subgoal.copy(), "label/start": start,
            "label/finished": finished, "label/kind": np.zeros(steps, np.int32)}


def _coded_view(source, chunks: Chunks, codes: np.ndarray, meta: dict):
    """The source dataset seen with the codes as its labels (its own labels dropped), for BC."""
    from papertools.core.trajectories import TrajectoryDataset

    index = {rid: e for e, rid in enumerate(chunks.ids)}

    class Coded(TrajectoryDataset):
        def __init__(self):  # shares the source's episode list; no file of its own
            self.path, self.meta, self.cache_size = source.path, meta, 0
            self._cache = {}
            self.episodes, self._by_id, self._lines = (source.episodes, source._by_id,
                                                       source._lines)

        def load(self, episode_id, keys=None):
            arrays = {k: v for k, v in source.load(episode_id, keys).items()
                      if not k.startswith("label/")}
            arrays.update(code_labels(chunks, codes, index[episode_id]))
            return arrays

    view = Coded()
    view.episodes = [r for r in source.episodes if r["id"] in index]  # steps > 0
    return view


def write_dataset(path: Path, source, chunks: Chunks, codes: np.ndarray, meta: dict) -> int:
    """OUT/dataset: every episode's observations, actions and rewards with the code labels
    (resumable: episodes already there are kept)."""
    from papertools.core.trajectories import TrajectoryWriter

    keep = ("id", "seed", "success", "mission", "task", "progression", "agent", "return")
    with TrajectoryWriter(path, meta, resume=path.exists()) as writer:
        for e, rid in enumerate(chunks.ids):
            if rid in writer.done_ids:
                continue
            arrays = {k: v for k, v in source.load(rid).items() if not k.startswith("label/")}
            arrays.update(code_labels(chunks, codes, e))
            record = {k: v for k, v in source.record(rid).items() if k in keep}
            writer.add(record, arrays)
        return len(writer.done_ids)


# ---------------------------------------------------------------------------------------------
# The loop


def learn_latent(dataset, out_dir, config: LatentConfig, resume: bool = False,
                 progress: bool = False, log=None, on_round=None) -> dict:
    """Discover ``config.codes`` latent subgoals in the demonstrations at ``dataset`` by hard
    EM; writes OUT/dataset and OUT/low (module docstring). ``log(record)`` receives the log
    records (default: standard output); ``on_round(round)`` is called after each finished
    round. Returns the summary."""
    import torch

    from papertools.core.jsonl import atomic_path
    from papertools.core.learn.bc import BCConfig, train_bc
    from papertools.core.learn.policies import load_policy, mission_vocab
    from papertools.core.training import RunDir, digest
    from papertools.core.trajectories import TrajectoryDataset

    if config.threads:
        torch.set_num_threads(config.threads)
    if config.rounds < 1:
        raise PapertoolsError(f"--rounds must be at least 1, got {config.rounds}")
    words = code_words(config.codes)
    out = Path(out_dir)
    source = TrajectoryDataset(dataset)
    chunks = read_chunks(source, config.segment)
    if len(chunks) < config.codes:
        raise PapertoolsError(f"{len(chunks)} chunks cannot fill {config.codes} codes: fewer "
                              "codes, a shorter --segment or more demonstrations")
    if not resume and (out / "dataset").exists():
        raise PapertoolsError(f"{out / 'dataset'} exists: --resume continues, or choose "
                              "another --out-dir")
    meta = coded_meta(source.meta, words, config, str(source.path))
    settings = dict(asdict(config), dataset=str(source.path),
                    episodes_sha256=digest(source.episodes), kind="latent")
    with RunDir(out / "low", settings, resume=resume, mutable=MUTABLE, echo=log) as run:
        if run.finished:
            return run.finished
        folder = run.path
        n_actions = int(source.meta.get("action_words") and len(source.meta["action_words"])
                        or 7)
        codes_path = folder / "codes-00.npy"
        if not codes_path.exists():
            started = time.perf_counter()
            codes = kmeans(chunk_summary(chunks, n_actions), config.codes, config.seed)
            with atomic_path(codes_path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, codes)
            run.log({"round": 0, "frames": 0, "chunks": len(chunks),
                     "usage": np.bincount(codes, minlength=config.codes).tolist(),
                     "seconds": round(time.perf_counter() - started, 3), "init": "kmeans"})
            run.save_checkpoint(state={"round": 0})  # the folder is kept from here on
        saved = run.load_checkpoint()
        done = saved.state["round"] if saved is not None else 0
        codes = np.load(folder / f"codes-{done:02d}.npy")
        frames = saved.state.get("frames", 0) if saved is not None else 0
        bc = BCConfig(policy="babyai",
                      policy_kwargs={"vocab": mission_vocab(" ".join(words).split()),
                                     "recurrent": config.recurrent, "memory": config.memory},
                      seq_len=config.seq_len, batch_size=config.batch_size,
                      epochs=config.epochs, lr=config.lr, valid_fraction=config.valid_fraction,
                      aux_labels={"finished": config.finished_weight},
                      text_labels={"mission": "phrase"}, reset_label="start", seed=config.seed,
                      device=config.device, threads=config.threads, log_every=10 ** 9)
        for r in range(done + 1, config.rounds + 1):
            started = time.perf_counter()
            round_dir = folder / "rounds" / f"r{r:02d}"
            warm = None
            if r > 1:
                warm, _ = load_policy(folder / "rounds" / f"r{r - 1:02d}" / "policy")
            view = _coded_view(source, chunks, codes, meta)
            summary = train_bc(bc, view, round_dir, resume=round_dir.exists(), policy=warm,
                               log=lambda record: None, progress=progress)
            m_seconds = time.perf_counter() - started
            policy, _ = load_policy(round_dir / "policy")
            ll = chunk_loglik(policy, chunks, words, config.eval_batch)
            new = reassign(ll, codes)
            rows, steps = np.arange(len(codes)), int(chunks.length.sum())
            frames += summary["frames"]
            record = {"round": r, "frames": frames,
                      "usage": np.bincount(new, minlength=config.codes).tolist(),
                      "reassigned": round(float((new != codes).mean()), 5),
                      "loglik_before": round(float(ll[rows, codes].sum() / steps), 6),
                      "loglik": round(float(ll[rows, new].sum() / steps), 6),
                      "m_seconds": round(m_seconds, 3),
                      "seconds": round(time.perf_counter() - started, 3)}
            codes = new
            with atomic_path(folder / f"codes-{r:02d}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, codes)
            run.log(record)
            run.save_checkpoint(state={"round": r, "frames": frames})
            if on_round is not None:
                on_round(r)
        final = folder / "rounds" / f"r{config.rounds:02d}" / "policy"
        tmp = folder / "policy.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(final, tmp)
        shutil.rmtree(folder / "policy", ignore_errors=True)
        tmp.rename(folder / "policy")
        written = write_dataset(out / "dataset", source, chunks, codes, meta)
        summary = {"finished": True, "codes": config.codes, "segment": config.segment,
                   "rounds": config.rounds, "chunks": len(chunks), "episodes": written,
                   "usage": np.bincount(codes, minlength=config.codes).tolist(),
                   "frames": frames, "dataset": str(out / "dataset"),
                   "policy": str(folder / "policy"), "config": asdict(config)}
        run.finish(summary)
        return summary



# ---------------------------------------------------------------------------------------------
# Diagnostics: how the codes align with language (reads the labels; training never does)


def evaluate_codes(out_dir, language_dataset, label: str = "subgoal") -> dict:
    """How the learned codes of OUT/dataset align with ``label`` of ``language_dataset`` (the
    demonstrations they were learned from, matched by episode id), per step: purity (the share
    of steps whose code's most common subgoal is theirs), normalised mutual information
    (arithmetic normalisation) and each code's usage and most common subgoal."""
    from papertools.core.trajectories import TrajectoryDataset

    coded = TrajectoryDataset(Path(out_dir) / "dataset")
    language = TrajectoryDataset(language_dataset)
    vocab = language.meta.get("labels", {}).get(label)
    if vocab is None:
        raise PapertoolsError(f"{language.path} has no per-step label {label!r}")
    words = coded.meta["labels"]["subgoal"]
    codes, truth = [], []
    for rid in coded.ids:
        codes.append(coded.load(rid)["label/subgoal"])
        truth.append(language.load(rid)[f"label/{label}"])
    codes, truth = np.concatenate(codes), np.concatenate(truth)
    keep = truth >= 0
    codes, truth = codes[keep], truth[keep]
    table = np.zeros((len(words), len(vocab)), np.int64)
    np.add.at(table, (codes, truth), 1)
    total = table.sum()
    return {"steps": int(total), "codes": len(words),
            "purity": round(float(table.max(1).sum() / max(1, total)), 4),
            "nmi": round(_nmi(table), 4),
            "chance_purity": round(float(table.sum(0).max() / max(1, total)), 4),
            "per_code": [{"code": w, "steps": int(row.sum()),
                          "top": vocab[int(row.argmax())] if row.sum() else None,
                          "top_share": round(float(row.max() / max(1, row.sum())), 4)}
                         for w, row in zip(words, table)]}


def _nmi(table: np.ndarray) -> float:
    """Normalised mutual information of a contingency table (I / mean of the entropies)."""
    p = table / max(1, table.sum())
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum())

    def entropy(q):
        q = q[q > 0]
        return float(-(q * np.log(q)).sum())

    denom = (entropy(pa) + entropy(pb)) / 2
    return mi / denom if denom > 0 else 0.0
