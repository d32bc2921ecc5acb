"""The README's diffhist examples run as written (from a folder that holds the shipped examples)."""

from __future__ import annotations

import re

import orjson

from tests.helpers import ROOT, shell


def readme_commands(section: str) -> list[str]:
    """The command lines of a README section's indented example blocks (comments dropped)."""
    text = (ROOT / "README.md").read_text()
    body = re.search(rf"^## {section}\n(.*?)(?=^## )", text, re.S | re.M).group(1)
    return [line.strip() for line in body.splitlines()
            if line.startswith("    ") and line.strip() and not line.strip().startswith("#")]


def test_readme_diffhist_examples_run(tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    commands = readme_commands("diffhist")
    assert any(c.startswith("papertools diffhist windows") for c in commands)
    for command in commands:
        proc = shell(f"cd {tmp_path} && {command}")
        assert proc.returncode == 0, (command, proc.stderr.decode())
    windows = [orjson.loads(x) for x in (tmp_path / "train.jsonl").read_bytes().splitlines()]
    full = (tmp_path / "train-full.jsonl").read_bytes().splitlines()
    assert len(windows) > 0 and len(full) == len(windows)
    assert (tmp_path / "prompts.jsonl").read_bytes().count(b"\n") == 4  # one per game
