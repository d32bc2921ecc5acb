"""Play and record one NetHack game: the environment, the key log, the sidecar, the step records.

The environment is NetHackChallenge with its settings unchanged (full keyboard, menus and
``--More--`` left to the agent, random character unless --role) except two, both from the
paper's data generation (hihack generate_data.py): seeds are accepted (stock nle 1.3 forbids
``seed()`` on NetHackChallenge; core.nethack.env's ``seed_game`` lifts the lock and seeds with
NLE's base ``seed(core, disp, reseed=False)``) and a game ends after 1,000 steps without a new game turn (NLE's
``no_progress_timeout``, given as 2,000 because NLE 1.3 counts each such step twice). ``fix_moon_phase`` is on, so the moon
phase and Friday 13th come from the seed, not from the clock.

Alignment of the sidecar (``nle.<game>.strategies.npy``) with the ttyrec: NLE writes one
keypress record (ttyrec channel 1) for every key sent to NetHack, and ``TtyrecDataset`` yields one
row per keypress record, the screen before the key and the key itself. The sidecar has one row per
keypress record, in the same order: ``key`` (the byte written), ``strategy`` (ordinal),
``step`` (the 0-based agent step, as in the JSONL ``step`` field) and ``agent`` (1 when the agent
chose the key; 0 when NLE sent it on its own: spaces at reset to get past the opening text, with
``step`` -1 and strategy ``init``; after an agent step, the keys that end the game, i.e.
``--More--`` at death and the quit sequence at --max-steps or no progress, with the step and
strategy of that agent step). Each agent step has exactly one row with ``agent == 1``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.nethack import strategies
from papertools.core.nethack.dataset import SIDECAR_DTYPE, SIDECAR_SUFFIX, ttyrec_keys

# NLE ends a game after this many steps without a new game turn (hihack's setting). NLE 1.3
# counts such a step twice (_check_abort runs twice per step), so it is given twice the figure.
NO_PROGRESS_STEPS = 1000
EXTRA_FILES = ("logfile", "record")
# For tests of Ctrl-C: "GAME:STEP" raises KeyboardInterrupt (what SIGINT raises) just before
# agent step STEP of game GAME, at a known point, whatever the machine's load.
INTERRUPT_ENV = "PAPERTOOLS_NHRECORD_INTERRUPT"


@dataclass(frozen=True)
class GameConfig:
    """What one game needs besides its index (picklable for worker processes)."""

    seed: int = 0
    agent: str = "symbolic"
    max_steps: int = 50_000
    role: str = "@"
    out_dir: str | None = None  # None: no ttyrec, no files (JSONL only)
    jsonl: bool = False  # build step records
    tty: bool = True  # include "tty" and "obs_blocks" in step records


@dataclass
class GameResult:
    index: int
    summary: dict
    jsonl: bytes = b""  # step records when built in a worker
    folder: str | None = None
    extra: dict = field(default_factory=dict)


def game_seeds(seed: int, index: int) -> tuple[int, int, int]:
    """(core, disp, agent) seeds of game ``index`` under ``--seed``: independent of workers."""
    from papertools.core.seed import derive_seed

    mask = (1 << 63) - 1
    return (derive_seed(seed, index, 0) & mask, derive_seed(seed, index, 1) & mask,
            derive_seed(seed, index, 2))


def game_name(index: int) -> str:
    return f"game-{index:05d}"


def make_env(config: GameConfig, savedir: str | None):
    """NetHackChallenge with the paper's settings; :func:`play_game` seeds each game through
    core.nethack.env's :func:`seed_game` (see the module docstring)."""
    from nle.env.tasks import NetHackChallenge

    kwargs = dict(character=config.role, max_episode_steps=config.max_steps,
                  no_progress_timeout=2 * NO_PROGRESS_STEPS, fix_moon_phase=True)
    if savedir is not None:
        kwargs.update(savedir=savedir, save_ttyrec_every=1)
        # NetHack also writes a plain "logfile" and a high-score "record" next to the
        # xlogfile and, when it cannot open them, prints a complaint naming the path and the
        # process id into the ttyrec; empty ones keep the recording free of both.
        os.makedirs(savedir, exist_ok=True)
        for extra in EXTRA_FILES:
            Path(savedir, f"nle.{os.getpid()}.{extra}").touch()
    return NetHackChallenge(**kwargs)


