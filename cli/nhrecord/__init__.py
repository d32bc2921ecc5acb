"""``papertools nhrecord``: the command-line front end (options and help only).

game.py holds one recorded game (environment, key log, sidecar, step records), record.py the
dataset folder (atomic games, resume, workers), stats.py the games' reading and summaries. The
symbolic agent, the strategies, the TtyrecDataset loader with strategies joined in and the
observation text of step records are the shared NetHack layer, papertools.core.nethack.
"""

from __future__ import annotations

import sys

import click

from papertools.core import options
from papertools.core.progress import note

TOOL = "nhrecord"

RECORDS = """\
record --json writes one step record per agent step, in game order (game 0's steps, then game
1's, ...): "id" ("<episode>:<step>"), "episode" ("nh-<seed>-<game>"), "step" (0-based), "obs"
(the paper's five text blocks of the observation the agent saw, statistics[...] glyphs[...]
message[...] inventory[...] cursor[...]), "action" (the key as a word: north, eat, more, esc,
...), "key" (its keypress byte), "reward" (the in-game score's change), "done", "strategy" (the
ordinal) and "strategy_name" (explore 0, fight 1, ground_eat 2, wait_out 3, emergency 4,
inventory_eat 5, offer_corpses 6, init 7, solve_sokoban 8, engulfed_fight 9, follow_guard 10,
cure_disease 11, error -1; offer_corpses and solve_sokoban are reserved: never chosen; the
random agent has no strategy, and its steps are init), plus
"obs_blocks" (the five blocks by name) and "tty" (the 24 screen rows joined by newlines) unless
--no-screens.

record --out-dir DIR writes per game DIR/game-NNNNN/ with NLE's ttyrec (nle.N.0.ttyrec3.bz2)
and xlogfile (nle.N.xlogfile), the sidecar nle.N.strategies.npy and game.json; DIR/summary.jsonl
has one record per game: "game", "episode", "seed" ({"core", "disp", "agent"}), "agent", "role",
"max_steps", "steps", "score" (in-game score at the end), "max_depth", "turns", "end" (death,
max_steps, no_progress, ended), "longest_no_progress" (most consecutive steps without a new
game turn), "strategy_counts", "keypresses", "points" (xlogfile), "maxlvl", "death",
"character", "files".

The sidecar is a numpy structured array with one row per keypress record (channel 1) of the
ttyrec, in order, i.e. one row per TtyrecDataset row of the game: "key" (uint8, equal to the
ttyrec's), "strategy" (int8 ordinal), "step" (int32 agent step) and "agent" (1: the agent chose
the key; 0: NLE sent it: spaces at reset (step -1, strategy init), or, after the last agent
step, --More-- at death or the quit keys at --max-steps).
Agent step k is the one row with step == k and agent == 1; its screen is the "tty" of the step
record with "step" k.

load writes one record per dataset row (padding skipped): "gameid" (NLE's), "game", "row",
"key", "action", "strategy", "strategy_name", "step", "agent", "score", and with --tty "tty".

stats writes a table, or with --json one record: "games", "steps", "keypresses", "score",
"max_depth" and "turns" ({"min", "q25", "median", "q75", "max", "mean"}), "scores" (sorted),
"depth_histogram", "ends", "longest_no_progress", "strategies" ({name: {"ordinal", "steps",
"share"}}).

Determinism: the same command with the same --seed writes the same step records, game.json,
summary.jsonl and sidecars, and ttyrecs with the same records, for any --workers and --engine.
Wall-clock fields differ: the ttyrec's timestamps, the xlogfile's starttime, endtime, realtime,
birthdate and deathdate, timing.json and the nle.db that load builds (outside the dataset)."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)", "papertools-diffhist(1)"]

AGENTS = ("symbolic", "random")


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """NetHack demonstrations with strategy labels (NetHack is Hard to Hack, Piterbarg et al.,
    2023).

    A symbolic agent plays NetHackChallenge and names its strategy at every step with the
    paper's labels (explore, fight, ground_eat, emergency, ...). Games are recorded as NLE
    writes them (ttyrec and xlogfile, readable by nle.dataset) with the strategies in a sidecar
    aligned to the ttyrec's keypresses, and optionally as JSONL step records for language-model
    agents.

    \b
    Examples:
      papertools nhrecord record --episodes 1 --max-steps 50 --json -q | head -n 1 > /dev/null
      papertools nhrecord stats examples/nhrecord/games
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


