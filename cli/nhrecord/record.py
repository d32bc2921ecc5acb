"""Recording many games into a dataset folder: atomic games, resume, workers, step records.

Layout of ``--out-dir DIR``::

    DIR/nhrecord.json                  what the dataset is (format, seed, agent, max_steps, role)
    DIR/summary.jsonl                  one record per finished game, in game order (the games table)
    DIR/game-00000/nle.0.0.ttyrec3.bz2 NLE's ttyrec (v3: screens, keypresses, scores)
    DIR/game-00000/nle.0.xlogfile      NLE's xlogfile line (what populate_db indexes)
    DIR/game-00000/nle.0.strategies.npy the sidecar, one row per ttyrec keypress (game.py)
    DIR/game-00000/game.json           the game's summary (the summary.jsonl record)
    DIR/game-00000/timing.json         wall-clock seconds (not reproducible, kept apart)

A game is played in ``DIR/.partial-game-00000/`` and renamed when complete, so a folder named
``game-*`` is always a whole game and NLE's loaders (which glob ``DIR/*/*.xlogfile``) never see a
half one. ``--resume`` skips games whose folder exists and removes stale partial folders.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import orjson

from papertools.core.errors import InputError, PapertoolsError
from papertools.core.jsonl import write_atomic, write_json
from papertools.core.locks import LOCK, lock_folder

from papertools.core.nethack.dataset import MARKER, SUMMARY, finished_games

from .game import GameConfig, GameResult, game_name, play_game, remove_tree

FORMAT = "papertools-nhrecord"
VERSION = 1
PARTIAL_PREFIX = ".partial-"


def settings_of(config: GameConfig) -> dict:
    return {"seed": config.seed, "agent": config.agent, "max_steps": config.max_steps,
            "role": config.role}


def prepare_dir(out_dir: str, config: GameConfig, resume: bool) -> tuple[Path, int]:
    """Create or check the dataset folder and lock it for this recorder; returns it and the
    lock's descriptor (close it to release). Raises a clear error when the folder holds
    something else, another dataset, games while --resume was not given, or is being recorded
    by another process."""
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError("exists and is not a folder", str(root))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PapertoolsError(f"cannot create the folder: {exc.strerror or exc}", str(root)) \
            from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise PapertoolsError("cannot write to the folder (permission denied)", str(root))
    had_lock = (root / LOCK).exists()
    lock = lock_folder(root, "recorder")  # before the stale partial games below are removed
    try:
        _check_dir(root, config, resume)
    except BaseException:
        if not had_lock:  # a folder refused is left as it was
            (root / LOCK).unlink(missing_ok=True)
        os.close(lock)
        raise
    return root, lock


def _check_dir(root: Path, config: GameConfig, resume: bool) -> None:
    marker = root / MARKER
    wanted = {"format": FORMAT, "version": VERSION, **settings_of(config)}
    if marker.exists():
        try:
            have = orjson.loads(marker.read_bytes())
        except (orjson.JSONDecodeError, OSError) as exc:
            raise InputError(f"unreadable dataset description: {exc}", str(marker)) from None
        if not isinstance(have, dict) or have.get("format") != FORMAT:
            raise InputError("not an nhrecord dataset description", str(marker))
        diff = [f"{k} {have.get(k)!r} (asked {v!r})" for k, v in wanted.items() if have.get(k) != v]
        if diff:
            raise InputError("the folder holds another dataset: " + ", ".join(diff) +
                             "; use a new --out-dir", str(root))
        games = finished_games(root)
        if games and not resume:
            raise InputError(f"the folder already holds {len(games)} games; pass --resume to "
                             "continue it, or use a new --out-dir", str(root))
    else:
        others = [p.name for p in root.iterdir()
                  if not p.name.startswith(PARTIAL_PREFIX) and p.name != LOCK]
        if others:
            raise InputError(f"the folder is not empty ({', '.join(sorted(others)[:3])}"
                             f"{', ...' if len(others) > 3 else ''}) and is not an nhrecord "
                             "dataset; use a new or empty --out-dir", str(root))
        write_json(marker, wanted)
    for stale in root.glob(PARTIAL_PREFIX + "*"):
        remove_tree(stale)


def write_summary(root: Path) -> list[dict]:
    """Rebuild DIR/summary.jsonl from the finished games' game.json (atomically)."""
    rows = [orjson.loads((folder / "game.json").read_bytes())
            for folder in finished_games(root).values()]
    write_atomic(root / SUMMARY, b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return rows


def run_game(config: GameConfig, index: int, to_stdout: bool = False) -> GameResult:
    """Play one game (in this process or a worker) and, with an out-dir, finish it atomically.

    Step records go straight to stdout when ``to_stdout`` (one inline worker), else they come
    back in the result."""
    chunks: list[bytes] = []
    if to_stdout:
        out = sys.stdout.buffer
        interactive = out.isatty()

        def sink(line):
            out.write(line)
            if interactive:
                out.flush()
    else:
        sink = chunks.append
    partial = None
    if config.out_dir is not None:
        partial = Path(config.out_dir) / f"{PARTIAL_PREFIX}{game_name(index)}"
        remove_tree(partial)
    try:
        result = play_game(config, index, str(partial) if partial else None, sink)
        if partial is not None:
            write_json(partial / "game.json", result.summary)
            write_json(partial / "timing.json", {"seconds": round(result.extra["seconds"], 3)})
            final = Path(config.out_dir) / game_name(index)
            if final.exists():
                raise PapertoolsError("a finished game is already there", str(final))
            os.rename(partial, final)
            result.folder = str(final)
    except BaseException as exc:
        if partial is not None:
            remove_tree(partial)
        if isinstance(exc, Exception) and not isinstance(exc, (PapertoolsError, BrokenPipeError)):
            raise PapertoolsError(f"game {index} failed: {exc}") from exc
        raise
    result.jsonl = b"".join(chunks)
    return result


def record(config: GameConfig, episodes: int, *, workers: int = 1, engine: str = "auto",
           resume: bool = False, on_game=None) -> list[dict]:
    """Play games 0..episodes-1 (skipping finished ones with --resume); step records go to
    stdout when ``config.jsonl``. ``on_game(summary)`` is called as each game finishes, in order.
    Returns the summaries of the games played in this run."""
    from papertools.core.parallel import ordered_map, resolve_engine

    root, lock = prepare_dir(config.out_dir, config, resume) if config.out_dir else (None, None)
    played = []
    try:  # from here on the folder is ours: released (and summarised) however this ends
        done = finished_games(root) if root is not None else {}
        todo = [i for i in range(episodes) if i not in done]
        inline = resolve_engine(engine, workers) == "inline"
        work = functools.partial(run_game, config, to_stdout=inline and config.jsonl)
        for result in ordered_map(work, todo, workers=workers, engine=engine, chunk_size=1,
                                  window=max(2, workers)):
            if result.jsonl:
                sys.stdout.buffer.write(result.jsonl)
                sys.stdout.buffer.flush()
            played.append(result.summary)
            if on_game is not None:
                on_game(result.summary)
    finally:
        if root is not None:
            with contextlib.suppress(OSError):
                write_summary(root)
            os.close(lock)  # releases the folder
    return played
