"""Shared test helpers: run the CLI in-process (click's CliRunner) or through real pipes.

    from tests.helpers import invoke, jsonl, shell
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
from click.testing import CliRunner

from papertools.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent


@dataclass
class Run:
    exit_code: int
    stdout: bytes
    stderr: str

    @property
    def records(self) -> list[dict]:
        return [orjson.loads(line) for line in self.stdout.splitlines() if line.strip()]


def invoke(args: list[str], input: bytes | str | None = None) -> Run:
    """Run ``papertools ARGS`` in-process; stdout as bytes, stderr as text."""
    result = CliRunner().invoke(cli, args, input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout_bytes, result.stderr)


def jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def shell(command: str, input: bytes | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run a shell pipeline with the venv's papertools first on PATH, from the repo root."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], input=input, cwd=ROOT,
                          env=env, capture_output=True, timeout=timeout)

