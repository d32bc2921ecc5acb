"""Summaries of recorded games: score and depth distributions, ends, strategy frequencies."""

from __future__ import annotations

import bz2
import json
import re
import statistics
from collections import Counter
from pathlib import Path


from papertools.core.errors import Diagnostics, InputError, field
from papertools.core.jsonl import read_records
from papertools.core.nethack import strategies
from papertools.core.nethack.dataset import MARKER, SUMMARY


def read_games(sources, kind: str | None, diag: Diagnostics) -> list[dict]:
    """Game summaries from dataset folders (``kind`` None: their summary.jsonl), step records
    ("steps": per episode, the score summed from rewards, the deepest "Depth:" seen, "end"
    done or running) or load's rows ("rows": per gameid, the highest score). A bad record is
    reported to ``diag`` (which raises, or skips it under --on-error skip)."""
    if kind is None:
        games = []
        for src in sources:
            root = Path(src)
            if not (root / MARKER).is_file():
                raise InputError(f"not an nhrecord dataset (no {MARKER}; use --steps for "
                                 "step records)", src)
            path = root / SUMMARY
            if not path.is_file():
                raise InputError(f"the dataset has no {SUMMARY} (record --resume rebuilds it)",
                                 str(path))
            for item in read_records([str(path)], diag):
                rec = item.record
                try:
                    for name, type_ in (("score", int), ("max_depth", int), ("steps", int),
                                        ("strategy_counts", dict), ("turns", int), ("end", str),
                                        ("keypresses", int), ("longest_no_progress", int)):
                        field(rec, name, type_, place=item.place,
                              required=name in ("score", "max_depth", "steps"))
                    for name in rec.get("strategy_counts", {}):
                        field(rec["strategy_counts"], name, int, place=item.place)
                except InputError as err:
                    diag.bad(err)
                    continue
                games.append(rec)
        return games
    by_game: dict[str, dict] = {}
    for item in read_records(sources, diag):
        try:
            _add_row(by_game, item, kind)
        except InputError as err:
            diag.bad(err)
            continue
    for game in by_game.values():
        game["score"] = int(round(game["score"]))
    return list(by_game.values())


def _add_row(by_game: dict, item, kind: str) -> dict:
    """Count one step record (--steps) or load row (--rows) into its game; every field is read
    before anything is counted, so a bad record counts nowhere."""
    rec, place = item.record, item.place
    name = field(rec, "strategy_name", str, place=place)
    if kind == "steps":
        episode = field(rec, "episode", str, place=place)
        reward = field(rec, "reward", float, place=place)
        done = field(rec, "done", bool, place=place)
        game = by_game.setdefault(episode, {"score": 0, "max_depth": 0, "steps": 0,
                                            "strategy_counts": {}, "end": "running"})
        game["score"] += reward
        game["max_depth"] = max(game["max_depth"], depth_of(rec))
        if done:
            game["end"] = "done"
    else:
        key = str(field(rec, "gameid", int, place=place))
        score = field(rec, "score", int, place=place)
        game = by_game.setdefault(key, {"score": 0, "max_depth": 0, "steps": 0,
                                        "strategy_counts": {}, "end": "?"})
        game["score"] = max(game["score"], score)
    game["steps"] += 1
    game["strategy_counts"][name] = game["strategy_counts"].get(name, 0) + 1
    return game


def depth_of(record: dict) -> int:
    """The depth in a step record's statistics block ("Depth: N"), else 0."""
    blocks = record.get("obs_blocks")
    text = blocks.get("statistics", "") if isinstance(blocks, dict) else record.get("obs", "")
    for line in str(text).splitlines():
        if line.startswith("Depth:"):
            try:
                return int(line.split(":", 1)[1])
            except ValueError:
                return 0
    return 0


