"""The paper's strategy labels and their ordinals (HiHack's ``HIHACK_ORDINALS``).

The table is the AutoAscend fork's, unchanged: ``None`` (no strategy chosen yet) maps to
``init`` (7), and ``error`` is -1. Strategies our agent never uses (offer_corpses, solve_sokoban)
keep their ordinals so that datasets stay compatible with models trained on the paper's labels.
Training code that needs non-negative class ids uses ``ordinal + 1`` (13 classes, 0..12).
"""

from __future__ import annotations

STRATEGIES: dict[str, int] = {
    "explore": 0,
    "fight": 1,
    "ground_eat": 2,
    "wait_out": 3,
    "emergency": 4,
    "inventory_eat": 5,
    "offer_corpses": 6,
    "init": 7,
    "solve_sokoban": 8,
    "engulfed_fight": 9,
    "follow_guard": 10,
    "cure_disease": 11,
    "error": -1,
}
NAMES: dict[int, str] = {v: k for k, v in STRATEGIES.items()}
NUM_CLASSES = len(STRATEGIES)  # 13, for ``ordinal + 1`` class ids
RESERVED = ("offer_corpses", "solve_sokoban")  # in the table, never chosen by our agent


def ordinal(name: str | None) -> int:
    """The ordinal of a strategy name; ``None`` is ``init``. Unknown names raise ValueError."""
    if name is None:
        return STRATEGIES["init"]
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})") from None


def name(value: int) -> str:
    """The strategy name of an ordinal; unknown ordinals raise ValueError."""
    try:
        return NAMES[int(value)]
    except KeyError:
        raise ValueError(f"unknown strategy ordinal {value!r}") from None
