"""Prompt modes: what a labeller is asked about a trajectory, its answers and their instructions.

A mode is the paper's choice of supervision: object names (``names``), attributes
(``colours``), both (``objects``), categories taught by examples (``categories``) and one
user's ad-hoc preferences (``preferences``). Each has a closed answer vocabulary; an answer
becomes the instruction of the lift family of the same name (core.envs.lift), and "nothing"
(None) means the trajectory gets no instruction and is dropped.

The truth of a mode (:meth:`Mode.truth`) comes from the lifted object, a privileged fact: only
the oracle labeller and the scorer read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from papertools.core.envs import lift

MODES = ("names", "colours", "objects", "categories", "preferences")
NOTHING = ("nothing", "none", "no object", "not holding", "empty")
YES = "yes"


@dataclass(frozen=True)
class Mode:
    name: str

    @property
    def category_sets(self) -> dict:
        return dict(lift.CATEGORIES)

    @property
    def vocab(self) -> list[str]:
        """The answers besides nothing."""
        if self.name == "names":
            return list(lift.TYPES)
        if self.name == "colours":
            return list(lift.COLORS)
        if self.name == "objects":
            return list(lift.PAIRS)
        if self.name == "categories":
            return list(self.category_sets)
        if self.name == "preferences":
            return [YES]
        raise ValueError(f"unknown mode {self.name!r} (choose from {', '.join(MODES)})")

    def answer_of(self, pair: str | None) -> str | None:
        """The right answer for a lifted colour-type pair ("red ball"), None for nothing."""
        if pair is None:
            return None
        color, kind = pair.split()
        if self.name == "names":
            return kind
        if self.name == "colours":
            return color
        if self.name == "objects":
            return pair
        if self.name == "categories":
            return next((k for k, v in self.category_sets.items() if pair in v), None)
        if self.name == "preferences":
            return YES if pair in lift.PREFERRED else None
        raise ValueError(f"unknown mode {self.name!r}")

    def truth(self, record: dict) -> str | None:
        """The right answer for an episode record (its privileged ``lifted`` field)."""
        return self.answer_of(record.get("lifted"))

    def instruction(self, answer: str | None) -> str | None:
        """The lift instruction an answer gives ("ball" -> "pick up a ball")."""
        if answer is None:
            return None
        if answer not in self.vocab:
            raise ValueError(f"{answer!r} is not an answer of mode {self.name}")
        if self.name == "names":
            return f"pick up a {answer}"
        if self.name == "colours":
            return f"pick up a {answer} object"
        if self.name == "objects":
            return f"pick up the {answer}"
        if self.name == "categories":
            return f"pick up a {answer}"
        return f"pick up {lift.PREFERENCE}"

    def parse(self, reply: str) -> tuple[bool, str | None]:
        """(parsed, answer) from a model's free-text reply: an answer of the vocabulary named
        once (several distinct ones, or none, is unparsed), or an explicit nothing (None).
        Preferences are answered yes or no."""
        text = " ".join(re.findall(r"[a-z]+", reply.lower()))
        if not text:
            return False, None
        if self.name == "preferences":
            words = set(text.split())
            if "yes" in words and "no" not in words:
                return True, YES
            if "no" in words and "yes" not in words:
                return True, None
        found = []
        for term in sorted(self.vocab, key=len, reverse=True):  # "red ball" before "ball"
            if re.search(rf"\b{re.escape(term)}\b", text):
                found.append(term)
                text = re.sub(rf"\b{re.escape(term)}\b", " ", text)
        if self.name == "objects":
            # a colour and a type apart ("a ball, red") still name one pair
            colours = [c for c in lift.COLORS if re.search(rf"\b{c}\b", text)]
            kinds = [t for t in lift.TYPES if re.search(rf"\b{t}\b", text)]
            if not found and len(colours) == 1 and len(kinds) == 1:
                found = [f"{colours[0]} {kinds[0]}"]
        if len(set(found)) == 1:
            return True, found[0]
        if not found and any(re.search(rf"\b{n}\b", text) for n in NOTHING):
            return True, None
        return False, None


def score_labels(pairs) -> dict:
    """Precision and recall of (answer, truth) pairs: precision = right answers / answers
    given, recall = right answers / episodes with a right answer to give."""
    given = right = positives = n = 0
    for answer, truth in pairs:
        n += 1
        given += answer is not None
        positives += truth is not None
        right += answer is not None and answer == truth
    return {"episodes": n, "answers": given, "positives": positives, "correct": right,
            "precision": right / given if given else None,
            "recall": right / positives if positives else None}


__all__ = ["MODES", "Mode", "NOTHING", "score_labels"]
