"""Reading nhrecord datasets: NLE's TtyrecDataset minibatches with the strategies joined in.

    from papertools.core.nethack.dataset import open_dataset
    ds = open_dataset("data/games", batch_size=32, seq_length=64)
    for mb in ds:            # NLE's keys plus "strategies", "agent_steps", "agent_keys"
        ...

NLE's database: the first use of a dataset folder registers it with NLE's own tooling
(``nle.dataset.db.create`` and ``populate_db.add_nledata_directory``) in a database outside the
folder, which is never written to: ``$PAPERTOOLS_CACHE/nhrecord/<key>/nle.db`` (default
``$XDG_CACHE_HOME/papertools``, else ``~/.cache/papertools``), where ``<key>`` is a hash of the
folder's resolved path, or the file given as ``dbfilename`` (``nhrecord load --db``). The
database is rebuilt when the games change (a game added or removed, or a file of one changed in
size or modification time). It has two tables of its own: ``nhrecord_games`` (the summary:
game, seed, score, depth, turns, death, strategy counts) keyed by NLE's gameid, and
``nhrecord_problems`` (game, file, message: the games left out, see below).

Checking: before a game is registered, its files are read through: game.json parses, the
ttyrec decompresses to whole records (NLE's own reader stops silently at a corrupt or truncated
one), and the sidecar loads and holds exactly the ttyrec's keypresses. A game that fails is left
out of NLE's tables and its problem is kept, naming the file; opening the dataset then raises
an :class:`InputError` for it, or passes it to ``on_bad`` (``nhrecord load --on-error skip``),
so a damaged game is never read as a shorter one.

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
import tempfile
from pathlib import Path

import numpy as np
import orjson

from papertools.core.errors import InputError, PapertoolsError
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


def _check_dataset(root: Path, name: str | None = None) -> dict[int, Path]:
    where = name or str(root)
    if not root.is_dir():
        raise InputError("no such dataset folder", where)
    if not (root / MARKER).is_file():
        raise InputError(f"not an nhrecord dataset (no {MARKER})", where)
    games = finished_games(root)
    if not games:
        raise InputError("the dataset holds no finished games", where)
    return games


def db_path(path: str | os.PathLike) -> Path:
    """Where NLE's database of a dataset folder lives by default: the cache, never the folder
    (``$PAPERTOOLS_CACHE``, else ``$XDG_CACHE_HOME/papertools``, else ``~/.cache/papertools``,
    then ``nhrecord/<hash of the resolved path>/nle.db``)."""
    import hashlib

    from papertools.core.cache import cache_dir

    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
    return cache_dir("nhrecord", key, DB_NAME)


def ensure_db(path: str | os.PathLike, dbfilename: str | os.PathLike | None = None) -> str:
    """Register the dataset with NLE's database (once; again when its games change) and return
    the database's path: ``dbfilename``, or :func:`db_path`. Games that fail their check are
    left out and kept in ``nhrecord_problems`` (see :func:`problems`)."""
    from nle.dataset import db, populate_db

    root = Path(path).resolve()
    games = _check_dataset(root, str(path))
    dbfile = Path(dbfilename) if dbfilename else db_path(root)
    stamp = _fingerprint(games)
    if dbfile.exists() and _db_source(dbfile) == (str(root), stamp):
        return str(dbfile)
    try:
        dbfile.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PapertoolsError(f"cannot create the folder for NLE's database: "
                              f"{exc.strerror or exc}", str(dbfile.parent)) from None
    bad = {}
    for index, folder in games.items():
        try:
            check_game(folder, Path(folder.name))
        except InputError as err:
            bad[index] = err
    # NLE indexes every folder of a directory: it sees the good games through a folder of links,
    # and its root is then set to the dataset itself (NLE's paths are relative to the root).
    with atomic_path(dbfile) as tmp, \
            tempfile.TemporaryDirectory(prefix=".nhrecord-", dir=dbfile.parent) as staging:
        os.unlink(tmp)  # NLE creates the database itself and refuses a file that exists
        for index, folder in games.items():
            if index not in bad:
                os.symlink(folder, Path(staging) / folder.name)
        with contextlib.redirect_stdout(sys.stderr if os.environ.get("PAPERTOOLS_DEBUG") else
                                        open(os.devnull, "w")):
            db.create(str(tmp))
            populate_db.add_nledata_directory(staging, DATASET, str(tmp))
        with sqlite3.connect(tmp) as conn:
            conn.execute("UPDATE roots SET root = ? WHERE dataset_name = ?", (str(root), DATASET))
            _add_summary_table(conn, games, bad)
            conn.execute("CREATE TABLE nhrecord_source (root TEXT, fingerprint TEXT)")
            conn.execute("INSERT INTO nhrecord_source VALUES (?, ?)", (str(root), stamp))
    return str(dbfile)


def _fingerprint(games: dict[int, Path]) -> str:
    """A hash of every finished game's files: names, sizes and modification times."""
    import hashlib

    digest = hashlib.sha256()
    for folder in games.values():
        for file in sorted(folder.iterdir()):
            st = file.stat()
            digest.update(f"{folder.name}/{file.name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _db_source(dbfile: Path) -> tuple[str, str] | None:
    try:
        with sqlite3.connect(f"file:{dbfile}?mode=ro", uri=True) as conn:
            return tuple(conn.execute("SELECT root, fingerprint FROM nhrecord_source").fetchone())
    except (sqlite3.Error, TypeError):
        return None


def check_game(folder: Path, name: Path | None = None) -> None:
    """Read one finished game's files through; raise an :class:`InputError` naming the first
    file that is missing or damaged (``name`` is the folder as the user spells it)."""
    name = name or folder
    summary = folder / "game.json"
    try:
        s = orjson.loads(summary.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"unreadable game summary: {exc}", str(name / summary.name)) from None
    for key in ("seed", "agent", "role", "steps", "score", "max_depth", "end",
                "strategy_counts"):
        if not isinstance(s, dict) or key not in s:
            raise InputError("not a game summary", str(name / summary.name), field=key)
    xlogs = sorted(folder.glob("nle.*.xlogfile"))
    if len(xlogs) != 1:
        raise InputError(f"expected one NLE xlogfile (nle.N.xlogfile), found {len(xlogs)}",
                         str(name))
    stem = xlogs[0].name[:-len(".xlogfile")]
    ttyrecs = sorted(folder.glob(f"{stem}.*.ttyrec*.bz2"))
    if [t.name.split(".")[2] for t in ttyrecs] != ["0"]:
        raise InputError(f"expected one NLE ttyrec ({stem}.0.ttyrecN.bz2), found "
                         f"{len(ttyrecs)}", str(name))
    ttyrec = ttyrecs[0]
    try:
        keys = ttyrec_keys(ttyrec)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"corrupt ttyrec: {exc}", str(name / ttyrec.name)) from None
    sidecar = folder / f"{stem}{SIDECAR_SUFFIX}"
    side = load_sidecar(sidecar, name / sidecar.name)
    if len(keys) < len(side):
        raise InputError(f"the ttyrec ends early: {len(keys)} keypresses, its sidecar has "
                         f"{len(side)} rows", str(name / ttyrec.name))
    if len(keys) != len(side) or not np.array_equal(keys, side["key"]):
        raise InputError(f"the sidecar does not match the ttyrec's {len(keys)} keypresses",
                         str(name / sidecar.name))