@cli.command()
@click.option("--episodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Games to play (games 0..N-1).")
@options.alias("-n", to="episodes", new="--episodes", type=click.IntRange(min=1))
@click.option("--seed", type=click.IntRange(min=0, max=2**63 - 1), default=0, show_default=True,
              help="Seed of the whole run: game i's NetHack seeds (core, disp) and agent seed "
                   "derive from (seed, i), whatever --workers says.")
@options.out_dir
@options.as_json(help="Write step records to standard output (the only output without "
                      "--out-dir).")
@options.alias("--jsonl", to="as_json", new="--json", is_flag=True)
@click.option("--agent", type=click.Choice(AGENTS), default="symbolic", show_default=True,
              help="symbolic: the strategy-labelled agent; random: uniform random actions "
                   "(the baseline).")
@click.option("--max-steps", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="Agent steps per game; NLE then quits the game in-game, so the game is "
                   "complete and indexable.")
@click.option("--role", default="@", show_default=True, metavar="ROLE",
              help="NLE character: a role (val, sam, wiz, ...), role-race-align-gender, or @ "
                   "for NetHackChallenge's random character.")
@options.resume(help="Continue a dataset: skip games already finished in --out-dir.")
@click.option("--no-screens", is_flag=True,
              help="Leave out \"obs_blocks\" and \"tty\" from step records.")
@options.parallel
@options.quiet
def record(episodes, seed, out_dir, as_json, agent, max_steps, role, resume, no_screens, workers,
           engine, quiet):
    """Play games and record them (NLE ttyrec + xlogfile + strategy sidecar, and/or JSONL).

    Each game is played in a temporary folder and renamed when complete; Ctrl-C leaves the
    finished games intact and no half game. --resume skips finished games. An --out-dir that
    holds another dataset or other files is an error, and so is one another recorder is
    writing (one recorder per folder: an fcntl lock on DIR/.lock). A game ends at death, at
    --max-steps or after 1,000 steps without a new game turn, always in-game, so NLE's loaders
    index it.
    Seeds: the challenge's settings with NLE's seed(core, disp, reseed=False); each game's
    seeds are in its summary. Any --workers or --engine gives the same records as one worker
    (wall-clock fields aside: see RECORDS).

    \b
    Examples:
      papertools nhrecord record --episodes 2 --max-steps 100 --out-dir /tmp/nhrecord-ex -q --resume
      papertools nhrecord record --max-steps 40 --json -q | papertools nhrecord stats --steps -
      papertools nhrecord record --agent random --max-steps 200 --episodes 2 --json --no-screens -q -w 2 | tail -n 1
    """
    from .game import GameConfig
    from .record import record as record_games

    if out_dir is None and not as_json:
        raise click.UsageError("give --out-dir DIR (a dataset), --json (step records), or both")
    config = GameConfig(seed=seed, agent=agent, max_steps=max_steps, role=role,
                        out_dir=out_dir, jsonl=as_json, tty=not no_screens)
    _check_role(role)

    def progress(summary):
        note(TOOL, f"game {summary['game']}: score {summary['score']}, depth "
                   f"{summary['max_depth']}, {summary['steps']} steps, {summary['end']}",
             quiet=quiet)

    played = record_games(config, episodes, workers=workers, engine=engine, resume=resume,
                          on_game=progress)
    where = f" in {out_dir}" if out_dir else ""
    note(TOOL, f"{len(played)} game{'' if len(played) == 1 else 's'} played{where}"
               + (f", {episodes - len(played)} already finished" if episodes > len(played)
                  else ""), quiet=quiet)


def _check_role(role: str) -> None:
    parts = role.split("-")
    if not role or len(parts) > 4 or any(not p or not (p.isalpha() or p == "@") for p in parts):
        raise click.BadParameter(f"{role!r} is not an NLE character (like val, "
                                 "val-dwa-law-fem or @)", param_hint="--role")