def quantiles(values: list[float]) -> dict:
    """min, q25, median, q75, max, mean of ``values`` (empty: all None)."""
    if not values:
        return {k: None for k in ("min", "q25", "median", "q75", "max", "mean")}
    s = sorted(values)

    def q(p):
        pos = p * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    return {"min": s[0], "q25": q(0.25), "median": statistics.median(s), "q75": q(0.75),
            "max": s[-1], "mean": sum(s) / len(s)}


def summarize(games: list[dict]) -> dict:
    """One summary record over game summaries (game.json / summary.jsonl records)."""
    scores = [g["score"] for g in games]
    depths = [g["max_depth"] for g in games]
    counts: Counter = Counter()
    for g in games:
        counts.update(g.get("strategy_counts", {}))
    steps = sum(g["steps"] for g in games)
    return {
        "games": len(games),
        "steps": steps,
        "keypresses": sum(g.get("keypresses", 0) or 0 for g in games),
        "turns": quantiles([g.get("turns", 0) for g in games]),
        "score": quantiles(scores),
        "scores": sorted(scores),
        "max_depth": quantiles(depths),
        "depth_histogram": {str(d): n for d, n in sorted(Counter(depths).items())},
        "ends": dict(sorted(Counter(g.get("end", "?") for g in games).items())),
        "longest_no_progress": max((g.get("longest_no_progress", 0) for g in games), default=0),
        "strategies": {name: {"ordinal": strategies.STRATEGIES[name], "steps": counts.get(name, 0),
                              "share": counts.get(name, 0) / steps if steps else 0.0}
                       for name in strategies.STRATEGIES},
    }


def format_table(summary: dict) -> str:
    """The summary as aligned text for a terminal."""
    lines = [f"games {summary['games']}   steps {summary['steps']}   keypresses "
             f"{summary['keypresses']}   longest stretch without a new turn "
             f"{summary['longest_no_progress']} steps"]

    def row(label, q):
        if q["median"] is None:
            return f"{label:<10} -"
        return (f"{label:<10} min {q['min']:>7.0f}  q25 {q['q25']:>7.0f}  median "
                f"{q['median']:>7.0f}  q75 {q['q75']:>7.0f}  max {q['max']:>7.0f}  mean "
                f"{q['mean']:>8.1f}")

    lines += [row("score", summary["score"]), row("max depth", summary["max_depth"]),
              row("turns", summary["turns"])]
    lines.append("depth     " + "  ".join(f"{d}:{n}" for d, n in
                                          summary["depth_histogram"].items()))
    lines.append("ends      " + "  ".join(f"{k}:{n}" for k, n in summary["ends"].items()))
    lines.append("strategy          ordinal    steps   share")
    for name, s in summary["strategies"].items():
        lines.append(f"  {name:<16}{s['ordinal']:>7}{s['steps']:>9}  {100 * s['share']:5.1f}%")
    return "\n".join(lines)


def plot(summary: dict, path: str, title: str = "") -> None:
    """Score histogram and depth bar chart in one PNG (or any matplotlib format by suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    scores = summary["scores"]
    ax1.hist(scores, bins=min(30, max(5, len(scores) // 2)), color="#4472c4")
    ax1.set_xlabel("in-game score")
    ax1.set_ylabel("games")
    if scores:
        ax1.axvline(summary["score"]["median"], color="k", ls="--", lw=1, label="median")
        ax1.legend()
    depths = summary["depth_histogram"]
    ax2.bar([int(d) for d in depths], list(depths.values()), color="#ed7d31")
    ax2.set_xlabel("maximum depth (Dlvl)")
    ax2.set_ylabel("games")
    fig.suptitle(title or f"{summary['games']} games")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None} if path.endswith(".png") else None)
    plt.close(fig)


# ---------------------------------------------------------------------- death causes
XP_RE = re.compile(rb"(?:Xp|Exp):(\d+)")


def read_xlog(path: Path) -> dict:
    """The fields of an xlogfile's last line (tab-separated key=value)."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not lines:
        return {}
    return dict(f.split("=", 1) for f in lines[-1].split("\t") if "=" in f)