class KeyLog:
    """Every key sent to NetHack, tagged with the agent step and strategy it belongs to."""

    def __init__(self, nethack):
        self.rows: list[tuple[int, int, int, int]] = []
        self.step, self.strategy, self.agent_pending = -1, strategies.ordinal("init"), False
        inner = nethack.step

        def step(action):
            self.rows.append((int(action) & 0xFF, self.strategy, self.step,
                              1 if self.agent_pending else 0))
            self.agent_pending = False
            return inner(action)

        nethack.step = step

    def begin(self, step: int, strategy: int) -> None:
        self.step, self.strategy, self.agent_pending = step, strategy, True

    def array(self) -> np.ndarray:
        return np.array(self.rows, dtype=SIDECAR_DTYPE)


def play_game(config: GameConfig, index: int, folder: str | None = None, sink=None) -> GameResult:
    """Play game ``index``; write NLE's files into ``folder`` (when given) and step records to
    ``sink`` (a callable taking one JSONL line) when ``config.jsonl``."""
    from nle import nethack as nh

    from papertools.core.jsonl import dumps

    from papertools.core.nethack.agent import make_agent
    from papertools.core.nethack.env import seed_game

    core, disp, agent_seed = game_seeds(config.seed, index)
    env = make_env(config, folder)
    log = KeyLog(env.nethack)
    agent = make_agent(config.agent, np.random.default_rng(agent_seed))
    key_to_index = {}
    for i, a in enumerate(env.actions):
        key_to_index.setdefault(int(a), i)
    render = _renderer(config.tty) if config.jsonl else None
    episode = f"nh-{config.seed}-{index}"
    interrupt = _interrupt_step(index)
    started = time.perf_counter()
    counts = {name: 0 for name in strategies.STRATEGIES}
    score = max_depth = steps = no_progress = longest_no_progress = 0
    last_turn, max_turn, end = None, 0, "running"
    try:
        seed_game(env, core, disp)
        obs, _ = env.reset()
        max_depth = int(obs["blstats"][nh.NLE_BL_DEPTH])
        done = False
        while not done:
            if steps == interrupt:
                raise KeyboardInterrupt
            key = int(agent.act(obs))
            name = agent.strategy or "init"
            ordinal = strategies.ordinal(name)
            counts[name] += 1
            action = key_to_index.get(key)
            if action is None:
                raise RuntimeError(f"agent chose key {key}, which is not a NetHackChallenge action")
            record = None
            if render is not None:
                record = render(obs)
            log.begin(steps, ordinal)
            with warnings.catch_warnings():  # we finish games NLE fails to quit (_end_game)
                warnings.filterwarnings("ignore", message=".*smooth quitting of game failed")
                new_obs, reward, done, truncated, info = env.step(action)
            if render is not None:
                record = {"id": f"{episode}:{steps}", "episode": episode, "step": steps,
                          "obs": record["obs"], "action": record["word"](key),
                          "reward": float(reward), "done": bool(done), "strategy": ordinal,
                          "strategy_name": name, "key": key, **record["extra"]}
                sink(dumps(record))
            steps += 1
            bl = new_obs["blstats"]
            max_depth = max(max_depth, int(bl[nh.NLE_BL_DEPTH]))
            score += reward
            turn = int(bl[nh.NLE_BL_TIME])
            max_turn = max(max_turn, turn)
            if turn == last_turn:
                no_progress += 1
                longest_no_progress = max(longest_no_progress, no_progress)
            else:
                last_turn, no_progress = turn, 0
            obs = new_obs
        end = _end_reason(info, steps, config.max_steps, longest_no_progress)
        if not env.nethack._pynethack.done():
            _end_game(env.nethack)  # NLE's own quit failed: finish it so NetHack writes xlogfile
    finally:
        env.close()
    seconds = time.perf_counter() - started
    summary = {"game": index, "episode": episode, "seed": {"core": core, "disp": disp,
                                                          "agent": agent_seed},
               "agent": config.agent, "role": config.role, "max_steps": config.max_steps,
               "steps": steps, "score": int(round(score)), "max_depth": max_depth,
               "turns": max_turn, "end": end,
               "longest_no_progress": longest_no_progress,
               "strategy_counts": {k: v for k, v in counts.items() if v}}
    result = GameResult(index, summary)
    result.extra["seconds"] = seconds
    if folder is not None:
        result.summary.update(_finish_files(folder, index, log.array()))
    return result


def _interrupt_step(index: int) -> int | None:
    """The agent step of game ``index`` before which ``$PAPERTOOLS_NHRECORD_INTERRUPT``
    interrupts the run, or None."""
    game, _, step = os.environ.get(INTERRUPT_ENV, "").partition(":")
    return int(step) if game.strip() and int(game) == index else None


