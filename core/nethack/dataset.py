"""Reading nhrecord datasets: NLE's TtyrecDataset minibatches with the strategies joined in.

    from papertools.core.nethack.dataset import open_dataset
    ds = open_dataset("data/games", batch_size=32, seq_length=64)
    for mb in ds:            # NLE's keys plus "strategies", "agent_steps", "agent_keys"
        ...

The first use of a dataset folder registers it with NLE's own tooling (``nle.dataset.db.create``
and ``populate_db.add_nledata_directory``) in ``DIR/nle.db`` (in the temporary folder when DIR
is read-only), with an extra table
``nhrecord_games`` (the summary: game, seed, score, depth, turns, death, strategy counts) keyed by
NLE's gameid; the database is rebuilt when the games in the folder change.

Joining: ``TtyrecDataset`` fills each batch lane with one game after another, one row per ttyrec
keypress record. The loader follows every lane (a new game starts where ``gameids`` changes or
``done`` is 1) and counts rows within the game, so row ``r`` of game ``g`` gets row ``r`` of
g's sidecar: ``strategies`` (int32 ordinal; -1, "error", on padding rows), ``agent_steps``
(the agent step the key belongs to, -1 on padding) and ``agent_keys`` (1 where the agent chose
the key). Each row's keypress is checked against the sidecar's; a mismatch raises.
"""

from __future__ import annotations

import bz2
import contextlib
import os
import sqlite3
import struct
import sys
from pathlib import Path

import numpy as np
import orjson

from papertools.core.errors import InputError
from papertools.core.jsonl import atomic_path

# The dataset's layout (written by nhrecord record): DIR/MARKER describes the dataset,
# DIR/SUMMARY holds one record per game, DIR/game-NNNNN/ one finished game with its sidecar.
MARKER = "nhrecord.json"
SUMMARY = "summary.jsonl"
# The strategy sidecar: one row per ttyrec keypress record (see nhrecord's game module).
SIDECAR_DTYPE = np.dtype([("key", "u1"), ("strategy", "i1"), ("step", "<i4"), ("agent", "u1")])
SIDECAR_SUFFIX = ".strategies.npy"
TTYREC_HEADER = struct.Struct("<iiiB")  # sec, usec, length, channel (NLE ttyrec v2+)

DB_NAME = "nle.db"
DATASET = "nhrecord"


def _check_dataset(root: Path) -> dict[int, Path]:
    if not root.is_dir():
        raise InputError("no such dataset folder", str(root))
    if not (root / MARKER).is_file():
        raise InputError(f"not an nhrecord dataset (no {MARKER})", str(root))
    games = finished_games(root)
    if not games:
        raise InputError("the dataset holds no finished games", str(root))
    return games


def ensure_db(path: str | os.PathLike, dbfilename: str | None = None) -> str:
    """Register the dataset with NLE's database (once; again when its games change)."""
    from nle.dataset import db, populate_db

    root = Path(path).resolve()
    games = _check_dataset(root)
    dbfile = Path(dbfilename) if dbfilename else _default_db(root)
    if dbfile.exists() and _db_games(dbfile) == len(games):
        return str(dbfile)
    with atomic_path(dbfile) as tmp, contextlib.redirect_stdout(
            sys.stderr if os.environ.get("PAPERTOOLS_DEBUG") else open(os.devnull, "w")):
        os.unlink(tmp)  # NLE creates the database itself and refuses a file that exists
        db.create(tmp)
        populate_db.add_nledata_directory(str(root), DATASET, tmp)
        _add_summary_table(tmp, root, games)
    return str(dbfile)


def _default_db(root: Path) -> Path:
    """DIR/nle.db, or, when DIR is read-only, one in the temporary folder named by DIR's path."""
    if os.access(root, os.W_OK):
        return root / DB_NAME
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "papertools-nhrecord"
    folder.mkdir(exist_ok=True)
    return folder / f"{digest}.db"


