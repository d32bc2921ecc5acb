"""Crafter: the native env (``Native``: the 64x64 picture and the inventory) and its text view.

``Native`` observes ``{"image": uint8 (size, size, 3), "inventory": int32 (16,)}``: the picture
crafter draws (the 9x7 map above a 9x2 inventory bar, ``size`` 64 by default) and the counts of
``INVENTORY`` in that order (crafter's ``items``, each 0..9). Actions are crafter's 17, in
crafter's order (``WORDS``); reward is crafter's (+1 per achievement unlocked for the first time,
health change / 10); an episode ends when the player dies (terminated) or after ``max_steps``
(crafter's own 10,000 by default; truncated).

The text view (``Env``, over a ``Native``): what the 9x7 local view holds, what the player faces,
status and inventory.

BALROG's settings: 64x64 world, 9x9 view (of which 9x7 is the map; the bottom rows are the
inventory bar), 2000 steps, ``unique_items`` (only the nearest thing of each kind is listed,
"tree 2 steps to your north-west"). Progression: achievements unlocked at least once / 22.
The "You face X at your front." line names the material or creature in the facing cell
(BALROG's fix #50 for the "You face {}" bug). Crafter's own episodes are not reproducible at a
fixed seed (its chunks are sets ordered by memory address); here they are (``_deterministic``).
"""

from __future__ import annotations

import numpy as np

from .base import BenchEnv, Observation
from .native import NativeEnv

# word -> (crafter action index, description); index order is crafter.constants.actions
ACTIONS = [
    ("Noop", "do nothing"),
    ("Move West", "move west on flat ground"),
    ("Move East", "move east on flat ground"),
    ("Move North", "move north on flat ground"),
    ("Move South", "move south on flat ground"),
    ("Do", "multi-use action: collect material, drink from a lake, hit a creature in front"),
    ("Sleep", "sleep when energy level is below maximum"),
    ("Place Stone", "place a stone in front"),
    ("Place Table", "place a table"),
    ("Place Furnace", "place a furnace near a table"),
    ("Place Plant", "place a plant on grass"),
    ("Make Wood Pickaxe", "craft a wood pickaxe near a table, with wood in the inventory"),
    ("Make Stone Pickaxe", "craft a stone pickaxe near a table, with wood and stone"),
    ("Make Iron Pickaxe", "craft an iron pickaxe near a table and furnace, with wood, coal, iron"),
    ("Make Wood Sword", "craft a wood sword near a table, with wood in the inventory"),
    ("Make Stone Sword", "craft a stone sword near a table, with wood and stone"),
    ("Make Iron Sword", "craft an iron sword near a table and furnace, with wood, coal, iron"),
]
WORDS = [word for word, _ in ACTIONS]
INVENTORY = ("health", "food", "drink", "energy", "sapling", "wood", "stone", "coal", "iron",
             "diamond", "wood_pickaxe", "stone_pickaxe", "iron_pickaxe", "wood_sword",
             "stone_sword", "iron_sword")  # the native inventory vector's order (crafter's items)
N_ACHIEVEMENTS = 22
VITALS = ("health", "food", "drink", "energy")


def direction_text(dx: int, dy: int) -> str:
    """'3 steps to your north-west' for an offset (x east, y south) from the player."""
    parts = []
    if dy < 0:
        parts.append("north")
    elif dy > 0:
        parts.append("south")
    if dx < 0:
        parts.append("west")
    elif dx > 0:
        parts.append("east")
    distance = abs(dx) + abs(dy)
    return f"{distance} step{'s' if distance != 1 else ''} to your {'-'.join(parts)}"


class _OrderedSet(dict):
    """A set that iterates in insertion order (crafter's chunk sets iterate by object id)."""

    def add(self, item):
        self[item] = None

    def remove(self, item):
        del self[item]


def _deterministic(world) -> None:
    """Crafter keeps each chunk's objects in a set, so which creature despawns depends on
    memory addresses and episodes differ between runs at one seed; keep them in insertion order."""
    import collections
    import types

    original = world.reset

    def reset(self, seed=None):
        original(seed=seed)
        self._chunks = collections.defaultdict(_OrderedSet)

    world.reset = types.MethodType(reset, world)


def progression(achievements: dict) -> float:
    """Achievements unlocked at least once, over Crafter's 22."""
    return sum(1 for count in achievements.values() if count > 0) / N_ACHIEVEMENTS


