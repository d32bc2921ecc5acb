"""Shared click option bundles, so every tool spells its common flags the same way.

    @click.command()
    @options.inputs
    @options.output
    @options.seed
    @options.parallel
    @options.on_error
    @options.quiet
    def cmd(files, output, seed, workers, engine, on_error, quiet): ...

The option grammar (tests/test_behaviour.py walks every subcommand and enforces it):

    concept                         spelling                 notes
    ------------------------------  -----------------------  ------------------------------------
    JSONL inputs                    FILE... arguments        none or '-' reads standard input
    records to a file               -o/--output PATH         always JSONL records, never a picture
    a picture                       --plot PNG               the suffix picks the format
    machine output of a table       --json                   JSONL records on stdout instead of
                                                             the table; for run commands: also
                                                             write their records to stdout
    a folder of results             --out-dir DIR            from out_dir()
    continue an interrupted run     --resume                 from resume()
    how many samples to draw        -n/--samples N           per input record where there is one
    the k of top-k and metric@k     -k/--top-k K             a list in eval commands
    CE calls per query              -B/--budget B            a list in ceindex eval
    largest completion (tokens)     --max-tokens N           what a model may generate per call
    prompt budget (tokens)          --max-prompt-tokens N    what a prompt may hold
    compute device                  --device auto            auto: the first CUDA GPU, else CPU
    seed                            --seed N
    workers, engine                 -w/--workers, --engine
    bad records                     --on-error fail|skip     on every command that reads JSONL
    rejects as errors               --strict
    less on stderr                  -q/--quiet               on every command
    a record field to read          --<kind>-field NAME

One list syntax: a list option is repeatable (``-k 1 -k 10``), and where its values cannot hold
a comma (numbers, names), one occurrence may list several, comma-separated (``-k 1,10``): both
spellings give the same list. Paths and free text are repeatable only.

Old spellings stay as hidden aliases (:func:`alias`): they still work, and warn once on stderr
("option X is deprecated, use Y").
"""

from __future__ import annotations

import functools
import sys

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


def _bundle(make):
    """Let a bundle factory be used bare (``@options.out_dir``) or called with settings
    (``@options.out_dir(required=True, help=...)``)."""

    @functools.wraps(make)
    def use(fn=None, **settings):
        if callable(fn):
            return make()(fn)
        return make(**settings)
    return use


@_bundle
def out_dir(required: bool = False, help: str = "Folder for results (created if missing)."):
    """``--out-dir DIR``: a folder of results."""
    return click.option("--out-dir", metavar="DIR", required=required,
                        type=click.Path(file_okay=False), help=help)


@_bundle
def resume(help: str = "Continue the run in --out-dir, skipping the units already finished."):
    """``--resume``: continue an interrupted run in its --out-dir."""
    return click.option("--resume", is_flag=True, help=help)


@_bundle
def device(help: str = "auto (the first CUDA GPU, else the CPU), cpu, cuda, cuda:N."):
    """``--device``: where models run; auto everywhere."""
    return click.option("--device", default="auto", show_default=True, metavar="DEVICE",
                        help=help)


@_bundle
def plot(help: str = "Also draw the figures to PNG (the suffix picks the format).",
         dest: str = "plot", required: bool = False):
    """``--plot PNG``: a picture."""
    return click.option("--plot", dest, metavar="PNG", type=click.Path(dir_okay=False),
                        required=required, help=help)


@_bundle
def as_json(help: str = "Write JSONL records on standard output instead of the table."):
    """``--json``: machine output (bound to the parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


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


# -- lists ------------------------------------------------------------------------------------

def split_list(values, convert=str, *, name: str = "") -> tuple:
    """Flatten a repeatable option's values, splitting each on commas (an empty item is an
    error: ``1,,2`` is a typo)."""
    out = []
    for value in values or ():
        for piece in str(value).split(","):
            piece = piece.strip()
            if not piece:
                raise click.BadParameter(f"{value!r} has an empty item", param_hint=name or None)
            try:
                out.append(convert(piece))
            except (TypeError, ValueError):
                what = "an integer" if convert is int else "a valid value"
                raise click.BadParameter(f"{piece!r} is not {what}",
                                         param_hint=name or None) from None
    return tuple(out)


def list_callback(convert=str, minimum: int | None = None, choices=None):
    """The click callback of a list option (see :func:`list_option`)."""

    def callback(ctx, param, value):
        try:
            items = split_list(value, convert)
        except click.BadParameter as err:
            raise click.BadParameter(err.message, ctx=ctx, param=param) from None
        if minimum is not None and any(v < minimum for v in items):
            raise click.BadParameter(f"every value must be at least {minimum}", ctx=ctx,
                                     param=param)
        if choices is not None:
            wrong = [v for v in items if v not in choices]
            if wrong:
                raise click.BadParameter(f"{wrong[0]!r} is not one of {', '.join(choices)}",
                                         ctx=ctx, param=param)
        return items
    return callback


def list_option(*decls, convert=str, minimum: int | None = None, choices=None, default=None,
                **attrs):
    """A list option: repeatable, each occurrence a value or a comma list (``-k 1,10 -k 100``).
    ``convert`` turns one piece into a value (``int``, ``str``); ``minimum`` bounds numbers;
    ``choices`` limits names."""
    if default is not None:
        default = tuple(str(v) for v in default)
    attrs.setdefault("metavar", "LIST")
    return click.option(*decls, multiple=True, default=default,
                        callback=list_callback(convert, minimum, choices), **attrs)


# -- hidden aliases for old spellings ---------------------------------------------------------

_warned: set[str] = set()


def warn_deprecated(old: str, new: str) -> None:
    """Say once per process, on stderr, that option ``old`` is now ``new``."""
    if old in _warned:
        return
    _warned.add(old)
    ctx = click.get_current_context(silent=True)
    prefix = ctx.command_path if ctx is not None else "papertools"
    print(f"{prefix}: warning: option {old} is deprecated, use {new}", file=sys.stderr,
          flush=True)


def alias(*old: str, to: str, new: str, **attrs):
    """A hidden option that accepts an old spelling, warns once and feeds parameter ``to``.

    ``new`` is the option's current spelling (for the warning); ``attrs`` are the click option
    settings the old spelling takes (``is_flag=True``, ``type=...``, ``multiple=True``,
    ``callback=...``). When both spellings are given, the old one wins, as it came last in the
    script that still uses it.
    """
    key = "deprecated_" + old[-1].lstrip("-").replace("-", "_") + "_for_" + to

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            value = kwargs.pop(key, None)
            if value not in (None, False, ()):
                warn_deprecated("/".join(old), new)
                kwargs[to] = value
            return fn(*args, **kwargs)

        attrs.setdefault("default", None)
        if attrs.get("is_flag"):
            attrs["default"] = False
        return click.option(*old, key, hidden=True, **attrs)(wrapper)
    return decorate