def _db_games(dbfile: Path) -> int:
    try:
        with sqlite3.connect(f"file:{dbfile}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM nhrecord_games").fetchone()[0]
    except sqlite3.Error:
        return -1


def _add_summary_table(dbfile: Path, root: Path, games: dict[int, Path]) -> None:
    with sqlite3.connect(dbfile) as conn:
        conn.execute("""CREATE TABLE nhrecord_games (
            gameid INTEGER PRIMARY KEY, game INTEGER, folder TEXT, seed_core TEXT,
            seed_disp TEXT, agent TEXT, role TEXT, steps INTEGER, keypresses INTEGER,
            score INTEGER, points INTEGER, max_depth INTEGER, turns INTEGER, death TEXT,
            end_reason TEXT, strategy_counts TEXT)""")
        ids = {}
        for gameid, path in conn.execute("SELECT gameid, path FROM ttyrecs"):
            ids[Path(path).parent.name] = gameid
        for index, folder in games.items():
            s = orjson.loads((folder / "game.json").read_bytes())
            gameid = ids.get(folder.name)
            if gameid is None:
                raise InputError("NLE's populate_db did not index this game", str(folder))
            conn.execute("INSERT INTO nhrecord_games VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (gameid, index, folder.name, str(s["seed"]["core"]),
                          str(s["seed"]["disp"]), s["agent"], s["role"], s["steps"],
                          s.get("keypresses"), s["score"], s.get("points"), s["max_depth"],
                          s.get("turns"), s.get("death"), s["end"],
                          orjson.dumps(s["strategy_counts"]).decode()))


class StrategyDataset:
    """NLE's ``TtyrecDataset`` over an nhrecord folder, with the sidecar joined in."""

    def __init__(self, path, batch_size=32, seq_length=32, *, shuffle=False, loop_forever=False,
                 subselect_sql=None, subselect_sql_args=None, threadpool=None, gameids=None,
                 dbfilename=None):
        from nle.dataset import dataset

        self.root = Path(path).resolve()
        self.dbfilename = ensure_db(self.root, dbfilename)
        self.ttyrecs = dataset.TtyrecDataset(
            DATASET, batch_size=batch_size, seq_length=seq_length, dbfilename=self.dbfilename,
            shuffle=shuffle, loop_forever=loop_forever, subselect_sql=subselect_sql,
            subselect_sql_args=subselect_sql_args, threadpool=threadpool, gameids=gameids)
        self.batch_size, self.seq_length = batch_size, seq_length
        self._sidecars: dict[int, np.ndarray] = {}

    def sidecar(self, gameid: int) -> np.ndarray:
        """The sidecar of NLE's game ``gameid`` (rows aligned with its ttyrec keypresses)."""
        side = self._sidecars.get(gameid)
        if side is None:
            (path,) = self.ttyrecs.get_paths(gameid)
            ttyrec = Path(self.ttyrecs._rootpath) / path
            name = ttyrec.name.split(".0.ttyrec")[0] + SIDECAR_SUFFIX
            side = self._sidecars[gameid] = np.load(ttyrec.parent / name, allow_pickle=False)
        return side

    def summary(self) -> list[dict]:
        """The nhrecord_games table as dicts (gameid, game, seed, score, depth, ...)."""
        with sqlite3.connect(self.dbfilename) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM nhrecord_games ORDER BY game")]

    def get_meta(self, gameid):
        return self.ttyrecs.get_meta(gameid)

    def __iter__(self):
        lanes = [(0, 0)] * self.batch_size  # (gameid, next row) per lane
        shape = (self.batch_size, self.seq_length)
        for mb in self.ttyrecs:
            strat = np.full(shape, -1, np.int32)
            steps = np.full(shape, -1, np.int32)
            agent = np.zeros(shape, np.uint8)
            gids, done, keys = mb["gameids"], mb["done"], mb["keypresses"]
            for b in range(self.batch_size):
                gameid, row = lanes[b]
                lane = gids[b]
                t = 0
                while t < self.seq_length:
                    g = int(lane[t])
                    if g == 0:  # padding to the end of the lane
                        gameid, row = 0, 0
                        break
                    if g != gameid or done[b, t]:
                        gameid, row = g, 0
                    # the run of rows of this game within the chunk
                    end = t + 1
                    while end < self.seq_length and lane[end] == g and not done[b, end]:
                        end += 1
                    side = self.sidecar(g)
                    n = end - t
                    part = side[row:row + n]
                    if len(part) != n or not np.array_equal(part["key"], keys[b, t:end]):
                        raise InputError(f"the sidecar of game {g} does not match its ttyrec at "
                                         f"rows {row}..{row + n - 1}", str(self.root))
                    strat[b, t:end] = part["strategy"]
                    steps[b, t:end] = part["step"]
                    agent[b, t:end] = part["agent"]
                    row += n
                    t = end
                lanes[b] = (gameid, row)
            mb["strategies"] = strat
            mb["agent_steps"] = steps
            mb["agent_keys"] = agent
            yield mb


