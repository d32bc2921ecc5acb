"""Shared click option bundles, so every tool spells its common flags the same way.

    @click.command()
    @options.inputs
    @options.output
    @options.seed
    @options.parallel
    @options.on_error
    @options.quiet
    def cmd(files, output, seed, workers, engine, on_error, quiet): ...
"""

from __future__ import annotations

import click

from .parallel import ENGINES


class OrderedGroup(click.Group):
    """A group that lists its subcommands in the order they are defined (pipeline order)."""

    def list_commands(self, ctx):
        return list(self.commands)


def _compose(*decorators):
    def apply(fn):
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn
    return apply


inputs = click.argument("files", nargs=-1, metavar="[FILE]...",
                        type=click.Path(dir_okay=False, allow_dash=True))
inputs.__doc__ = "JSONL inputs (plain or .gz); none or '-' reads standard input."

output = click.option("-o", "--output", metavar="PATH", default=None,
                      type=click.Path(dir_okay=False, allow_dash=True),
                      help="Write records to PATH (atomically: a temporary file renamed at the "
                           "end; .gz compresses) instead of standard output.")

out_dir = click.option("--out-dir", metavar="DIR", type=click.Path(file_okay=False),
                       help="Folder for results (created if missing).")

seed = click.option("--seed", type=int, default=0, show_default=True,
                    help="Seed for every random choice; the same seed gives byte-identical output.")

parallel = _compose(
    click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Worker processes (or Ray CPUs); output does not depend on it."),
    click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
                 help="inline, a local process pool, or Ray (joins RAY_ADDRESS when set); "
                      "auto: inline for 1 worker, process otherwise."),
)

on_error = click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail",
                        show_default=True,
                        help="On a bad record: stop with an error, or report it, go on, and exit 1 "
                             "at the end.")

strict = click.option("--strict", is_flag=True,
                      help="Treat rejects (records the method cannot use) as errors.")

quiet = click.option("-q", "--quiet", is_flag=True,
                     help="No progress bar and no summary on stderr (errors still show).")


def field_name(kind: str, default: str, help: str):
    """``--<kind>-field NAME``: which record field a tool reads (e.g. ``--code-field``)."""
    return click.option(f"--{kind}-field", default=default, show_default=True, metavar="NAME",
                        help=help)