def _end_game(nethack, tries: int = 400) -> None:
    """End a game that NLE could not quit (it leaves some menus and prompts open): Esc out of
    whatever is open, quit (M-q, y), then answer the end-of-game screens. The keys go into the
    ttyrec (and the sidecar, as keys NLE-side rather than the agent's)."""
    esc, enter, quit_key = 27, 13, 0x80 | ord("q")
    sequence = [esc] * 4 + [quit_key, ord("y")]
    for i in range(tries):
        if nethack._pynethack.done():
            return
        if i < len(sequence):
            key = sequence[i]
        else:
            key = (enter, esc, ord("y"), quit_key)[i % 4]
        nethack.step(key)
    if not nethack._pynethack.done():
        raise RuntimeError("could not end the game in-game")


def _end_reason(info, steps, max_steps, longest_no_progress) -> str:
    status = int(info.get("end_status", 0))
    if status == 1:
        return "death"
    if steps >= max_steps:
        return "max_steps"
    if longest_no_progress >= NO_PROGRESS_STEPS - 1:
        return "no_progress"
    return "aborted" if status == -1 else "ended"


def _renderer(screens: bool):
    """Builds the text parts of a step record from an observation (core.nethack)."""
    from papertools.core.nethack import text

    def render(obs):
        blocks = text.render_blocks(obs)
        extra = {"obs_blocks": blocks, "tty": text.tty_text(obs)} if screens else {}
        return {"obs": text.render_text(blocks), "word": text.action_word, "extra": extra}

    return render


# ---------------------------------------------------------------------------------------------
# Files of a finished game


def _finish_files(folder: str, index: int, sidecar: np.ndarray) -> dict:
    """Rename NLE's files to ``nle.<game>.*`` (stable names whatever the process id), point the
    xlogfile at the renamed ttyrec, write the sidecar; check that the ttyrec holds exactly the
    keys logged. Returns the file facts for game.json."""
    folder_path = Path(folder)
    ttyrecs = sorted(folder_path.glob("nle.*.ttyrec*.bz2"))
    xlogs = sorted(folder_path.glob("nle.*.xlogfile"))
    if len(ttyrecs) != 1 or len(xlogs) != 1:
        raise RuntimeError(f"NLE wrote {len(ttyrecs)} ttyrecs and {len(xlogs)} xlogfiles in "
                           f"{folder}; expected one of each")
    suffix = re.search(r"\.0(\.ttyrec\d*\.bz2)$", ttyrecs[0].name).group(1)
    ttyrec_name = f"nle.{index}.0{suffix}"
    os.replace(ttyrecs[0], folder_path / ttyrec_name)
    lines = xlogs[0].read_text(encoding="utf-8").splitlines()
    if len(lines) != 1:
        raise RuntimeError(f"{xlogs[0]} holds {len(lines)} games; expected 1")
    fields = dict(item.split("=", 1) for item in lines[0].split("\t"))
    fields["ttyrecname"] = ttyrec_name
    xlog_name = f"nle.{index}.xlogfile"
    (folder_path / xlog_name).write_text(
        "\t".join(f"{k}={v}" for k, v in fields.items()) + "\n", encoding="utf-8")
    if xlogs[0].name != xlog_name:
        xlogs[0].unlink()
    for extra in EXTRA_FILES:  # the same game in older formats; the xlogfile has it all
        for path in folder_path.glob(f"nle.*.{extra}"):
            path.unlink()
    keys = ttyrec_keys(folder_path / ttyrec_name)
    if len(keys) != len(sidecar) or not np.array_equal(keys, sidecar["key"]):
        raise RuntimeError(f"the ttyrec of game {index} holds {len(keys)} keypresses, the key log "
                           f"{len(sidecar)}: the sidecar would not align")
    sidecar_name = f"nle.{index}{SIDECAR_SUFFIX}"
    np.save(folder_path / sidecar_name, sidecar, allow_pickle=False)
    return {"keypresses": int(len(sidecar)), "points": int(fields.get("points", 0)),
            "turns": int(fields.get("turns", 0)), "maxlvl": int(fields.get("maxlvl", 0)),
            "death": fields.get("death", ""),
            "character": "-".join(fields.get(k, "?") for k in ("role", "race", "gender",
                                                               "align")),
            "files": {"ttyrec": ttyrec_name, "xlogfile": xlog_name, "sidecar": sidecar_name}}


def remove_tree(path) -> None:
    shutil.rmtree(path, ignore_errors=True)
