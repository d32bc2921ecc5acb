"""diffhist's window choice (windowing.py), without the command line."""

from __future__ import annotations

from papertools.cli.diffhist.windowing import window_starts


def test_windows_tile_from_a_seeded_offset_below_the_stride():
    offsets = set()
    for seed in range(8):
        starts = window_starts("nle-1", 50, 8, 5, seed)
        offsets.add(starts[0])
        assert 0 <= starts[0] < 5 and all(b - a == 5 for a, b in zip(starts, starts[1:]))
        assert starts[-1] + 8 <= 50 < starts[-1] + 5 + 8  # the last window that fits
        assert starts == window_starts("nle-1", 50, 8, 5, seed)
    assert len(offsets) > 1
    assert window_starts("nle-1", 9, 8, 64, 0) in ([0], [1])  # short: below the last start


def test_max_per_episode_keeps_a_sorted_subset_of_the_same_tiling():
    every = window_starts("nle-2", 100, 4, 4, 1)
    some = window_starts("nle-2", 100, 4, 4, 1, max_per_episode=3)
    assert len(some) == 3 and some == sorted(some) and set(some) <= set(every)
    assert window_starts("nle-2", 100, 4, 4, 1, max_per_episode=len(every)) == every
