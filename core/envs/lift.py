"""Lift rooms: one BabyAI room holding several objects, where an episode ends at the first lift.

The stand-in for the Playhouse of Sumers et al. (relabel): an agent that can lift things, a room
with several objects (minigrid's balls, boxes and keys in its six colours), and instructions of
one family per task, judged by the environment on the object lifted:

    any          "pick up an object"            every object qualifies (the generic instruction)
    objects      "pick up the red ball"         one colour and type
    names        "pick up a ball"               a type (the object's name)
    colours      "pick up a red object"         a colour (an attribute)
    categories   "pick up a dax", "... a wug"   made-up categories over colour-type pairs,
                                                which only examples can teach (few-shot)
    preferences  "pick up something i like"     one user's ad-hoc set of colour-type pairs
    ordinal      "pick up the second closest    the k-th closest object to the agent's start (in
                  object"                       grid steps; ties by row, then column): where,
                                                not what (an agent with intentions, no names)

The first ``pick up`` that lifts something ends the episode: reward (minigrid's, 1 - 0.9
steps/limit) when the object qualifies, 0 when it does not. A layout holds exactly one object
that qualifies for the episode's instruction and ``num_objects - 1`` that do not, so lifting an
object at random succeeds with probability 1/num_objects (:func:`chance`); with ``any`` every
object qualifies and the BabyAI bot walks to a hidden one drawn uniformly. ``exclude`` names
colour-type pairs no layout places (objects kept out of a training distribution);
``categories`` replaces the default category sets (a dict name -> pairs) and ``targets`` limits
the instructions drawn (texts of the family).

The observation is BabyAI's (``image`` (7,7,3), ``direction``, ``mission``; ``rgb`` the agent's
view with ``rgb=True``), and the text view is BabyAI's. The carried object is drawn in the
agent's own cell of the view (minigrid puts it there), which is what a labeller looking at the
last frame of an episode sees; :func:`lifted` reads it back from the grid (privileged: the
oracle's and the scorer's, never a learned labeller's).
"""

from __future__ import annotations

from gymnasium import spaces

from . import babyai

TYPES = ("ball", "box", "key")
COLORS = babyai.COLORS
PAIRS = tuple(f"{c} {t}" for c in COLORS for t in TYPES)
# two made-up categories of six pairs each, neither a colour nor a type (the other six pairs
# belong to none): only examples can teach them
CATEGORIES = {
    "dax": ("red ball", "green box", "blue key", "purple ball", "yellow box", "grey key"),
    "wug": ("green ball", "blue box", "purple key", "yellow ball", "grey box", "red key"),
}
PREFERENCE = "something i like"
PREFERRED = ("red box", "blue ball", "yellow key", "grey ball", "green key", "purple key")
FAMILIES = ("any", "objects", "names", "colours", "categories", "preferences", "ordinal")
GENERIC = "pick up an object"
ORDINALS = ("closest", "second closest", "third closest", "fourth closest", "fifth closest",
            "sixth closest", "seventh closest", "eighth closest")


def instructions(family: str, categories: dict | None = None) -> list[tuple[str, frozenset]]:
    """The family's instructions, each with the colour-type pairs ("red ball") it accepts."""
    if family == "any":
        return [(GENERIC, frozenset(PAIRS))]
    if family == "objects":
        return [(f"pick up the {p}", frozenset([p])) for p in PAIRS]
    if family == "names":
        return [(f"pick up a {t}", frozenset(f"{c} {t}" for c in COLORS)) for t in TYPES]
    if family == "colours":
        return [(f"pick up a {c} object", frozenset(f"{c} {t}" for t in TYPES)) for c in COLORS]
    if family == "categories":
        sets = categories or CATEGORIES
        return [(f"pick up a {name}", frozenset(pairs)) for name, pairs in sets.items()]
    if family == "preferences":
        return [(f"pick up {PREFERENCE}", frozenset(PREFERRED))]
    if family == "ordinal":  # by place, not by kind: any pair may be the k-th closest
        return [(f"pick up the {o} object", frozenset(PAIRS)) for o in ORDINALS]
    raise ValueError(f"unknown lift family {family!r} (choose from {', '.join(FAMILIES)})")


