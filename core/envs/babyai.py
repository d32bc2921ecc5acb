"""BabyAI and MiniGrid (minigrid): native gymnasium envs, the BabyAI bot, and BALROG's text view.

Levels: BALROG's five MixedTrainLocal task families (goto, pickup, open, putnext,
pick_up_seq_go_to), built here with minigrid's BabyAI level generator and instruction verifiers in
one 8x8 room (two rooms joined by a locked door for ``open``), with BabyAI-text's excluded
colour/object pairs and BALROG's ``num_dists: 0`` (so goto/pickup levels hold one object and
putnext/sequence levels two); and every level minigrid registers (``BabyAI-GoToLocal-v0``,
``MiniGrid-DoorKey-5x5-v0``), built with ``gymnasium.make`` and unwrapped so the bot can read it.

``Native`` is the gymnasium env (minigrid's observation dict, its seven actions); ``Bot`` the
BabyAI bot (``minigrid.utils.baby_ai_bot``) with its subgoal stack; ``Env`` the text view LLM
agents play, an adapter over ``Native``: BabyAI-text style lines from the 7x7 egocentric view (the
nearest wall straight ahead, left and right, then every visible object with its offset, "a red
ball 1 step left and 2 steps forward"), "You carry ..." when holding something; progression 1.0
once a reward > 0 (BALROG).
"""

from __future__ import annotations

import contextlib
import io
import string

import gymnasium
from gymnasium import spaces

from papertools.core.errors import PapertoolsError

from .base import Observation, TextEnv

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


DONE = 6  # minigrid's ``done`` action: changes nothing in the world
MISSION_CHARS = string.ascii_letters + string.digits + " ,.'-_()"


def level_id(task: str) -> str | None:
    """The gymnasium id of a registered level (``GoToLocal`` -> ``BabyAI-GoToLocal-v0``), or
    None for BALROG's task families, which the level generator above builds."""
    if task in KINDS:
        return None
    if task.startswith(("BabyAI-", "MiniGrid-")):
        return task if task.endswith(("-v0", "-v1")) else f"{task}-v0"
    return f"BabyAI-{task}-v0"


class Native(gymnasium.Env):
    """One BabyAI or MiniGrid level as a gymnasium env with minigrid's own observation.

    ``task``: a BALROG family (goto, pickup, open, putnext, pick_up_seq_go_to; built by the
    level generator with ``num_dists`` distractors), a BabyAI level (``GoToLocal``) or a
    gymnasium id (``MiniGrid-DoorKey-5x5-v0``). Observation: {"image" (7,7,3) uint8,
    "direction" 0-3, "mission" str} plus "rgb", the agent's view drawn with ``tile_size``
    pixels a cell, with ``rgb=True``. Actions: minigrid's seven (``action_words``; the last,
    done, changes nothing). Attributes of the minigrid env (``agent_pos``, ``carrying``,
    ``instrs``, ``grid``) read through, since the bot and the text view need them.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, task: str = "goto", seed: int | None = None,
                 max_steps: int | None = None, num_dists: int = 0, rgb: bool = False,
                 tile_size: int = 16, render_mode: str | None = None):
        self.env = self._make_level(task, num_dists, max_steps, render_mode)
        self.task = task
        self.render_mode = render_mode
        self.rgb, self.tile_size = bool(rgb), int(tile_size)
        self.action_words = WORDS + ["done"]
        self.action_space = spaces.Discrete(len(self.action_words))
        inner = self.env.observation_space
        fields = {"image": inner["image"], "direction": inner["direction"],
                  "mission": spaces.Text(256, charset=MISSION_CHARS)}
        if self.rgb:
            side = self.env.agent_view_size * self.tile_size
            fields["rgb"] = spaces.Box(0, 255, (side, side, 3), dtype="uint8")
        self.observation_space = spaces.Dict(fields)
        self._seed = seed
        self.mission_done = False  # the episode ended (the bot then answers done)

    def __getattr__(self, name):
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    def _make_level(self, task: str, num_dists: int, max_steps: int | None, render_mode):
        """The minigrid env behind ``task`` (a subclass builds its own levels here)."""
        gym_id = level_id(task)
        if gym_id is None:
            kind = "seq" if task == "pick_up_seq_go_to" else task
            return _level_class()(kind=kind, num_dists=num_dists, max_steps=max_steps,
                                  render_mode=render_mode)
        if num_dists:
            raise ValueError("num_dists applies to BALROG's task families only")
        import minigrid  # noqa: F401  (registers its levels with gymnasium)

        extra = {"max_steps": int(max_steps)} if max_steps else {}
        try:
            env = gymnasium.make(gym_id, render_mode=render_mode, **extra)
        except gymnasium.error.Error as err:
            raise ValueError(f"unknown minigrid level {gym_id!r}: {err}") from None
        return env.unwrapped

    @property
    def max_steps(self) -> int:
        return self.env.max_steps

    @max_steps.setter
    def max_steps(self, value: int) -> None:
        self.env.max_steps = int(value)
        if hasattr(self.env, "fixed_max_steps"):  # a BabyAI level sets its own at reset
            self.env.fixed_max_steps = True

    def _observation(self, obs) -> dict:
        out = {"image": obs["image"], "direction": int(obs["direction"]),
               "mission": obs["mission"]}
        if self.rgb:
            out["rgb"] = self.env.get_pov_render(tile_size=self.tile_size)
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is None and self._seed is not None:
            seed = self._seed  # the constructor's seed serves the first reset
        self._seed = None
        super().reset(seed=seed)
        with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints rejected samples
            obs, info = self.env.reset(seed=seed)
        self.mission_done = False
        return self._observation(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        self.mission_done = bool(terminated or truncated)
        return self._observation(obs), float(reward), bool(terminated), bool(truncated), info

    def render(self):
        return self.env.get_frame(tile_size=self.tile_size)

    def close(self):
        self.env.close()



def _target_text(datum) -> str:
    """A subgoal's target as words: "red ball", "door", or a grid position "(3, 4)"."""
    if datum is None:
        return ""
    if hasattr(datum, "type"):  # an ObjDesc or a WorldObj
        return " ".join(part for part in (datum.color, datum.type) if part)
    try:
        return "(" + ", ".join(str(int(v)) for v in datum) + ")"
    except TypeError:
        return str(datum)


COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
OBJECTS = ("ball", "box", "key", "door")
# The bot's current subgoal (the top of its plan) in words: a closed vocabulary, so that a
# trajectory dataset stores it as a per-step label id (bench collect's "subgoal").
SUBGOALS = (["none", "explore", "go to a position", "open the door", "close the door",
             "pick up the object", "drop the object"]
            + [f"go to the {obj}" for obj in OBJECTS]
            + [f"go to the {color} {obj}" for color in COLORS for obj in OBJECTS])


def subgoal_text(plan: list[dict]) -> str:
    """The top of a :meth:`Bot.subgoals` plan as one of :data:`SUBGOALS`: what the next action
    serves ("go to the red ball", "open the door", "explore"); "none" for an empty plan."""
    if not plan:
        return "none"
    goal = plan[-1]
    kind, target = goal["kind"], goal["target"]
    if kind == "Explore" or (kind == "GoNextTo" and goal["reason"] == "Explore"):
        return "explore"
    if kind == "GoNextTo":
        text = f"go to the {target}"
        return text if target and not target.startswith("(") and text in SUBGOALS else \
            "go to a position"
    return {"Open": "open the door", "Close": "close the door", "Pickup": "pick up the object",
            "Drop": "drop the object"}.get(kind, "none")


class Bot:
    """The BabyAI bot (``minigrid.utils.baby_ai_bot``) over a Native env (or a minigrid env),
    built after ``reset``. ``act()`` gives the next action index, ``subgoals()`` the plan behind
    it; once the episode is over (or the plan is empty) ``act()`` answers done, which changes
    nothing, instead of replanning on an empty stack."""

    def __init__(self, native):
        from minigrid.utils.baby_ai_bot import BabyAIBot

        self.native = native
        self.env = native.env if isinstance(native, Native) else native.unwrapped
        if not hasattr(self.env, "instrs"):
            raise PapertoolsError("the BabyAI bot plays a BabyAI level (one with instructions) "
                                  "after reset; "
                                  f"{getattr(native, 'task', type(self.env).__name__)} has none")
        self.bot = BabyAIBot(self.env)

    def act(self, action_taken: int | None = None) -> int:
        """The bot's next action; ``action_taken``: the action played last, when it was not the
        one the bot suggested (the bot then plans to undo or use it)."""
        if getattr(self.native, "mission_done", False) or not self.bot.stack:
            return DONE
        try:
            return int(self.bot.replan(action_taken))
        except IndexError:  # replanning with nothing left on the stack
            return DONE

    def subgoals(self) -> list[dict]:
        """The current plan, top (what the next action serves) last: {"kind": "GoNextTo" | "Open"
        | "Pickup" | "Drop" | "Explore" | "Close", "target": "red ball" | "(3, 4)" | "",
        "reason": "Open" | "PutNext" | "Explore" | "Unlock" | ... | ""}."""
        return [{"kind": type(goal).__name__.removesuffix("Subgoal"),
                 "target": _target_text(goal.datum), "reason": goal.reason or ""}
                for goal in self.bot.stack]


class Env(TextEnv):
    """The text view over :class:`Native` (BALROG's BabyAI): words in, BabyAI-text out."""

    name = "babyai"
    default_action = "go forward"
    action_help = ACTION_HELP

    def __init__(self, task: str = "goto", seed: int = 0, max_steps: int | None = None,
                 num_dists: int = 0, images: bool = False):
        if task not in KINDS and level_id(task) is None:
            raise ValueError(f"unknown babyai task {task!r}")
        gym_id = level_id(task)
        if gym_id and gym_id.startswith("MiniGrid-"):
            self.name, self.task = "minigrid", gym_id.removeprefix("MiniGrid-").removesuffix("-v0")
        else:
            self.task = task
        self.images = images
        self.native = Native(task=task, num_dists=num_dists, rgb=images,
                                  render_mode="rgb_array" if images else None)
        self.env = self.native.env  # the minigrid env
        super().__init__(seed, max_steps)
        self._fixed_max_steps = max_steps
        self.mission = ""

    def _observation(self, obs) -> Observation:
        lines = describe(obs["image"], self.env.carrying)
        image = obs["rgb"] if self.images else None
        return Observation("\n".join(lines), image=image, extra={"mission": self.mission})

    def _reset(self, seed):
        obs, _ = self.native.reset(seed=seed)
        self.mission = obs["mission"]
        self.max_steps = self._fixed_max_steps or self.native.max_steps  # set by the level
        return self._observation(obs)

    def _step(self, action):
        obs, reward, terminated, _, _ = self.native.step(self.native.action_words.index(action))
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
        """The BabyAI bot for this episode: ``act()`` gives the next action word, ``subgoals()``
        its plan. After the mission it answers "turn left", which moves nothing (the text view
        has no done)."""
        bot, words = Bot(self.native), self.native.action_words

        class _Bot:
            def act(self_inner) -> str:
                word = words[bot.act()]
                return word if word in ACTION_HELP else "turn left"

            def subgoals(self_inner) -> list[dict]:
                return bot.subgoals()

        return _Bot()

    def close(self):
        self.native.close()