class Native(NativeEnv):
    """Crafter as a gymnasium env (see the module docstring); ``env`` is the crafter.Env and
    ``info`` the last step's full info (``semantic`` included, which ``step`` leaves out)."""

    default_max_steps = 10_000

    def __init__(self, task: str = "default", seed: int | None = None,
                 max_steps: int | None = None, size: int = 64):
        import crafter
        from gymnasium import spaces

        super().__init__(seed)
        self.task = task
        self.max_steps = int(max_steps or self.default_max_steps)
        self.size = int(size)
        self.action_words = list(WORDS)
        self.action_space = spaces.Discrete(len(WORDS))
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0, 255, (self.size, self.size, 3), np.uint8),
            "inventory": spaces.Box(0, 9, (len(INVENTORY),), np.int32)})
        # no length: the step limit is ours (truncated), crafter's done is then death only
        self.env = crafter.Env(area=(64, 64), view=(9, 9), size=(self.size, self.size),
                               reward=True, length=None, seed=0)
        _deterministic(self.env._world)
        self.info: dict = {}
        self.steps = 0

    def _observation(self, frame) -> dict:
        inventory = self.env._player.inventory
        return {"image": frame,
                "inventory": np.array([min(max(inventory[k], 0), 9) for k in INVENTORY],
                                      dtype=np.int32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        seed = self.episode_seed(seed)
        self.env._seed = seed % (2 ** 31)  # what crafter.Env(seed=...) sets, first episode
        self.env._episode = 0
        frame = self.env.reset()
        self.steps = 0
        env = self.env  # crafter builds its info in step(); the same fields after reset
        self.info = {"inventory": dict(env._player.inventory), "achievements": {},
                     "semantic": env._sem_view(), "player_pos": env._player.pos}
        return self._observation(frame), {"seed": seed}

    def step(self, action):
        frame, reward, dead, info = self.env.step(int(action))
        self.steps += 1
        self.info = info
        truncated = self.steps >= self.max_steps and not dead
        public = {k: v for k, v in info.items() if k != "semantic"}
        return self._observation(frame), float(reward), bool(dead), truncated, public

    def render(self):
        return self.env.render()


class Env(BenchEnv):
    """The text view over a :class:`Native` (``native``)."""

    name = "crafter"
    default_action = "Noop"
    max_steps = 2000
    action_help = dict(ACTIONS)

    def __init__(self, task: str = "default", seed: int = 0, max_steps: int | None = None,
                 images: bool = False, unique_items: bool = True):
        super().__init__(seed, max_steps)
        self.task = task
        self.images = images
        self.unique_items = unique_items
        # the picture is only drawn large for VLM mode
        self.native = Native(task, max_steps=self.max_steps, size=256 if images else 64)
        self.achievements: dict = {}
        self._names = None

    @property
    def env(self):
        """The crafter.Env being played."""
        return self.native.env

    def _names_table(self):
        if self._names is None:
            names = {}
            for material, index in self.env._world._mat_ids.items():
                names[index] = material if material else "nothing"
            for cls, index in self.env._sem_view._obj_ids.items():
                names[index] = cls.__name__.lower()
            self._names = names
        return self._names

    def describe(self, info) -> str:
        names = self._names_table()
        semantic = info["semantic"]
        px, py = (int(v) for v in info["player_pos"])
        half_w, half_h = 4, 3  # the 9x7 map part of the 9x9 view
        seen: dict[str, tuple[int, str]] = {}
        listed: list[tuple[str, str]] = []
        for dx in range(-half_w, half_w + 1):
            for dy in range(-half_h, half_h + 1):
                x, y = px + dx, py + dy
                if (dx, dy) == (0, 0) or not (0 <= x < semantic.shape[0] and 0 <= y < semantic.shape[1]):
                    continue
                name = names.get(int(semantic[x, y]), "unknown")
                distance = abs(dx) + abs(dy)
                if self.unique_items:
                    if name not in seen or distance < seen[name][0]:
                        seen[name] = (distance, direction_text(dx, dy))
                else:
                    listed.append((name, direction_text(dx, dy)))
        if self.unique_items:
            listed = [(name, where) for name, (_, where) in sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0]))]
        player = self.env._player
        fx, fy = px + int(player.facing[0]), py + int(player.facing[1])
        facing = names.get(int(semantic[fx, fy]), "nothing") \
            if 0 <= fx < semantic.shape[0] and 0 <= fy < semantic.shape[1] else "nothing"
        lines = []
        if player.sleeping:
            lines.append("You are sleeping, and will not be able to take actions until energy "
                         "is full.\n")
        if info.get("dead") or player.health <= 0:
            lines.append("You died.\n")
        if listed:
            lines.append("You see:\n" + "\n".join(f"- {n} {w}" for n, w in listed))
        else:
            lines.append("You see nothing away from you.")
        lines.append(f"\nYou face {facing} at your front.")
        inventory = info["inventory"]
        lines.append("\nYour status:\n" + "\n".join(f"- {v}: {inventory[v]}/9" for v in VITALS))
        items = [f"- {k}: {n}" for k, n in inventory.items() if k not in VITALS and n]
        lines.append("\nYour inventory:\n" + "\n".join(items) if items
                     else "\nYou have nothing in your inventory.")
        return "\n".join(lines)

    def _observation(self, frame, info) -> Observation:
        return Observation(self.describe(info), image=frame if self.images else None)

    def _reset(self, seed):
        obs, _ = self.native.reset(seed=seed)
        self.achievements = {}
        return self._observation(obs["image"], self.native.info)

    def _step(self, action):
        obs, reward, dead, _, _ = self.native.step(WORDS.index(action))
        self.achievements = dict(self.native.info["achievements"])
        self.progression = progression(self.achievements)
        return self._observation(obs["image"], self.native.info), reward, dead, {}

    def instruction(self) -> str:
        return (
            "You are an agent playing Crafter, an open-world survival game on a 2D grid. "
            "Your goal is to unlock as many of its 22 achievements as you can (collect wood, "
            "place a table, make a wood pickaxe, eat a cow, defeat a zombie, collect a diamond, "
            "...) while keeping health, food, drink and energy up. These are the actions you can "
            f"take, each followed by what it does:\n\n{self.action_list_text()}.\n\n"
            "Tips:\n- Collect wood first, then place a table to craft tools.\n- Pickaxes let "
            "you collect stone, coal, iron and diamonds.\n- Drink water and eat to survive; "
            "sleep when energy is low, in a safe place.\n\nPLAY!")

    def stats(self):
        return {"achievements": sorted(k for k, v in self.achievements.items() if v > 0)}

    def close(self):
        self.native.close()
