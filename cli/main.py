"""The root ``papertools`` group: lazy tool registration, --version, --debug, and the one place
where library errors become a single line on stderr and an exit status."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback

import click

from papertools.core.errors import EXIT_FAILURE, PapertoolsError

# name -> (module, attribute, one-line summary). Modules are imported only when the tool runs.
TOOLS = {
    "diffhist": ("papertools.cli.diffhist", "cli",
                 "Diff history for LM agents (Piterbarg, Pinto and Fergus, 2023)."),
    "lintseq": ("papertools.cli.lintseq", "cli",
                "Synthetic edit sequences for code LMs (LintSeq, Piterbarg, Pinto and Fergus, 2024)."),
    "compose-sample": ("papertools.cli.compose_sample", "cli",
                       "Compositional generation with energy-based diffusion and MCMC "
                       "(Reduce, Reuse, Recycle)."),
    "nhrecord": ("papertools.cli.nhrecord", "cli",
                 "NetHack demonstrations with strategy labels (NetHack is Hard to Hack)."),
    "ceindex": ("papertools.cli.ceindex", "cli",
                "k-NN search with cross-encoders (AXN, ANNCUR, ADACUR)."),
    "bench": ("papertools.cli.bench", "cli",
              "Agentic LLM/VLM evaluation on games (BALROG, Paglieri et al., 2024)."),
    "distill": ("papertools.cli.distill", "cli",
                "EmbedDistill: distilling a retrieval teacher into a small student (Kim et al., 2023)."),
    "hrl": ("papertools.cli.hrl", "cli",
            "Hierarchical agents with language subgoals (Ahuja et al.) and HiHack's strategy heads."),
    "relabel": ("papertools.cli.relabel", "cli",
                "Distilling vision-language models into agents by hindsight relabelling "
                "(Sumers et al., 2023)."),
    "pretrain": ("papertools.cli.pretrain", "cli",
                 "Offline pre-training of representations and progress rewards (Mazoure et al., 2023)."),
}

# Tools that later issues add: shown in --help so users see the whole map.
PLANNED: dict = {}

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _debug_enabled() -> bool:
    return os.environ.get("PAPERTOOLS_DEBUG", "") not in ("", "0")


class RootGroup(click.Group):
    """Loads tools on first use and turns errors into one clean line."""

    def list_commands(self, ctx):
        return sorted(TOOLS)

    def get_command(self, ctx, name):
        if name not in TOOLS:
            if name in PLANNED:
                raise click.UsageError(f"'{name}' is planned but not built yet: {PLANNED[name]}")
            return None
        module, attr, _ = TOOLS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, TOOLS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Tools"):
            formatter.write_dl(rows)
        if PLANNED:  # click's write_dl refuses an empty list
            with formatter.section("Planned"):
                formatter.write_dl(sorted(PLANNED.items()))

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            finally:
                _flush_stdout()  # a full disk is an error here, not a traceback at exit
        except PapertoolsError as err:
            prefix = _prefix(ctx)
            if ctx.params.get("debug") or _debug_enabled():
                traceback.print_exc()
            click.echo(f"{prefix}: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except BrokenPipeError:
            # The reader went away (| head): stop quietly.
            _discard_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo(f"{_prefix(ctx)}: interrupted", err=True)
            ctx.exit(130)
        except OSError as exc:  # the system refused a file (a full disk...): one line too
            if ctx.params.get("debug") or _debug_enabled():
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"{_prefix(ctx)}: error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(EXIT_FAILURE)


def _flush_stdout() -> None:
    """Flush standard output; a failure (no space left on /dev/full or a full disk) becomes an
    error naming <stdout>, and what could not be written is dropped so Python's last flush at
    exit stays quiet."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _discard_stdout()
        raise PapertoolsError(exc.strerror or str(exc), "<stdout>") from exc


def _discard_stdout() -> None:
    """Point standard output at /dev/null: Python's final flush has nowhere to fail."""
    with contextlib.suppress(OSError, ValueError):  # CliRunner's stdout has no descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _prefix(ctx) -> str:
    tool = ctx.invoked_subcommand
    return f"papertools {tool}" if tool else "papertools"


@click.group(cls=RootGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="papertools", prog_name="papertools", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors (also PAPERTOOLS_DEBUG=1).")
def cli(debug: bool) -> None:
    """Research papers as composable Unix tools over JSONL streams.

    Every tool reads JSONL (files or standard input, plain or .gz) and writes JSONL to standard
    output or -o PATH; diagnostics go to standard error. Exit status: 0 ok, 1 bad data or a failed
    run, 2 usage. See papertools-jsonl(7) for the stream conventions.

    \b
    Examples:
      papertools lintseq sample examples/lintseq/humaneval.jsonl -n 2 | papertools lintseq stats
      papertools lintseq --help
    """
    del debug  # read by RootGroup.invoke from ctx.params

def main() -> None:
    try:
        cli(prog_name="papertools")
    except PapertoolsError as err:  # raised outside a tool (should not happen)
        click.echo(f"papertools: error: {err}", err=True)
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    main()