@cli.command()
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--game", type=int, default=None, help="Only this game (its index in the dataset).")
@click.option("--tty", is_flag=True, help="Include each row's screen (\"tty\").")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N rows.")
@click.option("--db", metavar="PATH", type=click.Path(dir_okay=False), default=None,
              help="NLE's database of the dataset, built or rebuilt there (default: in the "
                   "cache, see above).")
@options.on_error
@options.output
@options.quiet
@click.pass_context
def load(ctx, directory, game, tty, limit, db, on_error, output, quiet):
    """Read a dataset through NLE's TtyrecDataset with the strategies joined in.

    Writes one record per row (a keypress and the screen before it). On first use, and again
    when the games change, registers DIR with NLE's populate_db in a database outside DIR
    (--db, or the cache: $PAPERTOOLS_CACHE or $XDG_CACHE_HOME/papertools, default
    ~/.cache/papertools, then nhrecord/<hash>/nle.db); DIR is only read. Each game's files are
    read through first: a damaged one (ttyrec, sidecar, game.json, xlogfile) is an error naming
    the file, before any row; --on-error skip reports it, reads the other games and exits 1. In
    Python, use papertools.core.nethack.dataset.open_dataset(DIR, batch_size, seq_length) for
    minibatches.

    \b
    Examples:
      papertools nhrecord load examples/nhrecord/games --limit 3
      papertools nhrecord load examples/nhrecord/games --game 1 | papertools nhrecord stats --rows -
    """
    from papertools.core.errors import Diagnostics
    from papertools.core.jsonl import open_output
    from papertools.core.nethack.text import action_word

    from papertools.core.nethack import strategies
    from papertools.core.nethack.dataset import game_rows

    diag = Diagnostics(TOOL, on_error, quiet=quiet)
    with open_output(output, tool=TOOL) as out:
        for n, row in enumerate(game_rows(directory, game, on_bad=diag.bad, dbfilename=db)):
            if limit is not None and n >= limit:
                break
            screen = row.pop("tty_chars")
            row["action"] = action_word(row["key"])
            row["strategy_name"] = strategies.name(row["strategy"])
            if tty:
                row["tty"] = "\n".join(bytes(r).decode("latin-1").rstrip() for r in screen)
            out.write(row)
    ctx.exit(diag.exit_code())


@cli.command()
@click.argument("sources", nargs=-1, metavar="DIR|FILE...")
@options.as_json(help="Write one JSON record instead of the table.")
@options.plot(help="Also draw the score histogram and depth bars to PNG (or .pdf, .svg).")
@click.option("--steps", "kind", flag_value="steps",
              help="Sources are JSONL step records (record --json), not dataset folders.")
@click.option("--rows", "kind", flag_value="rows",
              help="Sources are JSONL rows (load): strategy frequencies only.")
@click.option("--deaths", is_flag=True,
              help="Dataset folders only: the table of death causes (from the xlogfiles: "
                   "killer, depth, maximum hit points, experience level, turns); with --json "
                   "one record per game.")
@options.on_error
@options.quiet
@click.pass_context
def stats(ctx, sources, as_json, plot, kind, deaths, on_error, quiet):
    """Summarize recorded games: score and depth distributions, strategy frequencies.

    Sources are dataset folders (their summary.jsonl; a missing one, or a line that is not a
    game summary, is an error naming it), or with --steps step-record streams ('-' is standard
    input), or with --rows load's rows.

    \b
    Examples:
      papertools nhrecord stats examples/nhrecord/games
      papertools nhrecord stats examples/nhrecord/games --json --plot /tmp/nhrecord-stats.png
      papertools nhrecord stats examples/nhrecord/games --deaths
    """
    import orjson

    from papertools.core.errors import Diagnostics

    from .stats import format_table, plot as draw, read_games, summarize

    if not sources:
        raise click.UsageError("give at least one dataset folder (or - with --steps/--rows)")
    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    if deaths:
        if kind:
            raise click.UsageError("--deaths reads dataset folders (not --steps or --rows)")
        from .stats import death_table, game_deaths

        rows = game_deaths(sources)
        if as_json:
            for row in rows:
                sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
        else:
            click.echo(death_table(rows))
        ctx.exit(0)
    games = read_games(sources, kind, diag)
    summary = summarize(games)
    if plot:
        draw(summary, plot)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(summary) + b"\n")
    else:
        click.echo(format_table(summary))
    ctx.exit(diag.exit_code())
