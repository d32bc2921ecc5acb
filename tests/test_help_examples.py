"""Every example in every --help runs as written, from the repository root (as the man pages
and the README promise).

Examples keep their scratch files under /tmp/; here each test session gives them a fresh
folder of its own instead (``/tmp/`` in a line becomes that folder), so that two test runs at
once, or folders left by an earlier run, cannot change what an example finds. A command's
examples run in order and may use what an earlier one wrote."""

from __future__ import annotations

import importlib

import click
import pytest

from papertools.cli.main import TOOLS, cli
from tests.helpers import shell


def examples_of(command: click.Command) -> list[str]:
    doc = command.help or ""
    if "Examples:" not in doc:
        return []
    block = doc.split("Examples:", 1)[1]
    return [line.strip() for line in block.strip("\n").splitlines() if line.strip()]


def all_commands():
    yield "papertools", cli
    for name, (module, attr, _) in sorted(TOOLS.items()):
        group = getattr(importlib.import_module(module), attr)
        yield f"papertools {name}", group
        for sub_name, sub in sorted(getattr(group, "commands", {}).items()):
            yield f"papertools {name} {sub_name}", sub


CASES = [(path, line) for path, command in all_commands() for line in examples_of(command)]


def test_every_command_has_examples():
    for path, command in all_commands():
        assert examples_of(command), f"{path} has no Examples block in its help"


@pytest.fixture(scope="session")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("examples")


@pytest.mark.parametrize("path,line", CASES, ids=[f"{p}: {l[:50]}" for p, l in CASES])
def test_example_runs(path, line, scratch):
    proc = shell(line.replace("/tmp/", f"{scratch}/"))
    assert proc.returncode == 0, f"{path}: {line}\n{proc.stderr.decode()[-2000:]}"
