"""The README's lintseq examples run as written from the repository root: every file or model a
block reads is in the repository or written earlier in the same block (running them all takes
minutes of fine-tuning; the first block's commands are also the help's examples)."""

from __future__ import annotations

import shlex

from tests.helpers import ROOT

READS_NEXT = {"--problems", "--model"}  # options whose value is read
WRITES_NEXT = {"-o", "--output", "--out-dir", "--plot", ">"}  # ... and written


def lintseq_blocks() -> list[list[str]]:
    """The command blocks of the README that run lintseq: the intro's pipeline and each
    indented block of the lintseq section (blocks are separated by prose)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## lintseq\n"):]
    section = section[: section.index("\n## ", 1)]
    intro = [line.strip() for line in text[: text.index("\n## ")].splitlines()
             if line.startswith("    papertools lintseq")]
    blocks, current = [intro], []
    for line in section.splitlines():
        if line.startswith("    "):
            if not line.lstrip().startswith("#"):
                current.append(line.strip())
        elif line.strip() and current:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def reads_and_writes(command: str) -> tuple[list[str], list[str]]:
    reads, writes = [], []
    words = shlex.split(command.replace(">", " > ").replace("|", " | "))
    for before, word in zip([""] + words, words):
        if before in WRITES_NEXT:
            writes.append(word)
        elif before in READS_NEXT or word.endswith((".jsonl", ".jsonl.gz")) and \
                not word.startswith("-"):
            reads.append(word)
    return reads, writes


def test_each_lintseq_block_reads_only_what_it_has():
    blocks = lintseq_blocks()
    assert len(blocks) >= 3 and all(blocks)
    for block in blocks:
        written: list[str] = []
        for command in block:
            reads, writes = reads_and_writes(command)
            for path in reads:
                made = any(path == w or path.startswith(w.rstrip("/") + "/") for w in written)
                assert made or (ROOT / path).exists(), f"{command!r} reads {path}, which the " \
                    f"block has not written and the repository does not hold"
            written += writes
