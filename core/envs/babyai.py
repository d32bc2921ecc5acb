"""BabyAI (minigrid): BALROG's five MixedTrainLocal task families as text.

Levels: one 8x8 room (two rooms joined by a locked door for ``open``), built with minigrid's
BabyAI level generator and instruction verifiers; the families are those of BabyAI-text's
MixedTrainLocal (goto, pickup, open, putnext, "pick up X then go to Y"), with its excluded
colour/object pairs, and BALROG's ``num_dists: 0`` (so goto/pickup levels hold one object and
putnext/sequence levels two). Text: BabyAI-text style, from the 7x7 egocentric view: the nearest
wall straight ahead, left and right, then every visible object with its offset ("a red ball 1 step
left and 2 steps forward"), and "You carry ..." when holding something. Progression: 1.0 once a
reward > 0 (BALROG). The BabyAI bot (``minigrid.utils.baby_ai_bot``) is available as ``bot()``.
"""

from __future__ import annotations

import contextlib
import io

from .base import BenchEnv, Observation

ACTION_HELP = {
    "turn left": "turn to the left",
    "turn right": "turn to the right",
    "go forward": "take one step forward",
    "pick up": "pick up the object in front of you",
    "drop": "drop the object you are holding",
    "toggle": "manipulate the object in front of you (open a door, with its key if locked)",
}
WORDS = list(ACTION_HELP)  # index = minigrid's Actions value (left, right, forward, pickup, ...)
EXCLUDED = ("yellow box", "red key", "red door", "green ball", "grey door")
KINDS = {"goto", "pickup", "open", "putnext", "pick_up_seq_go_to"}

_LEVEL = None


def _level_class():
    """The level generator class (minigrid imported on first use)."""
    global _LEVEL
    if _LEVEL is not None:
        return _LEVEL
    from minigrid.envs.babyai.core.levelgen import LevelGen
    from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
    from minigrid.envs.babyai.core.verifier import (AfterInstr, BeforeInstr, GoToInstr, ObjDesc,
                                                    OpenInstr, PickupInstr, PutNextInstr)

    class MixedLocal(LevelGen):
        def __init__(self, kind: str, num_dists: int = 0, **kwargs):
            self.kind = kind
            super().__init__(room_size=8, num_rows=1, num_cols=2 if kind == "open" else 1,
                             num_dists=num_dists, locked_room_prob=0.0, locations=False,
                             unblocking=False, implicit_unlock=False, action_kinds=(kind,),
                             instr_kinds=("action",), **kwargs)

        def gen_mission(self):
            if self.kind == "open":
                color = self._rand_elem(["yellow", "green", "blue", "purple"])
                self.add_door(0, 0, 0, color, locked=True)
                self.add_object(0, 0, "key", color)
                if self.num_dists:
                    self.add_distractors(0, 0, num_distractors=self.num_dists, all_unique=False)
                self.place_agent(0, 0)
                self.check_objs_reachable()
                self.instrs = OpenInstr(ObjDesc("door", self._rand_elem([None, color])))
            else:
                self.place_agent()
                extra = 1 if self.kind in ("goto", "pickup") else 2
                objs = self.add_distractors(num_distractors=self.num_dists + extra,
                                            all_unique=False)
                self.check_objs_reachable()
                first = self._rand_elem(objs)
                desc = ObjDesc(first.type, first.color)
                if self.kind == "goto":
                    self.instrs = GoToInstr(desc)
                elif self.kind == "pickup":
                    self.instrs = PickupInstr(desc)
                else:
                    others = [o for o in objs if (o.type, o.color) != (first.type, first.color)]
                    if not others:
                        raise RejectSampling("no second object")
                    second = self._rand_elem(others)
                    desc2 = ObjDesc(second.type, second.color)
                    if self.kind == "putnext":
                        self.instrs = PutNextInstr(desc, desc2)
                    elif self._rand_bool():
                        self.instrs = BeforeInstr(PickupInstr(desc), GoToInstr(desc2))
                    else:
                        self.instrs = AfterInstr(GoToInstr(desc2), PickupInstr(desc))
            surface = self.instrs.surface(self)
            if any(bad in surface for bad in EXCLUDED):
                raise RejectSampling("excluded colour/object pair")

    _LEVEL = MixedLocal
    return MixedLocal


