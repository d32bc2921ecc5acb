"""Boxoban levels for MiniHack's two Boxoban tasks, generated offline (none are installed).

BALROG's post-install downloads deepmind/boxoban-levels from GitHub; here the levels are made
by reverse play, the method behind Boxoban's own generator (Racanière et al., 2017): carve a
random room in a 10x10 map, put 4 boxes on 4 targets, then walk the player at random, pulling
boxes along; the state with the most box displacement (every box off its target) within 95
moves of the start is the level. It is solvable by construction (the pulls, reversed, are
pushes) within BALROG's 100 MiniHack steps, and its solution is kept
(``<set>_solutions.list``) for the reference agent. "medium" and "hard" differ in room size
and walk length (ours: not DeepMind's solver-filtered sets), so scores on these two tasks are
NOT comparable with BALROG's. Levels go to the cache (``$PAPERTOOLS_CACHE/bench/boxoban``) in
Boxoban's file format, 100 per set, at first use.
"""

from __future__ import annotations

import fcntl
import random
from pathlib import Path

from papertools.core.jsonl import write_atomic

SIZE = 10
BOXES = 4
SETS = {"medium": dict(floor=26, walk=300, path="medium/train"),
        "hard": dict(floor=34, walk=600, path="hard")}
MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0))  # (dx, dy), y grows southwards
VERSION = "v2"  # the generator's version: a change makes new levels in a new folder
MAX_SOLUTION = 95  # moves: every level is solvable within BALROG's 100-step MiniHack limit
WORDS = {(0, -1): "north", (1, 0): "east", (0, 1): "south", (-1, 0): "west"}


def _room(rng: random.Random, floor_cells: int) -> set:
    """A connected random room inside the border: a random walk with a 1-3 cell brush."""
    x, y = rng.randint(2, SIZE - 3), rng.randint(2, SIZE - 3)
    floor = {(x, y)}
    while len(floor) < floor_cells:
        dx, dy = rng.choice(MOVES)
        if 1 <= x + dx <= SIZE - 2 and 1 <= y + dy <= SIZE - 2:
            x, y = x + dx, y + dy
            floor.add((x, y))
            if rng.random() < 0.3:  # a wider brush now and then makes rooms, not corridors
                for bx, by in ((x + 1, y), (x, y + 1)):
                    if 1 <= bx <= SIZE - 2 and 1 <= by <= SIZE - 2:
                        floor.add((bx, by))
    return floor


def generate_level(rng: random.Random, floor_cells: int, walk: int) -> list[str] | None:
    """One level as 10 rows of '#', ' ', '.', '$', '@', or None if this room failed."""
    made = generate(rng, floor_cells, walk)
    return made[0] if made else None


def generate(rng: random.Random, floor_cells: int, walk: int):
    """(rows, solution) or None: the solution is the reverse walk played forwards, as compass
    words ("north", ...), so every level comes with a plan that solves it."""
    floor = _room(rng, floor_cells)
    cells = sorted(floor)
    if len(cells) < BOXES + 2:
        return None
    picks = rng.sample(cells, BOXES + 1)
    targets, player = set(picks[:BOXES]), picks[BOXES]
    boxes = set(targets)
    best, best_score = None, 0
    moves: list[tuple[int, int]] = []
    for _ in range(walk):
        dx, dy = rng.choice(MOVES)
        nxt = (player[0] + dx, player[1] + dy)
        if nxt not in floor or nxt in boxes:
            continue
        moves.append((dx, dy))
        behind = (player[0] - dx, player[1] - dy)
        if behind in boxes and rng.random() < 0.7:  # pull the box behind the player
            boxes.remove(behind)
            boxes.add(player)
        player = nxt
        if boxes & targets or player in targets or len(moves) > MAX_SOLUTION:
            continue
        score = sum(min(abs(bx - tx) + abs(by - ty) for tx, ty in targets) for bx, by in boxes)
        if score > best_score:
            best, best_score = (set(boxes), player, len(moves)), score
    if best is None:
        return None
    boxes, player, used = best
    solution = [WORDS[(-dx, -dy)] for dx, dy in reversed(moves[:used])]
    rows = []
    for y in range(SIZE):
        row = ""
        for x in range(SIZE):
            cell = (x, y)
            row += ("@" if cell == player else "$" if cell in boxes else "." if cell in targets
                    else " " if cell in floor else "#")
        rows.append(row)
    return rows, solution


def levels_dir(count: int = 100) -> Path:
    """The folder minihack reads (``<dir>/<set>/<mode>/*.txt``), generated on first use."""
    from papertools.core.cache import cache_dir

    root = cache_dir("bench", "boxoban", VERSION)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, spec in SETS.items():
            target = root / spec["path"] / "000.txt"
            if target.exists() and (root / f"{name}_solutions.list").exists():
                continue
            rng = random.Random(f"papertools-boxoban-{name}")
            lines, solutions = [], []
            while len(solutions) < count:
                made = generate(rng, spec["floor"], spec["walk"])
                if made is None:
                    continue
                lines += [f"; {len(solutions)}"] + made[0] + [""]
                solutions.append(" ".join(made[1]))
            target.parent.mkdir(parents=True, exist_ok=True)
            # one line per level, written before the levels
            write_atomic(root / f"{name}_solutions.list", ("\n".join(solutions) + "\n").encode())
            write_atomic(target, ("\n".join(lines) + "\n").encode())
    return root


def solution(name: str, index: int) -> list[str]:
    """The plan that solves level ``index`` of set ``name`` ("medium" or "hard")."""
    lines = (levels_dir() / f"{name}_solutions.list").read_text().splitlines()
    return lines[index].split()
