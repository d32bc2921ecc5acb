"""Man pages generated from the click command tree.

    python -m papertools.cli.manpage man            # write man/*.1 and man/*.7 (make man)
    python -m papertools.cli.manpage man --check    # exit 1, listing stale or missing pages

Pages:

- ``papertools.1``: the root group (description, global options, the tools, exit
  status, environment);
- ``papertools-<tool>.1`` for every tool in :data:`papertools.cli.main.TOOLS`: one page for the
  tool's command or group and every subcommand, with the sections NAME, SYNOPSIS, DESCRIPTION,
  OPTIONS, RECORDS, EXAMPLES, EXIT STATUS, SEE ALSO;
- ``papertools-jsonl.7``: the stream conventions (static text below).

Everything a page says about a command comes from click: the docstring (``command.help``), the
parameters (``Option.get_help_record``), the usage pieces, and two optional attributes on a tool's
command: ``records`` (the RECORDS text: paragraphs separated by blank lines) and ``see_also`` (a
list like ``["papertools(1)", "papertools-jsonl(7)"]``). A docstring's ``\\b`` block that starts
with ``Examples:`` goes to EXAMPLES as a literal block, never to DESCRIPTION.

The output is deterministic: no dates, versions or terminal widths; filling is left to man(1).
Importing this module imports click and the tools' click modules only (no torch, transformers or
nle), like ``papertools --help``.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

import click

from papertools.core.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from papertools.core.jsonl import write_atomic

PROG = "papertools"
MANUAL = "papertools manual"

#: The sections of a tool's page, in order (ARCHITECTURE.md, "Documentation").
TOOL_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "RECORDS", "EXAMPLES",
                 "EXIT STATUS", "SEE ALSO")

#: Files this module owns in the man folder (others there are left alone).
GENERATED = re.compile(r"^papertools(-[a-z0-9-]+)?\.[1-9]$")

DEFAULT_SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)"]


# --------------------------------------------------------------------------------------------
# roff escaping

_MANREF = re.compile(r"^([A-Za-z0-9_.+-]+)\((\d[a-z]*)\)(.*)$")
_UPPER_WORD = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _escape_chars(text: str) -> str:
    """Backslashes, quotes and backticks (hyphens are the caller's choice)."""
    return text.replace("\\", "\\e").replace("'", "\\(aq").replace("`", "\\(ga")


def _codeish(token: str) -> bool:
    """A token whose hyphens are minus signs: an option, a path, a man page reference, k=v."""
    bare = token.lstrip("([\"'`")
    return bare.startswith("-") or "/" in bare or "=" in bare or bool(_MANREF.match(bare))


def escape_code(text: str) -> str:
    """Text to be typed as written (options, commands, examples): every hyphen is ``\\-``."""
    return _escape_chars(text).replace("-", "\\-")


def escape(text: str) -> str:
    """Prose: hyphens in option names, paths and page references become ``\\-`` (references are
    set as man(7) does, ``\\fBname\\fR(7)``); hyphens inside words (``insertion-only``) stay
    hyphens."""
    return re.sub(r"\S+", lambda m: _escape_token(m.group()), text)


def _escape_token(token: str) -> str:
    bare = token.lstrip("([\"'`")
    lead = token[: len(token) - len(bare)]
    match = _MANREF.match(bare)
    if match and not match.group(3)[:1].isalnum():
        return _escape_chars(lead) + manref(bare)
    return escape_code(token) if _codeish(token) else _escape_chars(token)


def _line(text: str) -> str:
    """One roff text line: never starts with a control character or a space."""
    text = text.strip()
    return "\\&" + text if text.startswith((".", "'")) else text


def _literal_line(text: str) -> str:
    """One line of a ``.nf`` block, escaped as code, leading spaces kept."""
    text = escape_code(text.rstrip())
    return "\\&" + text if text.startswith((".", "'")) else text


def _quoted(text: str) -> str:
    """A macro argument: ``"..."`` with embedded quotes as ``\\(dq``."""
    return '"' + text.replace('"', "\\(dq") + '"'


def _inline_markup(text: str) -> str:
    """Escape prose whose `backticked` spans are code, set in bold."""
    parts = re.split(r"`([^`]*)`", text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(f"\\fB{escape_code(part)}\\fR")
        else:
            out.append(escape(part))
    return "".join(out)


def _synopsis_args(text: str) -> str:
    """Usage pieces or metavars: upper-case words in italics, the rest as written."""
    out = []
    for piece in re.split(r"([A-Za-z][A-Za-z0-9_]*)", text):
        if _UPPER_WORD.match(piece):
            out.append(f"\\fI{piece}\\fR")
        else:
            out.append(escape_code(piece))
    return "".join(out)


def manref(ref: str) -> str:
    """``papertools-jsonl(7)`` as ``\\fBpapertools\\-jsonl\\fR(7)`` (anything else escaped)."""
    match = _MANREF.match(ref.strip())
    if not match:
        return escape(ref)
    name, section, rest = match.groups()
    return f"\\fB{escape_code(name)}\\fR({section}){escape(rest)}"


# --------------------------------------------------------------------------------------------
# help text: paragraphs, \b blocks, the Examples block


def _paragraphs(text: str) -> list[tuple[str, list[str]]]:
    """Split click help text into ``("text", [one line])`` and ``("literal", lines)`` blocks,
    the way click's formatter reads it: blank lines separate paragraphs, a paragraph that starts
    with a ``\\b`` line is kept verbatim, and everything from ``\\f`` on is not help."""
    text = inspect.cleandoc(text or "").partition("\f")[0]
    blocks: list[tuple[str, list[str]]] = []
    for para in re.split(r"\n[ \t]*\n", text):
        lines = para.splitlines()
        if not lines or not para.strip():
            continue
        if lines[0].strip() == "\b":
            if lines[1:]:
                blocks.append(("literal", _dedent(lines[1:])))
        else:
            blocks.append(("text", [" ".join(" ".join(lines).split())]))
    return blocks


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return [ln[cut:].rstrip() for ln in lines]


def _is_examples(block: tuple[str, list[str]]) -> bool:
    kind, lines = block
    return kind == "literal" and lines[0].strip().rstrip(":").lower() in ("example", "examples")


def split_help(text: str | None) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(description blocks, example lines): the ``\\b`` Examples block leaves the description."""
    description, examples = [], []
    for block in _paragraphs(text or ""):
        if _is_examples(block):
            examples.extend(_dedent(block[1][1:]))
        else:
            description.append(block)
    while examples and not examples[-1].strip():
        examples.pop()
    return description, examples


def _render_blocks(blocks, *, first: str = ".PP", between: str = ".PP") -> list[str]:
    """Description blocks as roff; ``first`` opens the first block, ``between`` the others."""
    out: list[str] = []
    for k, (kind, lines) in enumerate(blocks):
        opener = first if k == 0 else between
        if opener:
            out.append(opener)
        if kind == "text":
            out.append(_line(escape(lines[0])))
        else:
            out += [".nf", *(_literal_line(ln) for ln in lines), ".fi"]
    return out


def _render_examples(lines: list[str]) -> list[str]:
    return [".PP", ".RS 4", ".nf", *(_literal_line(ln) for ln in lines), ".fi", ".RE"]


def _summary(command: click.Command) -> str:
    """The first paragraph of the help, without its final period (the NAME line)."""
    blocks, _ = split_help(command.help)
    if blocks and blocks[0][0] == "text":
        return blocks[0][1][0].rstrip(".")
    return (command.short_help or "").rstrip(".")


# --------------------------------------------------------------------------------------------
# the command tree


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    return click.Context(command, info_name=name, parent=parent, **command.context_settings)


def _walk(command: click.Command, ctx: click.Context) -> list[tuple[click.Command, click.Context]]:
    """The command and every visible subcommand below it, depth first, in list order."""
    found = [(command, ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            found += _walk(sub, _context(sub, name, ctx))
    return found


def _shared_argument_help() -> dict[tuple[str, str | None], str]:
    """Help for the positional arguments of core.options' bundles (click arguments carry none):
    a bundle's ``__doc__`` describes the argument it adds, keyed by (name, metavar)."""
    from papertools.core import options

    helps = {}
    for attr, value in sorted(vars(options).items()):
        doc = getattr(value, "__doc__", None)
        if attr.startswith("_") or not callable(value) or not doc or isinstance(value, type):
            continue
        if getattr(value, "__module__", None) not in ("click.decorators", options.__name__):
            continue

        def probe():
            pass

        try:
            value(probe)
        except Exception:  # noqa: BLE001 - not a decorator bundle
            continue
        for param in getattr(probe, "__click_params__", []):
            if isinstance(param, click.Argument):
                helps[(param.name, param.metavar)] = " ".join(inspect.cleandoc(doc).split())
    return helps


def _option_tag(param: click.Parameter, record: str) -> str:
    """``-o, --output PATH`` as roff: option names bold with ``\\-``, upper-case words italic."""
    names = set(param.opts) | set(param.secondary_opts)
    out = []
    for piece in re.split(r"(\s+|, | / )", record):
        if piece in names:
            out.append(f"\\fB{escape_code(piece)}\\fR")
        elif piece.strip() and piece not in (", ", " / "):
            out.append(_synopsis_args(piece))
        else:
            out.append(piece)
    return "".join(out)


def _params(command: click.Command, ctx: click.Context, *, with_help: bool,
            shared: dict) -> list[str]:
    out: list[str] = []
    help_option = command.get_help_option(ctx)
    for param in command.get_params(ctx):
        if param is help_option and not with_help:
            continue
        if isinstance(param, click.Argument):
            metavar = param.make_metavar(ctx) if _takes_ctx(param.make_metavar) \
                else param.make_metavar()
            text = getattr(param, "help", None) or shared.get((param.name, param.metavar))
            if not text:
                continue
            out += [".TP", _synopsis_args(metavar), _line(escape(" ".join(text.split())))]
            continue
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        tag, text = record
        out += [".TP", _option_tag(param, tag)]
        out += _render_blocks(_paragraphs(text), first="", between=".IP") or [""]
    return out


def _takes_ctx(method) -> bool:
    try:
        return len(inspect.signature(method).parameters) >= 1
    except (TypeError, ValueError):
        return False


def _usage(command: click.Command, ctx: click.Context) -> list[str]:
    pieces = " ".join(command.collect_usage_pieces(ctx))
    return [f".B {escape_code(ctx.command_path)}", _line(_synopsis_args(pieces)), ".br"]


def _header(name: str, section: int) -> list[str]:
    return [f'.TH {name.upper()} {section} "" "{PROG}" "{MANUAL}"',
            ".\\\" Generated by papertools.cli.manpage from the click commands; do not edit.",
            ".\\\" Regenerate with: make man"]


def _section(title: str) -> str:
    return f".SH {_quoted(title)}" if " " in title else f".SH {title}"


def _subsection(title: str) -> str:
    return f".SS {_quoted(escape_code(title))}"


def _see_also(refs: list[str]) -> list[str]:
    unique = list(dict.fromkeys(refs))
    return [",\n".join(manref(ref) for ref in unique)]


def _exit_status() -> list[str]:
    return _render_markup(EXIT_STATUS)


# --------------------------------------------------------------------------------------------
# static texts, in a small markup: a line in capitals alone is a section; blank lines separate
# paragraphs; a paragraph indented by four spaces is a literal block; "- TAG" starts a tagged
# paragraph whose text follows on indented lines; `code` is set in bold.

EXIT_STATUS = f"""\
- {EXIT_OK}
  Success, including a run that skipped rejects (records the method cannot use), and a run
  whose output pipe was closed early (`| head`): it ends quietly.

- {EXIT_FAILURE}
  Bad input (not JSON, not an object, a missing or mistyped field, bytes that are not UTF-8), a
  failed check, or a failed run. The message on standard error names the file and line. With
  `--on-error skip` the bad records are reported and skipped and the status is still 1 at the end;
  with `--strict` rejects count as bad input.

- {EXIT_USAGE}
  Usage error: an unknown command or option, or a bad option value.

- 130
  Interrupted (Ctrl-C).
"""

JSONL_PAGE = f"""\
NAME
papertools-jsonl - the stream conventions shared by every papertools tool

DESCRIPTION
Every papertools tool reads and writes JSONL streams, so the stages of different papers chain
through pipes:

    papertools lintseq sample examples/lintseq/programs.jsonl -n 5 | papertools lintseq format > train.jsonl

This page describes what all tools share. Each tool's own page documents the fields it reads and
writes (its RECORDS section) and anything it does differently.

INPUT
Inputs are the positional FILE arguments; none, or `-`, reads standard input. A file is one JSON
object per line, UTF-8. Files ending in `.gz`, and any input (standard input too) that starts with
the gzip magic bytes, are decompressed on the fly. Blank lines are skipped; line numbers in
messages are 1-based physical lines of the file as it was given, so an editor's line numbers
match.

Empty input (no records: an empty file, or only blank lines) is not an error: the command exits
with status 0 and writes no records; a table command prints its table with zero counts (with
`--json`, its records with zero counts), and other commands may say on standard error that there
was nothing to do. The one exception is a command that trains a model (`finetune`, `train`,
`ceindex build`): with no records there is no model to save, so it fails with one error line and
status 1.

OUTPUT
One rule for every command: records go to standard output, one compact JSON object per line,
UTF-8, each ending in `\\n`, flushed per record when standard output is a terminal. A command
whose product is a table (`stats`, `bench report`) prints the table to standard output and gives
its records instead with `--json`. Every other human summary, and every diagnostic (errors,
rejects, progress bars), goes to standard error; `-q` silences progress bars, summaries and
reject messages, never errors. `-o -` is standard output too. `-o` always names a file of
records, never a picture: pictures are `--plot PNG`.

With `-o PATH` records are written to a temporary file in the same folder as PATH and renamed to
PATH at the end, so a failed or interrupted run never leaves half a file at PATH. When a run fails
after writing some records, they are kept in `PATH.partial` and a note on standard error says so;
a later run that completes PATH removes it. A PATH that is a symbolic link is written through (its
target is replaced, the link stays), and an existing file keeps its permissions. A write that
fails (no space left on the device, standard output on /dev/full) is one error line naming the
file and the reason, exit status 1; with `-o`, the whole records that reached the disk are kept
in `PATH.partial` and that line names it.
A PATH ending in `.gz` is written gzip-compressed with a fixed timestamp, so equal records give
equal bytes.

Records keep the fields they came with and add their own, so stages compose. Field names are
snake_case.

IDS
Every record carries a stable `id`: the input's own `id` (a string, or an integer made a string),
or, when it has none, `<file stem>:<line>` (`stdin:<line>` for standard input). Records derived
from another record name it in `source_id`, so results can be joined back to their inputs.

BAD INPUT AND REJECTS
Bad input is a line that is not JSON, not a JSON object, lacks a field the tool needs, has a field
of the wrong type, or holds bytes that are not UTF-8. It stops the run with one line on standard
error that names the place, and exit status 1:

    papertools TOOL: error: FILE:LINE: field 'NAME': MESSAGE

- `--on-error fail`
  The default: stop at the first bad record. Records already written stay written (see `-o` above).

- `--on-error skip`
  Report each bad record on standard error, go on with the rest, and exit with status 1 at the
  end.

A reject is different: a well-formed record that the method cannot use (for example a program
with a syntax error or nothing to sample, or an episode too short for a window). It is reported on
standard error with its place, counted in the tool's summary, and skipped; the exit status stays 0.
`--strict` turns rejects into bad input. Tools that can save rejects (`--rejects PATH`) write
each rejected record with a `reject` field holding the reason.

No traceback reaches the user unless `--debug` is given to papertools (or PAPERTOOLS_DEBUG=1 is
set).

EXIT STATUS
{EXIT_STATUS}
A closed output pipe (`| head`) ends the run quietly: no message, no traceback.

DETERMINISM
`--seed` fixes everything random. The same command with the same seed writes byte-identical
records, whatever `--workers` or `--engine` says: each record's random stream is derived from the
seed and the record's position in the input, never from which worker handles it, and results
come back in input order. The exceptions are named in each tool's page: wall-clock fields
(timings, timestamps), replies of live external models, and floating-point training across thread
counts.

OPTIONS
Every tool spells a shared concept the same way: `-o/--output PATH` (records), `--plot PNG` (a
picture), `--json` (records instead of a table, or a run's records on standard output too),
`--out-dir DIR` (a folder of results) and `--resume` (continue the run in it), `-n/--samples N`
(samples to draw, per input record where there is one), `-k/--top-k` (the k of top-k and of
metrics at k), `--max-tokens` (the largest completion) and `--max-prompt-tokens` (a prompt's
budget), `--device` (`auto`, the default everywhere: the first CUDA GPU, else the CPU), `--seed`,
`-w/--workers` and `--engine`, `--on-error` (on every command that reads JSONL), `--strict`, and
`-q/--quiet` (on every command).

A list option is repeatable, and where its values cannot hold a comma (numbers, names) one
occurrence may list several, comma-separated: `-k 1,10` and `-k 1 -k 10` give the same list.
Paths and free text are repeatable only.

An option that was renamed keeps its old spelling as a hidden alias: it still works, and says
once on standard error that it is deprecated and what to write instead.

PARALLELISM
`-w N` (`--workers`) runs N worker processes on this machine; `--engine ray` runs on Ray, joining
the cluster named by RAY_ADDRESS when it is set and starting a local one otherwise. Output does not
depend on either.

SEE ALSO
"""


def _render_markup(text: str) -> list[str]:
    """The static markup above as roff (sections excluded: see :func:`_markup_sections`)."""
    out: list[str] = []
    for para in re.split(r"\n[ \t]*\n", text.strip("\n")):
        lines = para.splitlines()
        if not lines:
            continue
        if all(ln.startswith("    ") for ln in lines):
            out += [".PP", ".RS 4", ".nf", *(_literal_line(ln[4:]) for ln in lines), ".fi", ".RE"]
        elif lines[0].startswith("- "):
            tag = lines[0][2:].strip()
            body = " ".join(" ".join(lines[1:]).split())
            out += [".TP", _line(_inline_markup(tag)), _line(_inline_markup(body))]
        else:
            out += [".PP", _line(_inline_markup(" ".join(" ".join(lines).split())))]
    return out


def _markup_sections(text: str) -> list[tuple[str, str]]:
    """Split markup at lines in capitals that stand alone after a blank line (or at the top)."""
    sections: list[tuple[str, str]] = []
    title, body = None, []
    previous_blank = True
    for line in text.splitlines():
        if previous_blank and re.fullmatch(r"[A-Z][A-Z ]+", line):
            if title is not None:
                sections.append((title, "\n".join(body)))
            title, body = line, []
        else:
            body.append(line)
        previous_blank = not line.strip()
    if title is not None:
        sections.append((title, "\n".join(body)))
    return sections


# --------------------------------------------------------------------------------------------
# pages


def _root():
    from papertools.cli.main import TOOLS, cli

    return cli, TOOLS


def render_root() -> str:
    root, tools = _root()
    ctx = _context(root, PROG, None)
    description, examples = split_help(root.help)
    name_line = _summary(root)
    out = _header(PROG, 1)
    out += [_section("NAME"), f"{PROG} \\- {escape(name_line)}"]
    out += [_section("SYNOPSIS"), *_usage(root, ctx)]
    out += [_section("DESCRIPTION"), *_render_blocks(description[1:] or description)]
    out += [_section("TOOLS")]
    for name in sorted(tools):
        summary = tools[name][2]
        out += [".TP", f"\\fB{escape_code(name)}\\fR",
                _line(f"{escape(summary)} See {manref(f'{PROG}-{name}(1)')}.")]
    out += [_section("OPTIONS"), *_params(root, ctx, with_help=True, shared={})]
    if examples:
        out += [_section("EXAMPLES"), *_render_examples(examples)]
    out += [_section("EXIT STATUS"), *_exit_status()]
    out += [_section("ENVIRONMENT"), *_render_markup(ENVIRONMENT)]
    refs = [f"{PROG}-{name}(1)" for name in sorted(tools)] + [f"{PROG}-jsonl(7)"]
    out += [_section("SEE ALSO"), *_see_also(refs)]
    return "\n".join(out) + "\n"


ENVIRONMENT = """\
- `PAPERTOOLS_DEBUG`
  Set to 1 to show full tracebacks for errors, like `--debug`.

- `RAY_ADDRESS`
  With `--engine ray`, the Ray cluster to join (a local Ray is started when unset).

- `_PAPERTOOLS_COMPLETE`
  Shell completion through click: `eval "$(_PAPERTOOLS_COMPLETE=bash_source papertools)"` in
  ~/.bashrc (zsh_source and fish_source for zsh and fish).
"""


def render_tool(name: str) -> str:
    """The page of one built tool: its command (or group) and every subcommand below it."""
    root, tools = _root()
    root_ctx = _context(root, PROG, None)
    command = root.get_command(root_ctx, name)
    ctx = _context(command, name, root_ctx)
    tree = _walk(command, ctx)
    shared = _shared_argument_help()
    page = f"{PROG}-{name}"

    out = _header(page, 1)
    out += [_section("NAME"), f"{escape_code(page)} \\- {escape(_summary(command))}"]

    out += [_section("SYNOPSIS")]
    for cmd, cctx in tree:
        out += _usage(cmd, cctx)

    out += [_section("DESCRIPTION")]
    for k, (cmd, cctx) in enumerate(tree):
        description, _ = split_help(cmd.help)
        if k == 0:
            out += _render_blocks(description[1:] or description)
        else:
            out += [_subsection(cctx.command_path), *_render_blocks(description, first="")]
        if cmd.epilog:
            out += _render_blocks(_paragraphs(cmd.epilog))

    out += [_section("OPTIONS")]
    for k, (cmd, cctx) in enumerate(tree):
        params = _params(cmd, cctx, with_help=(k == 0), shared=shared)
        if k and params:
            out.append(_subsection(cctx.command_path))
        elif k == 0 and len(tree) > 1:
            out += [".PP", _line(escape(f"Options of {cctx.command_path} itself come before the "
                                        "subcommand; every subcommand also takes -h, --help."))]
        out += params

    records = [(cctx.command_path, cmd.records) for cmd, cctx in tree
               if getattr(cmd, "records", None)]
    if records:
        out += [_section("RECORDS")]
        for path, text in records:
            sub = path != ctx.command_path
            out += [_subsection(path)] if sub else []
            out += _render_blocks(_paragraphs(text), first="" if sub else ".PP")

    example_blocks = [(cctx.command_path, split_help(cmd.help)[1]) for cmd, cctx in tree]
    if any(lines for _, lines in example_blocks):
        out += [_section("EXAMPLES")]
        for k, (path, lines) in enumerate(example_blocks):
            if not lines:
                continue
            if k:
                out.append(_subsection(path))
            out += _render_examples(lines)

    out += [_section("EXIT STATUS"), *_exit_status()]
    out += [".PP", _line(f"See {manref(PROG + '-jsonl(7)')} for bad input, rejects and "
                         f"{_inline_markup('`--on-error`')}.")]

    refs = []
    for cmd, _ in tree:
        refs += list(getattr(cmd, "see_also", None) or [])
    out += [_section("SEE ALSO"), *_see_also(refs or DEFAULT_SEE_ALSO)]
    return "\n".join(out) + "\n"


def render_jsonl() -> str:
    _, tools = _root()
    out = _header(f"{PROG}-jsonl", 7)
    for title, body in _markup_sections(JSONL_PAGE):
        out.append(_section(title))
        if title == "NAME":
            name, _, what = body.strip().partition(" - ")
            out.append(f"{escape_code(name)} \\- {escape(what)}")
        elif title == "SEE ALSO":
            refs = [f"{PROG}(1)"] + [f"{PROG}-{name}(1)" for name in sorted(tools)]
            out += _see_also(refs)
        else:
            out += _render_markup(body)
    return "\n".join(out) + "\n"


def render_all() -> dict[str, str]:
    """Every page, by file name."""
    _, tools = _root()
    pages = {f"{PROG}.1": render_root()}
    for name in sorted(tools):
        pages[f"{PROG}-{name}.1"] = render_tool(name)
    pages[f"{PROG}-jsonl.7"] = render_jsonl()
    return pages


def stale(folder: Path, pages: dict[str, str] | None = None) -> list[str]:
    """Problems that make ``folder`` differ from :func:`render_all`, one line each."""
    pages = render_all() if pages is None else pages
    problems = []
    for name, text in sorted(pages.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: stale")
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if GENERATED.match(path.name) and path.name not in pages:
                problems.append(f"{path}: no such page any more")
    return problems


def write(folder: Path, pages: dict[str, str] | None = None) -> list[Path]:
    """Write changed pages, remove generated pages of tools that are gone; return what changed."""
    pages = render_all() if pages is None else pages
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in sorted(pages.items()):
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text.encode("utf-8"))
            changed.append(path)
    for path in sorted(folder.iterdir()):
        if GENERATED.match(path.name) and path.name not in pages:
            path.unlink()
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m papertools.cli.manpage",
        description="Generate papertools' man pages from its click commands.")
    parser.add_argument("folder", nargs="?", default="man", help="where the pages go (man)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 listing pages that are stale or missing")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if args.check:
        problems = stale(folder)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("man pages are out of date: run `make man`", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK
    for path in write(folder):
        print(f"{'wrote' if path.exists() else 'removed'} {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
