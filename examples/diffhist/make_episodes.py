"""Make examples/diffhist/episodes.jsonl.gz: four short real NetHack games as step records.

Played on the real NLE (NetHackChallenge) by papertools.core.nethack.play_steps, a simple
walker (not a good player: nhrecord's agent is), seeds 1-4, 40 steps each; observations are the
paper's five text blocks. Run from the repository root:

    .venv/bin/python examples/diffhist/make_episodes.py
"""

import gzip
from pathlib import Path

from papertools.core.jsonl import dumps
from papertools.core.nethack.text import play_steps

OUT = Path(__file__).with_name("episodes.jsonl.gz")

with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
    for seed in range(1, 5):
        for record in play_steps(seed, 40):
            fh.write(dumps(record))
print(f"wrote {OUT}")