def open_dataset(path, batch_size=32, seq_length=32, **kwargs) -> StrategyDataset:
    """The loader hrl and pretrain use: see :class:`StrategyDataset`."""
    return StrategyDataset(path, batch_size, seq_length, **kwargs)


def game_rows(path, gameid_or_game: int | None = None):
    """Every row of every game (or of one game index), in order, as dicts: gameid, game, row,
    key, strategy, step, agent, score, tty_chars (24x80 uint8 array)."""
    ds = StrategyDataset(path, batch_size=1, seq_length=256)
    by_gameid = {r["gameid"]: r["game"] for r in ds.summary()}
    wanted = None
    if gameid_or_game is not None:
        wanted = [g for g, idx in by_gameid.items() if idx == gameid_or_game]
        if not wanted:
            raise InputError(f"no game {gameid_or_game} in the dataset", str(path))
        ds = StrategyDataset(path, batch_size=1, seq_length=256, gameids=wanted)
    rows: dict[int, int] = {}
    for mb in ds:
        for t in range(ds.seq_length):
            g = int(mb["gameids"][0, t])
            if g == 0:
                break
            r = rows.get(g, 0)
            rows[g] = r + 1
            yield {"gameid": g, "game": by_gameid.get(g), "row": r,
                   "key": int(mb["keypresses"][0, t]), "strategy": int(mb["strategies"][0, t]),
                   "step": int(mb["agent_steps"][0, t]), "agent": int(mb["agent_keys"][0, t]),
                   "score": int(mb["scores"][0, t]), "tty_chars": mb["tty_chars"][0, t].copy()}


def finished_games(root: Path) -> dict[int, Path]:
    """Game index -> folder, for every complete game (a ``game-*`` folder with game.json)."""
    games = {}
    for folder in root.glob("game-*"):
        if (folder / "game.json").is_file():
            try:
                games[int(folder.name.split("-", 1)[1])] = folder
            except ValueError:
                continue
    return dict(sorted(games.items()))


def ttyrec_records(path):
    """Yield (sec, usec, channel, payload) for every record of an NLE ttyrec (.bz2)."""
    with bz2.open(path, "rb") as fh:
        data = fh.read()
    pos, size = 0, len(data)
    while pos < size:
        sec, usec, length, channel = TTYREC_HEADER.unpack_from(data, pos)
        pos += TTYREC_HEADER.size
        yield sec, usec, channel, data[pos:pos + length]
        pos += length


def ttyrec_keys(path) -> np.ndarray:
    """The keypress (channel 1) bytes of a ttyrec, in order."""
    return np.frombuffer(b"".join(p[:1] for _, _, c, p in ttyrec_records(path) if c == 1),
                         dtype=np.uint8)


def ttyrec_content(path) -> list[tuple[int, bytes]]:
    """(channel, payload) of every record: the ttyrec without its wall-clock timestamps."""
    return [(c, p) for _, _, c, p in ttyrec_records(path)]