def load_sidecar(path: Path, name: Path | None = None) -> np.ndarray:
    """A strategy sidecar; an :class:`InputError` naming the file when it is not one."""
    try:
        side = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"unreadable strategy sidecar: {exc}", str(name or path)) from None
    if not isinstance(side, np.ndarray) or side.dtype != SIDECAR_DTYPE or side.ndim != 1:
        raise InputError(f"not a strategy sidecar (expected a 1-d array of {SIDECAR_DTYPE})",
                         str(name or path))
    return side


def problems(path: str | os.PathLike, dbfilename: str | os.PathLike) -> dict[int, InputError]:
    """The games :func:`ensure_db` left out of dataset ``path``: game index -> the error naming
    the file (under ``path`` as given)."""
    with sqlite3.connect(f"file:{dbfilename}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT game, file, message FROM nhrecord_problems ORDER BY game")
        return {game: InputError(message, os.path.join(path, file))
                for game, file, message in rows}


def _add_summary_table(conn, games: dict[int, Path], bad: dict[int, InputError]) -> None:
    conn.execute("""CREATE TABLE nhrecord_games (
        gameid INTEGER PRIMARY KEY, game INTEGER, folder TEXT, seed_core TEXT,
        seed_disp TEXT, agent TEXT, role TEXT, steps INTEGER, keypresses INTEGER,
        score INTEGER, points INTEGER, max_depth INTEGER, turns INTEGER, death TEXT,
        end_reason TEXT, strategy_counts TEXT)""")
    conn.execute("CREATE TABLE nhrecord_problems (game INTEGER PRIMARY KEY, file TEXT, "
                 "message TEXT)")
    ids = {}
    for gameid, path in conn.execute("SELECT gameid, path FROM ttyrecs"):
        ids[Path(path).parent.name] = gameid
    for index, folder in games.items():
        if index in bad:
            continue
        gameid = ids.get(folder.name)
        if gameid is None:  # NLE found no game line in the xlogfile
            (xlog,) = folder.glob("nle.*.xlogfile")
            bad[index] = InputError("NLE's populate_db found no game in this xlogfile",
                                    f"{folder.name}/{xlog.name}")
            continue
        s = orjson.loads((folder / "game.json").read_bytes())
        conn.execute("INSERT INTO nhrecord_games VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (gameid, index, folder.name, str(s["seed"]["core"]),
                      str(s["seed"]["disp"]), s["agent"], s["role"], s["steps"],
                      s.get("keypresses"), s["score"], s.get("points"), s["max_depth"],
                      s.get("turns"), s.get("death"), s["end"],
                      orjson.dumps(s["strategy_counts"]).decode()))
    for index, err in sorted(bad.items()):
        conn.execute("INSERT INTO nhrecord_problems VALUES (?,?,?)",
                     (index, err.file, err.message if err.field is None
                      else f"field {err.field!r}: {err.message}"))


