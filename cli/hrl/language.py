"""The BabyAI bot's subgoals as language: a closed list of canonical subgoals, several
phrasings of each, and a naive annotator's mistakes.

A canonical subgoal is one meaning in one fixed wording ("open the yellow door"); the bot's
current subgoal (the top of its plan, ``core.envs.babyai.Bot.subgoals``) maps to one of them by
:func:`describe`, which reads the environment where the bot's plan does not name the object
(the door it is about to open, the object in front, the one it carries). Each canonical
subgoal has one phrasing per template of its kind (:data:`TEMPLATES`); the last template of
each kind is held out (:data:`HELD_OUT`): demonstrations never use it, so the low level can be
evaluated on wordings it never saw.

Kinds and what they mean (``achieved`` in low.py checks them in the env state):

- "go to the C T": walk until the object (a ball, box, key or door) is right in front;
- "open the C door": toggle the door in front open (unlocking it with the key carried);
- "pick up the C T": pick up the object in front (balls, boxes and keys);
- "drop the C T": walk to a free spot and put the carried object down;
- "explore": the bot's exploration and every other walk to a bare position.

Position targets: the bot often heads for a grid cell rather than an object. A cell that holds
an object (the door it is about to open, an object it set aside) is "go to" that object; the
walk to a free cell the bot then drops something on is part of "drop the C T" (so a drop
segment is the walk and the drop); any other bare cell, and the rare "close the door", is
"explore".
"""

from __future__ import annotations

import re

COLORS = ("red", "green", "blue", "purple", "yellow", "grey")  # minigrid's six
OBJECTS = ("ball", "box", "key")  # what can be carried
TARGETS = (*OBJECTS, "door")  # what can be gone to
KINDS = ("go to", "open", "pick up", "drop", "explore")
EXPLORE = "explore"

CANONICAL = tuple(
    [f"go to the {c} {t}" for t in TARGETS for c in COLORS]
    + [f"open the {c} door" for c in COLORS]
    + [f"pick up the {c} {t}" for t in OBJECTS for c in COLORS]
    + [f"drop the {c} {t}" for t in OBJECTS for c in COLORS]
    + [EXPLORE])

# Phrasings per kind, {color} and {obj} filled in; the first is the canonical wording and the
# last is held out (never in demonstrations).
TEMPLATES = {
    "go to": ("go to the {color} {obj}", "walk up to the {color} {obj}",
              "move next to the {obj} that is {color}", "head for the {color} {obj}",
              "approach the {color} {obj}"),
    "open": ("open the {color} door", "go through the {color} door",
             "get the door that is {color} open", "unlock the {color} door",
             "swing the {color} door open"),
    "pick up": ("pick up the {color} {obj}", "grab the {color} {obj}",
                "take the {obj} that is {color}", "collect the {color} {obj}",
                "lift the {color} {obj}"),
    "drop": ("drop the {color} {obj}", "put down the {color} {obj}",
             "let go of the {obj} that is {color}", "leave the {color} {obj} here",
             "set the {color} {obj} down"),
    "explore": ("explore", "look around", "search for what you need",
                "wander into unseen places", "scout the area"),
}
HELD_OUT = {kind: templates[-1] for kind, templates in TEMPLATES.items()}

_PARSE = re.compile(r"^(go to|open|pick up|drop) the (\w+) (\w+)$")


def parse(canonical: str) -> tuple[str, str | None, str | None]:
    """(kind, colour, object type) of a canonical subgoal; (explore, None, None) for explore."""
    if canonical == EXPLORE:
        return EXPLORE, None, None
    match = _PARSE.match(canonical)
    if match is None or canonical not in _CANONICAL_SET:
        raise ValueError(f"not a canonical subgoal: {canonical!r}")
    return match.group(1), match.group(2), match.group(3)


def kind_of(canonical: str) -> str:
    return parse(canonical)[0]


def phrasings(canonical: str, held_out: bool = False) -> list[str]:
    """The training phrasings of ``canonical`` (its kind's templates but the held-out one), or
    with ``held_out`` the held-out phrasing alone (a one-element list)."""
    kind, color, obj = parse(canonical)
    templates = (HELD_OUT[kind],) if held_out else TEMPLATES[kind][:-1]
    return [t.format(color=color, obj=obj) for t in templates]


_CANONICAL_SET = frozenset(CANONICAL)
# every phrasing of every canonical subgoal under every template, held-out ones included (so a
# phrase's id is the same in every dataset); fixed order: canonical order, then template order
PHRASES = tuple(dict.fromkeys(
    t.format(color=c, obj=o) for s in CANONICAL
    for (k, c, o) in [parse(s)] for t in TEMPLATES[k]))


def words() -> list[str]:
    """Every word of every phrasing (a policy's vocabulary must hold them)."""
    return list(dict.fromkeys(w for p in PHRASES for w in re.findall(r"[a-z]+", p)))


