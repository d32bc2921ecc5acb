"""``papertools hrl``: hierarchical agents whose subgoals are language, and HiHack's
strategy-headed policy (options and help only).

The library: language.py (the BabyAI bot's subgoals as words, paraphrases), demos.py
(demonstrations with subgoal labels and segments), low.py (the subgoal-conditioned low level),
high.py (the subgoal-choosing high level and the two-level agent), smdp.py (the high level's
RL stage), latent.py (subgoals without language), hihack.py (NetHack: flat and strategy-headed
cloning), study.py (arms x seeds). The policies bench loads live in core/learn.
"""

from __future__ import annotations

import click

from papertools.core import options

TOOL = "hrl"

RECORDS = """\
(filled in as the commands land)"""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Hierarchical agents with language subgoals (Ahuja et al., 2023) and HiHack's
    strategy-headed policy (Piterbarg, Pinto and Fergus, 2023).
    """


# ---- Part A: demonstrations and the low level (demos, low, eval-low) ----


# ---- Part A: the high level, the two-level agent and its RL stage (high, rl) ----


# ---- Part A: subgoals without language (latent) and the study (study) ----


# ---- Part B: HiHack on NetHack (clone, eval) ----