def chance(num_objects: int, family: str = "objects") -> float:
    """Success of lifting one object of the room at random (ordinal: the one object placed
    k-th)."""
    return 1.0 if family == "any" else 1.0 / num_objects


def lifted(image) -> str | None:
    """The carried object of a BabyAI view (7,7,3), "red ball", or None: minigrid draws it in
    the agent's cell (the bottom row's middle)."""
    from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT

    cell = image[image.shape[0] // 2, image.shape[1] - 1]
    kind = IDX_TO_OBJECT[int(cell[0])]
    if kind not in TYPES:
        return None
    return f"{IDX_TO_COLOR[int(cell[1])]} {kind}"


_LEVEL = None


def _object_index(kind: str) -> int:
    from minigrid.core.constants import OBJECT_TO_IDX

    return OBJECT_TO_IDX[kind]


def _level_class():
    global _LEVEL
    if _LEVEL is not None:
        return _LEVEL
    from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
    from minigrid.envs.babyai.core.verifier import ObjDesc, PickupInstr

    class LiftInstr(PickupInstr):
        """Pick up the hidden target (what the bot plans for); any lift ends the episode, a
        success when the lifted object is one the instruction accepts."""

        def __init__(self, desc, text: str, accepted: frozenset, target=None):
            super().__init__(desc, strict=False)
            self.text, self.accepted, self.target = text, accepted, target

        def surface(self, env):
            return self.text

        def verify(self, action):
            if action != self.env.actions.pickup or self.env.carrying is None:
                return "continue"
            if self.target is not None:  # ordinal: that very object
                return "success" if self.env.carrying is self.target else "failure"
            held = f"{self.env.carrying.color} {self.env.carrying.type}"
            return "success" if held in self.accepted else "failure"

    class LiftLevel(RoomGridLevel):
        def __init__(self, family, num_objects, exclude, targets, categories, **kwargs):
            self.family, self.num_objects = family, int(num_objects)
            self.exclude = frozenset(exclude)
            choices = instructions(family, categories)
            if family == "ordinal":
                choices = choices[:self.num_objects]
            if targets:
                known = {text for text, _ in choices}
                unknown = [t for t in targets if t not in known]
                if unknown:
                    raise ValueError(f"{family}: no instruction {unknown[0]!r}")
                choices = [c for c in choices if c[0] in set(targets)]
            self.choices = [(text, accepted - self.exclude) for text, accepted in choices]
            if not all(accepted for _, accepted in self.choices):
                raise ValueError("every pair an instruction accepts is excluded")
            super().__init__(num_rows=1, num_cols=1, **kwargs)

        def gen_mission(self):
            self.place_agent()
            text, accepted = self._rand_elem(self.choices)
            allowed = [p for p in PAIRS if p not in self.exclude]
            if self.family in ("any", "ordinal"):
                pairs = [self._rand_elem(allowed) for _ in range(self.num_objects)]
            else:
                others = [p for p in allowed if p not in accepted]
                pairs = [self._rand_elem(sorted(accepted))]
                pairs += [self._rand_elem(others) for _ in range(self.num_objects - 1)]
            objs = []
            for pair in pairs:
                color, kind = pair.split()
                obj, _ = self.add_object(0, 0, kind, color)
                objs.append(obj)
            self.check_objs_reachable()
            exact = None
            if self.family == "any":
                target = self._rand_elem(objs)
            elif self.family == "ordinal":
                ax, ay = self.agent_pos
                order = sorted(objs, key=lambda o: (abs(o.cur_pos[0] - ax) + abs(o.cur_pos[1] - ay),
                                                    o.cur_pos[1], o.cur_pos[0]))
                target = exact = order[[c[0] for c in self.choices].index(text)]
            else:
                target = objs[0]
            # the bot's plan: the target's exact position (ObjDesc alone would accept twins)
            desc = ObjDesc(target.type, target.color)
            self.instrs = LiftInstr(desc, text, accepted, exact)
            self._target = target
            if len(objs) != self.num_objects:
                raise RejectSampling("objects")

        def reset(self, **kwargs):
            obs = super().reset(**kwargs)
            # the bot goes to the target itself, not its first twin
            desc = self.instrs.desc
            desc.obj_set = [self._target]
            desc.obj_poss = [self._target.cur_pos]
            return obs

    _LEVEL = LiftLevel
    return LiftLevel


POINTER = 7  # the state value that marks the pointed-at object's cell (objects have 0)


class Native(babyai.Native):
    """A lift room as a gymnasium env (``task``: one of :data:`FAMILIES`); see the module.

    ``point``: the episode's target (the hidden one under ``any``) is pointed at: its cell in
    the view carries :data:`POINTER` in the state channel of ``image`` whenever it is in sight,
    and ``scene`` holds the view without the mark. A lifter that follows the pointer lifts
    what it is shown without knowing what it is: relabel's original agent, whose choice of
    object the pointer makes as varied as the collection wants."""

    def __init__(self, task: str = "any", seed: int | None = None, max_steps: int | None = None,
                 num_objects: int = 5, room_size: int = 7, exclude=(), targets=None,
                 categories: dict | None = None, point: bool = False, rgb: bool = False,
                 tile_size: int = 16, render_mode: str | None = None):
        if task not in FAMILIES:
            raise ValueError(f"unknown lift family {task!r} (choose from {', '.join(FAMILIES)})")
        if num_objects < 1:
            raise ValueError("num_objects must be at least 1")
        self._lift = dict(num_objects=num_objects, room_size=room_size, exclude=tuple(exclude),
                          targets=tuple(targets or ()), categories=categories)
        super().__init__(task=task, seed=seed, max_steps=max_steps, rgb=rgb,
                         tile_size=tile_size, render_mode=render_mode)
        self.num_objects = int(num_objects)
        self.point = bool(point)
        if self.point:
            self.observation_space = spaces.Dict({**self.observation_space.spaces,
                                                  "scene": self.observation_space["image"]})

    def _observation(self, obs) -> dict:
        out = super()._observation(obs)
        if self.point:
            out["scene"] = out["image"]
            out["image"] = image = out["image"].copy()
            target = getattr(self.env, "_target", None)
            if target is not None and target.cur_pos is not None and \
                    self.env.carrying is not target:
                view = self.env.relative_coords(*target.cur_pos)
                if view is not None and image[view[0], view[1], 0] == \
                        _object_index(target.type):
                    image[view[0], view[1], 2] = POINTER
        return out

    def _make_level(self, task, num_dists, max_steps, render_mode):
        opts = self._lift
        return _level_class()(task, opts["num_objects"], opts["exclude"], opts["targets"],
                              opts["categories"], room_size=opts["room_size"],
                              max_steps=max_steps, render_mode=render_mode)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated:
            info = {**info, "success": reward > 0, "lifted": lifted(obs["image"])}
        return obs, reward, terminated, truncated, info


class Env(babyai.Env):
    """The text view over :class:`Native` (BabyAI's words)."""

    name = "lift"

    def __init__(self, task: str = "any", seed: int = 0, max_steps: int | None = None,
                 images: bool = False, **options):
        self.task = task
        self.images = images
        self.native = Native(task=task, rgb=images, render_mode="rgb_array" if images else None,
                             **options)
        self.env = self.native.env
        babyai.TextEnv.__init__(self, seed, max_steps)
        self._fixed_max_steps = max_steps
        self.mission = ""


__all__ = ["CATEGORIES", "COLORS", "FAMILIES", "GENERIC", "PAIRS", "ORDINALS", "POINTER",
           "PREFERENCE",
           "PREFERRED", "TYPES", "Env", "Native", "chance", "instructions", "lifted"]