class StrategyDataset:
    """NLE's ``TtyrecDataset`` over an nhrecord folder, with the sidecar joined in."""

    def __init__(self, path, batch_size=32, seq_length=32, *, shuffle=False, loop_forever=False,
                 subselect_sql=None, subselect_sql_args=None, threadpool=None, gameids=None,
                 dbfilename=None, on_bad=None):
        """``dbfilename``: NLE's database (default: in the cache, see the module). Games that
        failed their check raise an :class:`InputError` naming the file, or, with ``on_bad``,
        are passed to it one by one and left out (with ``gameids``, the caller's choice, they
        are not reported)."""
        from nle.dataset import dataset

        self.root = Path(path).resolve()
        self.dbfilename = ensure_db(path, dbfilename)
        if gameids is None:
            for err in problems(path, self.dbfilename).values():
                if on_bad is None:
                    raise err
                on_bad(err)
        self.ttyrecs = dataset.TtyrecDataset(
            DATASET, batch_size=batch_size, seq_length=seq_length, dbfilename=self.dbfilename,
            shuffle=shuffle, loop_forever=loop_forever, subselect_sql=subselect_sql,
            subselect_sql_args=subselect_sql_args, threadpool=threadpool, gameids=gameids)
        self.batch_size, self.seq_length = batch_size, seq_length
        games = len(gameids) if gameids is not None else len(self.ttyrecs._games)
        if games < batch_size:  # NLE fills each lane with its own game, or asserts
            raise InputError(f"batch size {batch_size} is more than the {games} games to read",
                             str(path))
        self._sidecars: dict[int, np.ndarray] = {}

    def sidecar(self, gameid: int) -> np.ndarray:
        """The sidecar of NLE's game ``gameid`` (rows aligned with its ttyrec keypresses)."""
        side = self._sidecars.get(gameid)
        if side is None:
            (path,) = self.ttyrecs.get_paths(gameid)
            ttyrec = self.root / path
            name = ttyrec.name.split(".0.ttyrec")[0] + SIDECAR_SUFFIX
            side = self._sidecars[gameid] = load_sidecar(ttyrec.parent / name)
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


def game_rows(path, game: int | None = None, on_bad=None, dbfilename=None):
    """Every row of every game (or of game index ``game``), in order, as dicts: gameid, game,
    row, key, strategy, step, agent, score, tty_chars (24x80 uint8 array). A damaged game
    raises an :class:`InputError` naming its file before any row, or with ``on_bad`` is passed
    to it and left out."""
    dbfile = ensure_db(path, dbfilename)
    bad = problems(path, dbfile)
    with sqlite3.connect(f"file:{dbfile}?mode=ro", uri=True) as conn:
        by_gameid = dict(conn.execute("SELECT gameid, game FROM nhrecord_games ORDER BY game"))
    if game is not None:
        if game not in bad and game not in by_gameid.values():
            raise InputError(f"no game {game} in the dataset", str(path))
        bad = {game: bad[game]} if game in bad else {}
        by_gameid = {g: i for g, i in by_gameid.items() if i == game}
    for err in bad.values():
        if on_bad is None:
            raise err
        on_bad(err)
    if not by_gameid:
        return
    ds = StrategyDataset(path, batch_size=1, seq_length=256, gameids=list(by_gameid),
                         dbfilename=dbfile)
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
        if pos + TTYREC_HEADER.size > size:
            raise ValueError(f"a record header is cut off at byte {pos}")
        sec, usec, length, channel = TTYREC_HEADER.unpack_from(data, pos)
        pos += TTYREC_HEADER.size
        if length < 0 or pos + length > size:
            raise ValueError(f"a record is cut off at byte {pos}")
        yield sec, usec, channel, data[pos:pos + length]
        pos += length


def ttyrec_keys(path) -> np.ndarray:
    """The keypress (channel 1) bytes of a ttyrec, in order."""
    return np.frombuffer(b"".join(p[:1] for _, _, c, p in ttyrec_records(path) if c == 1),
                         dtype=np.uint8)


def ttyrec_content(path) -> list[tuple[int, bytes]]:
    """(channel, payload) of every record: the ttyrec without its wall-clock timestamps."""
    return [(c, p) for _, _, c, p in ttyrec_records(path)]