def pairs_named(text: str) -> set[str]:
    """The "colour type" pairs a canonical subgoal or a mission names ("yellow key")."""
    found = set()
    for c in COLORS:
        for t in TARGETS:
            if re.search(rf"\b{c} {t}\b", text):
                found.add(f"{c} {t}")
    return found


def corrupt(canonical: str, rng) -> str:
    """What a naive annotator might write instead of ``canonical``: another canonical subgoal,
    always different. The mix, each a third: a wrong colour (the same kind and object), a wrong
    object type (a door stays a door: a wrong colour instead), a wrong verb (go to <-> pick up
    <-> drop for objects, go to <-> open for doors). "explore" becomes a "go to" a random
    object (an annotator naming what the bot happens to walk towards). ``rng``: a
    ``random.Random`` or numpy Generator (its ``random()`` and ``choice`` are used through
    :func:`_pick`)."""
    kind, color, obj = parse(canonical)
    if kind == EXPLORE:
        return f"go to the {_pick(rng, COLORS)} {_pick(rng, TARGETS)}"
    mistake = _pick(rng, ("colour", "object", "verb"))
    if mistake == "object" and obj != "door":
        types = OBJECTS if kind in ("pick up", "drop") else TARGETS
        return f"{kind} the {color} {_pick(rng, [t for t in types if t not in (obj, 'door')])}"
    if mistake == "verb":
        verbs = ("go to", "open") if obj == "door" else ("go to", "pick up", "drop")
        return f"{_pick(rng, [v for v in verbs if v != kind])} the {color} {obj}"
    return f"{kind} the {_pick(rng, [c for c in COLORS if c != color])} {obj}"


def _pick(rng, items):
    items = list(items)
    return items[int(rng.random() * len(items)) % len(items)]


# ---------------------------------------------------------------------------------------------
# The bot's plan as a canonical subgoal


def _minigrid(native):
    """The minigrid env behind a Native env (or the minigrid env itself)."""
    return getattr(native, "env", native).unwrapped


def _named(obj) -> str | None:
    if obj is None or obj.type not in TARGETS:
        return None
    return f"{obj.color} {obj.type}"


def _resolve(env, target: str) -> str | None:
    """"red ball" as is; a colourless "ball" as the nearest ball's colour (the one the bot is
    heading for, in the levels it plays); a position "(x, y)" as the object there, if any."""
    if target.startswith("("):
        x, y = (int(v) for v in target.strip("()").split(","))
        return _named(env.grid.get(x, y))
    parts = target.split()
    if len(parts) == 2:
        return target if parts[1] in TARGETS and parts[0] in COLORS else None
    if len(parts) == 1 and parts[0] in TARGETS:
        ax, ay = env.agent_pos
        best = None
        for obj in env.grid.grid:
            if obj is not None and obj.type == parts[0] and obj.cur_pos is not None:
                d = abs(obj.cur_pos[0] - ax) + abs(obj.cur_pos[1] - ay)
                if best is None or d < best[0]:
                    best = (d, obj)
        if best is None and env.carrying is not None and env.carrying.type == parts[0]:
            return _named(env.carrying)
        return None if best is None else _named(best[1])
    return None


def describe(native, plan: list[dict]) -> str:
    """The canonical subgoal (one of :data:`CANONICAL`) of the bot's current plan (a
    ``Bot.subgoals()`` list, top last), reading ``native``'s state where the plan does not
    name the object: Open is the door in front, Pickup the object in front, Drop the object
    carried; see the module docstring for position targets."""
    if not plan:
        return EXPLORE
    env = _minigrid(native)
    top = plan[-1]
    kind, target, reason = top["kind"], top["target"], top["reason"]
    front = env.grid.get(*env.front_pos)
    if kind == "Open":
        return f"open the {front.color} door" if front is not None and front.type == "door" \
            else EXPLORE
    if kind == "Pickup":
        name = _named(front)
        return f"pick up the {name}" if name and front.type != "door" else EXPLORE
    if kind == "Drop":
        name = _named(env.carrying)
        return f"drop the {name}" if name else EXPLORE
    if kind == "GoNextTo" and reason != "Explore":
        name = _resolve(env, target)
        if name:
            return f"go to the {name}"
        below = plan[-2]["kind"] if len(plan) > 1 else ""
        if target.startswith("(") and below == "Drop" and _named(env.carrying):
            return f"drop the {_named(env.carrying)}"
    return EXPLORE


__all__ = ["CANONICAL", "COLORS", "EXPLORE", "HELD_OUT", "KINDS", "OBJECTS", "PHRASES",
           "TARGETS", "TEMPLATES", "corrupt", "describe", "kind_of", "pairs_named", "parse",
           "phrasings", "words"]
