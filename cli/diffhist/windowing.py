"""Training windows: which steps of an episode become the paper's k-step examples.

Only steps with an action can be in a window (an episode's last step has none). Windows of k
such steps tile the episode every ``stride`` steps from a random offset below ``stride`` (below
the last possible start when the episode is short), and ``max_per_episode`` keeps that many of
them, chosen at random. The random stream of an episode derives from (seed, the episode's name),
so an episode's windows do not depend on the other episodes in the stream or on their order.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from papertools.core import history
from papertools.core.errors import Diagnostics
from papertools.core.seed import derive_seed, numpy_rng

from .steps import Step


def window_starts(episode: str, acted: int, k: int, stride: int, seed: int,
                  max_per_episode: int | None = None) -> list[int]:
    """The first steps (indices among the episode's ``acted`` steps with an action) of its
    windows of ``k`` steps; ``acted`` must be at least ``k``."""
    rng = numpy_rng(derive_seed(seed, *episode.encode()))
    offset = int(rng.integers(0, min(stride, acted - k + 1)))
    starts = list(range(offset, acted - k + 1, stride))
    if max_per_episode is not None and len(starts) > max_per_episode:
        starts = sorted(rng.choice(starts, size=max_per_episode, replace=False).tolist())
    return starts


def episode_windows(steps: Sequence[Step], k: int, stride: int, seed: int,
                    max_per_episode: int | None, diag: Diagnostics, *, full: bool = False,
                    paper: bool = False,
                    instruction: str = history.INSTRUCTION) -> Iterator[dict]:
    """Window records of one episode (windows' RECORDS); an episode with fewer than ``k`` steps
    with an action is a reject reported to ``diag`` and gives none."""
    acted = [s for s in steps if s.action is not None]
    if len(acted) < k:
        diag.reject(f"episode {steps[0].episode!r}: {len(acted)} steps with an action, "
                    f"fewer than a window of {k}", steps[0].item.place)
        return
    for start in window_starts(steps[0].episode, len(acted), k, stride, seed, max_per_episode):
        chunk = acted[start:start + k]
        example = history.window_example([s.obs for s in chunk], [s.action for s in chunk],
                                         full=full, paper=paper, instruction=instruction)
        yield {"id": f"{chunk[0].episode}:{chunk[0].step}", "episode": chunk[0].episode,
               "start": chunk[0].step, "steps": k, **example}
