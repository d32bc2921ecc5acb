"""Behaviour every tool shares, checked over every subcommand (csvkit's shared tests).

Two parts:

- the option grammar (core/options.py's table): one spelling per concept, one short flag per
  long option, list options repeatable, -o always records, pictures --plot PNG, --device auto,
  -q everywhere and --on-error on every JSONL reader;
- the stream rules of papertools-jsonl(7) for every subcommand that reads JSONL: a malformed
  line 2 gives one ``file:2:`` error line and exit 1 with no traceback; ``--on-error skip`` goes
  on and exits 1; empty input exits 0 (a command that trains a model: 1, one error line);
  ``| head -1`` ends quietly with 0; ``-o PATH`` is atomic and keeps ``PATH.partial``.

A new tool inherits these checks by registering its JSONL readers in READERS below; the
registry test fails until it does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click
import orjson
import pytest

from papertools.cli.main import TOOLS
from papertools.core import options
from tests.helpers import EXAMPLES, invoke, shell

# -- the click tree ---------------------------------------------------------------------------


def _commands() -> dict[str, click.Command]:
    """'tool sub' -> command, for every subcommand of every tool."""
    out = {}
    for name, (module, attr, _) in TOOLS.items():
        group = getattr(importlib.import_module(module), attr)
        subs = group.commands.items() if isinstance(group, click.Group) else [(None, group)]
        for sub, command in subs:
            out[f"{name} {sub}" if sub else name] = command
    return out


COMMANDS = _commands()


def _visible(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


# Commands with --on-error that read something other than JSONL (their bad-input rules are
# tested with their tool): nhrecord load reads a dataset folder of NLE files.
NOT_JSONL = {"nhrecord load"}


def _reads_jsonl(command: click.Command, path: str = "") -> bool:
    if path in NOT_JSONL:
        return False
    return any(p.name == "files" for p in command.params) or \
        any(p.name == "on_error" for p in command.params)


# -- the option grammar -----------------------------------------------------------------------

# Spellings that name a concept which has another spelling (core/options.py's table): each
# may live on only as a hidden alias.
OLD_SPELLINGS = {
    "--num": "-n/--samples", "--num-samples": "-n/--samples", "--per-query": "-n/--samples",
    "--k": "-k/--top-k", "--ks": "-k/--top-k", "--budgets": "-B/--budget",
    "--jsonl": "--json", "--packages": "--package",
    "--max-new-tokens": "--max-tokens (a completion) or --max-prompt-tokens (a prompt)",
}


def test_one_spelling_per_concept():
    """A concept is spelled one way: no visible old spelling, one long option per short flag,
    one short flag (or none) per long option."""
    short_to_long: dict[str, set] = {}
    long_to_short: dict[str, set] = {}
    problems = []
    for path, command in COMMANDS.items():
        for opt in _visible(command):
            shorts = [o for o in opt.opts if not o.startswith("--")]
            longs = [o for o in opt.opts + opt.secondary_opts if o.startswith("--")]
            for name in longs:
                if name in OLD_SPELLINGS:
                    problems.append(f"{path}: {name} is spelled {OLD_SPELLINGS[name]} elsewhere")
            if longs:
                for short in shorts:
                    short_to_long.setdefault(short, set()).add(longs[0])
                if shorts:
                    long_to_short.setdefault(longs[0], set()).update(shorts)
    problems += [f"{short} means {sorted(longs)}" for short, longs in short_to_long.items()
                 if len(longs) > 1]
    problems += [f"{long} is shortened as {sorted(shorts)}"
                 for long, shorts in long_to_short.items() if len(shorts) > 1]
    assert not problems, "\n".join(problems)


def _options_named(name: str):
    for path, command in COMMANDS.items():
        for opt in _visible(command):
            if name in opt.opts:
                yield path, opt


def test_output_is_always_records_and_pictures_are_plot_png():
    for path, opt in _options_named("-o"):
        assert opt.metavar == "PATH" and "records" in (opt.help or ""), \
            f"{path}: -o must write records"
    for path, opt in _options_named("--plot"):
        assert opt.metavar == "PNG", f"{path}: --plot takes PNG"
    for path, opt in _options_named("--json"):
        assert opt.is_flag and opt.name == "as_json", f"{path}: --json is a flag"


def test_device_defaults_to_auto():
    found = list(_options_named("--device"))
    assert found
    for path, opt in found:
        assert opt.default == "auto", f"{path}: --device defaults to {opt.default}"


def test_quiet_everywhere_and_on_error_on_every_jsonl_reader():
    for path, command in COMMANDS.items():
        names = {p.name for p in command.params}
        assert "quiet" in names, f"{path} has no -q/--quiet"
        if any(p.name == "files" for p in command.params):
            assert "on_error" in names, f"{path} reads JSONL without --on-error"


def test_lists_are_repeatable_options():
    """One list syntax: an option whose metavar shows a list is repeatable (and splits commas)."""
    for path, command in COMMANDS.items():
        for opt in _visible(command):
            metavar = opt.metavar or ""
            if "," in metavar or "LIST" in metavar:
                assert opt.multiple, f"{path}: {opt.opts} is a list but not repeatable"


def test_list_option_takes_commas_and_repeats():
    a = invoke(["lintseq", "eval", "--problems", str(EXAMPLES / "lintseq/eval_problems.jsonl"),
                str(EXAMPLES / "lintseq/eval_samples.jsonl"), "-k", "1,2", "-q"])
    b = invoke(["lintseq", "eval", "--problems", str(EXAMPLES / "lintseq/eval_problems.jsonl"),
                str(EXAMPLES / "lintseq/eval_samples.jsonl"), "-k", "2", "-k", "1", "-q"])
    assert a.exit_code == b.exit_code == 0
    assert a.records[-1]["pass_at_k"].keys() == {"1", "2"}
    assert a.stdout == b.stdout


def test_old_spelling_is_a_hidden_alias_that_warns_once():
    new = invoke(["compose-sample", "toy", "ring", "-n", "3", "-q"])
    old = invoke(["compose-sample", "toy", "ring", "--num", "3", "-q"])
    assert old.exit_code == 0 and old.stdout == new.stdout and len(old.records) == 3
    assert old.stderr.count("option --num is deprecated, use -n/--samples") == 1
    help_text = invoke(["compose-sample", "toy", "--help"]).stdout.decode()
    assert "--samples" in help_text and "--num " not in help_text


def test_passk_plot_draws_with_plot_and_o_is_a_deprecated_alias(tmp_path):
    line = orjson.dumps({"id": "summary", "summary": True, "pass_at_k": {"1": 0.5}}) + b"\n"
    (tmp_path / "a.jsonl").write_bytes(line)
    run = invoke(["lintseq", "passk-plot", str(tmp_path / "a.jsonl"), "--plot",
                  str(tmp_path / "new.png"), "-q"])
    assert run.exit_code == 0 and (tmp_path / "new.png").stat().st_size > 0
    run = invoke(["lintseq", "passk-plot", str(tmp_path / "a.jsonl"), "-o",
                  str(tmp_path / "old.png"), "-q"])
    assert run.exit_code == 0 and (tmp_path / "old.png").stat().st_size > 0
    assert "option -o/--output is deprecated, use --plot" in run.stderr


def test_stats_tables_go_to_stdout(tmp_path):
    seqs = invoke(["lintseq", "sample", str(EXAMPLES / "lintseq/programs.jsonl"), "-q"]).stdout
    table = invoke(["lintseq", "stats"], input=seqs)
    assert table.exit_code == 0 and b"sequences" in table.stdout and not table.stderr.strip()


# -- the stream rules, per JSONL reader -------------------------------------------------------

PROGRAM = "def add(a, b):\n    total = a + b\n    return total\n"


@dataclass
class Reader:
    """How to run one JSONL-reading subcommand on a small input."""

    args: list[str]  # after 'papertools TOOL SUB'; {tmp} is the test's folder, {in} the input
    make: Callable[[int], dict]  # the i-th valid record
    heavy: bool = False  # loads a model or trains on valid input: checked on bad input only
    trains: bool = False  # needs records (empty input is an error)
    streams: bool = False  # writes records as it reads them (| head, .partial)
    empty_light: bool = False  # heavy, but stops before any model on empty input
    setup: Callable[[Path], None] | None = None
    extra: dict = field(default_factory=dict)


def _step(i):
    return {"episode": f"e{i}", "step": 0, "obs": f"obs {i}\nline", "action": "north",
            "done": True}


def _encoded(i):
    return {"episode": f"e{i}", "step": 0, "obs_diff": f"obs {i}", "obs_full": True,
            "action": "north", "done": True}


_SEQUENCE: dict = {}


def _sequence(i):
    if not _SEQUENCE:
        run = invoke(["lintseq", "sample", "-q"],
                     input=orjson.dumps({"id": "p", "program": PROGRAM}) + b"\n")
        _SEQUENCE.update(run.records[0])
    return {**_SEQUENCE, "id": f"p:{i}"}


def _problems(tmp: Path):
    (tmp / "problems.jsonl").write_bytes(orjson.dumps(
        {"task_id": "t", "prompt": "", "test": "def check(f):\n    assert f(1, 2) == 3\n",
         "entry_point": "add"}) + b"\n")


def _corpus(tmp: Path):
    (tmp / "corpus.jsonl").write_bytes(orjson.dumps({"id": "d1", "text": "sort a list"}) + b"\n")


def _tiny_model(tmp: Path):
    from papertools.core.models.tiny import build_tiny_model

    build_tiny_model(tmp / "model")


def _lift_episodes(tmp: Path):
    run = invoke(["relabel", "collect", "--agent", "bot", "--episodes", "2", "--out-dir",
                  str(tmp / "eps"), "-q"])
    assert run.exit_code == 0, run.stderr


def _label(i):
    return {"id": f"demos/{i}", "mode": "names", "answer": "ball",
            "instruction": "pick up a ball"}


READERS: dict[str, Reader] = {
    "diffhist encode": Reader([], _step, streams=True),
    "diffhist decode": Reader([], _encoded, streams=True),
    "diffhist windows": Reader(["--steps", "1"], _step, streams=True),
    "diffhist prompt": Reader([], _step, streams=True),
    "diffhist stats": Reader([], _step),
    "lintseq sample": Reader([], lambda i: {"id": f"p{i}", "program": PROGRAM}, streams=True),
    "lintseq apply": Reader([], _sequence, streams=True),
    "lintseq format": Reader([], _sequence, streams=True),
    "lintseq stats": Reader([], _sequence),
    "lintseq finetune": Reader(["--init-config", "gpt2-test", "--out-dir", "{tmp}/ft"],
                               lambda i: {"prompt": "a", "completion": "b"}, heavy=True,
                               trains=True),
    "lintseq generate": Reader(["--model", "{tmp}/model", "-n", "1", "--max-tokens", "2"],
                               lambda i: {"task_id": f"t{i}", "instruction": "add"},
                               heavy=True, setup=_tiny_model),
    "lintseq eval": Reader(["--problems", "{tmp}/problems.jsonl"],
                           lambda i: {"task_id": "t", "sample": i, "program": PROGRAM},
                           setup=_problems),
    "lintseq passk-plot": Reader(["--plot", "{tmp}/passk.png"],
                                 lambda i: {"id": "summary", "summary": True,
                                            "pass_at_k": {"1": 0.5}}),
    "compose-sample train": Reader(["--out-dir", "{tmp}/cs", "--steps", "1"],
                                   lambda i: {"x": [0.1, 0.2]}, heavy=True, trains=True),
    "compose-sample eval": Reader(["--max-points", "10"],
                                  lambda i: {"x": [0.5, 0.0], "target": "ring"}),
    "nhrecord stats": Reader(["--steps"], lambda i: {
        "episode": f"e{i}", "strategy_name": "explore", "reward": 1.0, "done": False}),
    "ceindex build": Reader(["--items", str(EXAMPLES / "ceindex/small/items.jsonl"), "--scorer",
                             "examples.ceindex.lexical:score", "-i", "{tmp}/index"],
                            lambda i: {"id": f"q{i}", "text": "sort a list"}, heavy=True,
                            trains=True),
    "ceindex search": Reader(["-i", str(EXAMPLES / "ceindex/small/index"), "-B", "4", "-R", "2"],
                             lambda i: {"id": f"q{i}", "text": "sort a list"}, heavy=True),
    "ceindex eval": Reader(["-i", str(EXAMPLES / "ceindex/small/index"), "-B", "4", "-R", "2"],
                           lambda i: {"id": f"q{i}", "text": "sort a list"}, heavy=True),
    "distill gen-queries": Reader([], lambda i: {"id": f"q{i}", "query": f"how to sort list {i}"},
                                  streams=True),
    "distill train": Reader(["--corpus", "{tmp}/corpus.jsonl", "--student", "{tmp}/none",
                             "--out-dir", "{tmp}/student"],
                            lambda i: {"id": f"q{i}", "query": "sort", "positives": "d1"},
                            heavy=True, trains=True, setup=_corpus),
    "distill encode": Reader([], lambda i: {"id": f"t{i}", "text": "sort a list"}, heavy=True),
    "distill eval": Reader(["--corpus", "{tmp}/corpus.jsonl"],
                           lambda i: {"id": f"q{i}", "query": "sort", "positives": "d1"},
                           heavy=True, empty_light=True, setup=_corpus),
    "bench replay": Reader([], lambda i: {"id": f"e:{i}", "step": i, "obs": "x", "action": "a"},
                           streams=True),
    "relabel score": Reader(["--dataset", "{tmp}/eps"], _label, setup=_lift_episodes),
    "relabel apply": Reader(["{tmp}/eps", "--out-dir", "{tmp}/relabelled"], _label,
                            heavy=True, setup=_lift_episodes),
}


def test_every_jsonl_reader_is_registered():
    readers = {path for path, command in COMMANDS.items() if _reads_jsonl(command, path)}
    assert readers == set(READERS), (
        f"register these JSONL readers in READERS: {sorted(readers - set(READERS))}; "
        f"not readers: {sorted(set(READERS) - readers)}")


def _prepare(path: str, tmp: Path, lines: list[bytes]) -> tuple[list[str], Path]:
    spec = READERS[path]
    if spec.setup is not None and not spec.extra.get("ready"):
        spec.setup(tmp)
    data = tmp / "in.jsonl"
    data.write_bytes(b"".join(line + b"\n" for line in lines))
    args = [a.replace("{tmp}", str(tmp)) for a in spec.args]
    return [*path.split(), *args, str(data)], data


def _valid(path: str, i: int) -> bytes:
    return orjson.dumps(READERS[path].make(i))


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


@pytest.mark.parametrize("path", sorted(READERS))
def test_malformed_line_is_one_error_naming_file_and_line(path, tmp_path):
    args, data = _prepare(path, tmp_path, [_valid(path, 0), b"{not json", _valid(path, 1)])
    run = invoke(args)
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr
    errors = _error_lines(run.stderr)
    assert len(errors) == 1 and f"{data}:2:" in errors[0], run.stderr
    assert errors[0].startswith(f"papertools {path.split()[0]}: error: ")


LIGHT = sorted(p for p, r in READERS.items() if not r.heavy)


@pytest.mark.parametrize("path", LIGHT)
def test_on_error_skip_goes_on_and_exits_1(path, tmp_path):
    args, data = _prepare(path, tmp_path, [_valid(path, 0), b"", _valid(path, 1)])
    clean = invoke(args)
    assert clean.exit_code == 0, clean.stderr
    data.write_bytes(b"\n".join([_valid(path, 0), b"[1]", _valid(path, 1)]) + b"\n")
    skip = invoke([*args, "--on-error", "skip"])
    assert skip.exit_code == 1 and "Traceback" not in skip.stderr
    assert f"{data}:2:" in skip.stderr
    assert len(skip.stdout.splitlines()) == len(clean.stdout.splitlines()), skip.stderr


@pytest.mark.parametrize("path", sorted(READERS))
def test_empty_input_exits_0_unless_the_command_trains(path, tmp_path):
    spec = READERS[path]
    if spec.heavy and not spec.trains and not spec.empty_light:
        pytest.skip("loads a model for any input")
    args, _ = _prepare(path, tmp_path, [])
    run = invoke(args)
    assert "Traceback" not in run.stderr
    if spec.trains:
        assert run.exit_code == 1 and len(_error_lines(run.stderr)) == 1, run.stderr
    else:
        assert run.exit_code == 0, run.stderr
        assert not [line for line in run.stdout.splitlines() if line.startswith(b"{")
                    and b'"id":"summary"' not in line and b"summary" not in line] or \
            path.endswith("stats"), run.stdout


STREAMS = sorted(p for p, r in READERS.items() if r.streams)


@pytest.mark.parametrize("path", STREAMS)
def test_head_ends_quietly(path, tmp_path):
    args, data = _prepare(path, tmp_path, [_valid(path, i) for i in range(1500)])
    quoted = " ".join(f"'{a}'" for a in args)
    run = shell(f"papertools {quoted} | head -n 1")
    assert run.returncode == 0, run.stderr.decode()
    assert run.stderr == b"" and len(run.stdout.splitlines()) == 1


# bench replay prints text, not records; gen-queries reads every query before it writes (the
# perturbations draw words from all of them)
@pytest.mark.parametrize("path", [p for p in STREAMS
                                  if p not in ("bench replay", "distill gen-queries")])
def test_output_is_atomic_and_keeps_partial(path, tmp_path):
    lines = [_valid(path, i) for i in range(20)] + [b"{not json"]
    args, _ = _prepare(path, tmp_path, lines)
    target = tmp_path / "out.jsonl"
    run = invoke([*args, "-o", str(target)])
    assert run.exit_code == 1 and "Traceback" not in run.stderr
    assert not target.exists()
    partial = Path(f"{target}.partial")
    assert partial.exists(), run.stderr
    assert all(orjson.loads(line) for line in partial.read_bytes().splitlines())
