"""``papertools pretrain``: a representation and a progress reward learned offline from
observation-only demonstrations, plugged into online PPO (Mazoure, Bruce, Precup, Fergus and
Anand, 2023; the progress model of Bruce et al.'s ELE) (options and help only).

The library: data.py (observation-only datasets and the geometric pair sampler), offline.py
(the contrastive encoder and the progress model), checks.py (is the progress reward
exploitable?), demos.py (observation-only demonstrations for the study's tasks), online.py
(PPO arms: scratch, pre-trained encoder frozen or fine-tuned, progress reward, both), study.py
(tasks x arms x seeds, the table and the curves).
"""

from __future__ import annotations

import click

from papertools.core import options

TOOL = "pretrain"

RECORDS = """\
(each part adds the records its commands write)"""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-nhrecord(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Offline pre-training from observation-only demonstrations (Mazoure et al., 2023).

    (the coordinator writes this text and its Examples block when the parts merge)
    """


cli.see_also = SEE_ALSO


# ---- Part O: offline pre-training (encoder, reward, check) ----


# ---- Part N: online RL and the study (demos, rl, study) ----