def _steps(n: int, word: str) -> str:
    return f"{n} step{'s' if n != 1 else ''} {word}"


def describe(image, carrying=None) -> list[str]:
    """BabyAI-text style lines from a 7x7x3 egocentric view (agent at column 3, row 6, facing up)."""
    from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT

    width, height = image.shape[0], image.shape[1]
    ax, ay = width // 2, height - 1
    lines = []
    if carrying is not None:
        lines.append(f"You carry a {carrying.color} {carrying.type}")

    def is_wall(x, y):
        return IDX_TO_OBJECT[int(image[x, y, 0])] == "wall"

    for dist in range(1, ay + 1):  # straight ahead
        if is_wall(ax, ay - dist):
            lines.append(f"a wall {_steps(dist, 'forward')}")
            break
    for dist in range(1, ax + 1):
        if is_wall(ax - dist, ay):
            lines.append(f"a wall {_steps(dist, 'left')}")
            break
    for dist in range(1, width - ax):
        if is_wall(ax + dist, ay):
            lines.append(f"a wall {_steps(dist, 'right')}")
            break
    for y in range(height - 1, -1, -1):
        for x in range(width):
            kind = IDX_TO_OBJECT[int(image[x, y, 0])]
            if kind in ("unseen", "empty", "wall", "floor", "agent") or (x, y) == (ax, ay):
                continue
            color = IDX_TO_COLOR[int(image[x, y, 1])]
            state = ""
            if kind == "door":
                state = ("open ", "closed ", "locked ")[int(image[x, y, 2])]
            parts = []
            if x < ax:
                parts.append(_steps(ax - x, "left"))
            elif x > ax:
                parts.append(_steps(x - ax, "right"))
            if y < ay:
                parts.append(_steps(ay - y, "forward"))
            lines.append(f"a {state}{color} {kind} {' and '.join(parts)}")
    return lines


class Env(BenchEnv):
    name = "babyai"
    default_action = "go forward"
    action_help = ACTION_HELP

    def __init__(self, task: str = "goto", seed: int = 0, max_steps: int | None = None,
                 num_dists: int = 0, images: bool = False):
        if task not in KINDS:
            raise ValueError(f"unknown babyai task {task!r}")
        self.task = task
        self.images = images
        kind = "pick up seq go to" if task == "pick_up_seq_go_to" else task
        level = _level_class()
        # pick_up_seq_go_to is generated by the Before/After branch (kind name is ours)
        self.env = level(kind="seq" if kind == "pick up seq go to" else kind, num_dists=num_dists,
                         render_mode="rgb_array" if images else None)
        super().__init__(seed, max_steps)
        self._fixed_max_steps = max_steps
        self.mission = ""

    def _observation(self, obs) -> Observation:
        lines = describe(obs["image"], self.env.carrying)
        image = self.env.get_pov_render(tile_size=16) if self.images else None
        return Observation("\n".join(lines), image=image, extra={"mission": self.mission})

    def _reset(self, seed):
        with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints rejected samples
            obs, _ = self.env.reset(seed=seed)
        self.mission = obs["mission"]
        self.max_steps = self._fixed_max_steps or self.env.max_steps  # set by the level
        return self._observation(obs)

    def _step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(WORDS.index(action))
        if reward > 0:
            self.progression = 1.0
        return self._observation(obs), reward, terminated, {}

    def instruction(self) -> str:
        return (
            "You are an agent playing a simple navigation game on a grid. "
            f"Your goal is to {self.mission}. These are the actions you can take, each followed "
            f"by what it does:\n\n{self.action_list_text()}.\n\n"
            "Each observation lists what you see, with distances in steps relative to the "
            "direction you face.\n\nTips:\n- Once the object you want to open or use is right "
            "in front of you, 'toggle' manipulates it.\n- Repeating an action that changes "
            "nothing in the observation is pointless.\n\nPLAY!")

    def stats(self):
        return {"mission": self.mission}

    def bot(self):
        """The BabyAI bot for this episode: call ``act()`` for the next action word."""
        from minigrid.utils.baby_ai_bot import BabyAIBot

        bot = BabyAIBot(self.env)

        class _Bot:
            def act(self_inner) -> str:
                return WORDS[int(bot.replan())]

        return _Bot()

    def close(self):
        self.env.close()