def last_xp_level(ttyrec: Path) -> int | None:
    """The experience level last shown on the bottom line of a game's ttyrec (None if never)."""
    with bz2.open(ttyrec, "rb") as fh:
        found = XP_RE.findall(fh.read())
    return int(found[-1]) if found else None


def death_cause(death: str) -> str:
    """A game's end grouped: the monster that killed it ("killed by a soldier ant, while..." ->
    "soldier ant"), or starvation, a wand, poison, quit (the step limit), drowning, ..."""
    d = death.lower()
    if d.startswith("quit"):
        return "quit (step limit or stuck)"
    if "starv" in d or "fainted" in d:
        return "starvation"
    if "wand" in d or "zapped" in d or "bolt of" in d or "magic missile" in d or \
            d.startswith("killed by a ray"):
        return "wand or ray"
    if "poison" in d:
        return "poison"
    for prefix in ("killed by an ", "killed by a ", "killed by the ", "killed by ",
                   "choked on ", "turned to stone by ", "petrified by "):
        if d.startswith(prefix):
            rest = death[len(prefix):]
            rest = rest.split(",", 1)[0]
            for junk in ("hostile ", "invisible ", "hallucinogen-distorted "):
                rest = rest.replace(junk, "")
            return ("choked" if prefix == "choked on " else
                    "stoned" if "ston" in prefix or "petrif" in prefix else rest.strip())
    return d.split(",", 1)[0]


def game_deaths(sources) -> list[dict]:
    """Per game of dataset folders: score, cause (death_cause), the death text, depth of death,
    deepest level, maximum hit points, last experience level shown, turns, what it was doing."""
    from papertools.core.nethack.dataset import finished_games

    rows = []
    for src in sources:
        for index, folder in finished_games(Path(src)).items():
            summary = json.loads((folder / "game.json").read_text())
            files = summary.get("files", {})
            xlog = read_xlog(folder / files.get("xlogfile", "nle.0.xlogfile"))
            ttyrec = folder / files.get("ttyrec", "")
            death = xlog.get("death", summary.get("death", "?"))
            rows.append({
                "source": str(src), "game": index, "score": summary.get("score"),
                "death": death, "cause": death_cause(death),
                "while": xlog.get("while", ""), "deathlev": int(xlog.get("deathlev", 0)),
                "maxlvl": int(xlog.get("maxlvl", 0)), "maxhp": int(xlog.get("maxhp", 0)),
                "xl": last_xp_level(ttyrec) if ttyrec.is_file() and files.get("ttyrec")
                else None,
                "turns": int(xlog.get("turns", 0)), "role": xlog.get("role", "")})
    return rows


def death_table(rows: list[dict], top: int = 25) -> str:
    """Causes of death, most frequent first: games, share, median depth of death, median
    maximum hit points and experience level, median turns; then deaths per dungeon level."""
    by_cause: dict[str, list[dict]] = {}
    for r in rows:
        by_cause.setdefault(r["cause"], []).append(r)

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    n = max(1, len(rows))
    lines = [f"{'cause':<28}{'games':>6}{'share':>7}{'dlvl':>6}{'maxhp':>7}{'xl':>5}"
             f"{'turns':>8}  while"]
    for cause, rs in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]:
        whiles = Counter(r["while"] for r in rs if r["while"])
        lines.append(f"{cause[:27]:<28}{len(rs):>6}{100 * len(rs) / n:>6.1f}%"
                     f"{med(r['deathlev'] for r in rs):>6.1f}{med(r['maxhp'] for r in rs):>7.1f}"
                     f"{med(r['xl'] for r in rs):>5.1f}{med(r['turns'] for r in rs):>8.0f}  "
                     + ", ".join(f"{w} {k}" for w, k in whiles.most_common(2)))
    rest = len(by_cause) - top
    if rest > 0:
        lines.append(f"({rest} more causes)")
    levels = Counter(r["deathlev"] for r in rows)
    lines.append("died on dlvl  " + "  ".join(f"{d}:{k}" for d, k in sorted(levels.items())))
    return "\n".join(lines)
