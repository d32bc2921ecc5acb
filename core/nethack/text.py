"""NetHack observations in words, and NetHack actions as words.

The text follows nle-language-wrapper (ngoodger/nle-language-wrapper, MIT), which the diff
history paper's prompts are made of; that package does not build against nle 1.3, so this is a
fresh implementation of its observation format from NLE's observation arrays:

- ``statistics``: the bottom lines as ``Name: value`` lines (Strength, Dexterity, ..., Condition),
  in the wrapper's order and wording.
- ``glyphs``: what is where: every monster, object and notable dungeon feature on the screen, plus
  walls, doorways, dark areas and traps seen along the eight rays from the player (each ray stops at
  what blocks the view, 9 squares at most), as ``<name> <distance> <direction(s)>`` lines. Distances:
  adjacent (1 square, Chebyshev), very near (2), near (3-5), far (6-19), very far; directions from
  a 16-point compass ("eastnortheast"). Lines are sorted from very far to adjacent and, within a
  distance, clockwise from north; one name at one distance in several directions is grouped
  ("doorway near east and west"), and several of one name in one direction become a plural
  ("vertical walls adjacent east").
- ``message``: the top line, or the whole text of a menu or multi-page message on screen.
- ``inventory``: ``letter: description`` lines.
- ``cursor``: what the cursor is on ("Yourself a human caveman", or "<distance> <direction> <name>").

Deliberate differences from the wrapper's C++ (each one a bug there): a screen row whose only
character is its last is kept (the wrapper's trim drops it); a menu whose first screen row is
blank is read from column 0 (the wrapper reads out of bounds); one name whose plural is itself
("bars") seen both alone and in a group at one distance gives one line, not two; the status
conditions are listed in NetHack's bit order (the wrapper's order is a hash map's).

``render_text`` puts the five blocks together as the paper's prompts do (``statistics[`` ... ``]``).
``tty_text`` and ``map_text`` give the raw screen. ``ACTION_WORDS`` names every NLE action as the
diff history paper's text map does ("north", "eat", "more", "wizard where", ...).

nle is imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import re
from functools import lru_cache

from papertools.core.errors import PapertoolsError

WIDTH, HEIGHT = 79, 21  # the dungeon map
BLOCKS = ("statistics", "glyphs", "message", "inventory", "cursor")

DISTANCES = ("very far", "far", "near", "very near", "adjacent")  # the sort order
DIRECTIONS = ("north", "northnortheast", "northeast", "eastnortheast", "east", "eastsoutheast",
              "southeast", "southsoutheast", "south", "southsouthwest", "southwest",
              "westsouthwest", "west", "westnorthwest", "northwest", "northnorthwest")

# NetHack 3.6's map symbols (defsyms) in the wrapper's words, by cmap index.
CMAP_NAMES = (
    "dark area", "vertical wall", "horizontal wall", "northwest room corner",
    "northeast room corner", "southwest corner", "southeast corner", "cross wall", "t up wall",
    "t down wall", "t west wall", "t east wall", "doorway", "vertical open door",
    "horizontal open door", "vertical closed door", "horizontal closed door", "bars", "tree",
    "room floor", "dark room floor", "corridor floor", "lit corridor floor", "stairs up",
    "stairs down", "ladder up", "ladder down", "alter", "grave", "throne", "sink", "fountain",
    "pool", "ice", "lava", "vertical lowered drawbridge", "horizontal lowered drawbridge",
    "vertical raised drawbridge", "horizontal raised drawbridge", "air floor", "cloud floor",
    "water floor", "arrow trap", "dart trap", "falling rock trap", "squeaky board", "bear trap",
    "land mine", "rolling boulder trap", "sleeping gas trap", "rust trap", "fire trap", "pit",
    "spiked pit", "hole", "trap door", "teleportation trap", "level teleporter", "magic portal",
    "web", "statue trap", "magic trap", "anti magic trap", "polymorph trap", "vibrating square",
    "vertical beam", "horizontal beam", "left slant beam", "right slant beam", "dig beam",
    "flash beam", "boom left", "boom right", "shield 1", "shield 2", "shield 3", "shield 4",
    "poison cloud", "valid position", "swallow top left", "swallow top center",
    "swallow top right", "swallow middle left", "swallow middle right", "swallow bottom left",
    "swallow bottom center", "swallow bottom right", "explosion top left",
    "explosion top center", "explosion top right", "explosion middle left",
    "explosion middle center", "explosion middle right", "explosion bottom left",
    "explosion bottom center", "explosion bottom right",
)
FLOORS = frozenset({"room floor", "dark room floor", "corridor floor", "lit corridor floor"})
# Map features named wherever they are on the screen (the rest only along the rays).
SCREEN_FEATURES = frozenset({
    "horizontal closed door", "vertical closed door", "bars", "tree", "stairs up", "stairs down",
    "ladder up", "ladder down", "alter", "grave", "throne", "sink", "fountain", "pool", "ice",
    "lava", "vertical raised drawbridge", "horizontal raised drawbridge"})
BLOCKING = frozenset({
    "dark area", "vertical wall", "horizontal wall", "northwest room corner",
    "northeast room corner", "southwest corner", "southeast corner", "cross wall", "t up wall",
    "t down wall", "t west wall", "t east wall", "horizontal closed door", "vertical closed door",
    "horizontal raised drawbridge", "vertical raised drawbridge"})
WARNINGS = tuple(f"unknown creature causing you {w}"
                 for w in ("worry", "concern", "anxiety", "disquiet", "alarm", "dread"))
SWALLOW = ("swallow top left", "swallow top center", "swallow top right", "swallow middle left",
           "swallow middle right", "swallow bottom left", "swallow bottom center",
           "swallow bottom right")
ZAPS = ("horizontal zap beam", "vertical zap beam", "left slant zap beam", "right slant zap beam")
EXPLOSIONS = CMAP_NAMES[87:96]

ALIGNMENTS = {-128: "None", 1: "Lawful", 0: "Neutral", -1: "Chaotic"}  # A_NONE is -128
HUNGER = ("Satiated", "Not Hungry", "Hungry", "Weak", "Fainting", "Fainted", "Starved")
ENCUMBRANCE = ("Unencumbered", "Burdened", "Stressed", "Strained", "Overtaxed", "Overloaded")
CONDITIONS = (("BL_MASK_STONE", "Stoned"), ("BL_MASK_SLIME", "Slimed"),
              ("BL_MASK_STRNGL", "Strangled"), ("BL_MASK_FOODPOIS", "Food Poisoning"),
              ("BL_MASK_TERMILL", "Terminally Ill"), ("BL_MASK_BLIND", "Blind"),
              ("BL_MASK_DEAF", "Deaf"), ("BL_MASK_STUN", "Stunned"),
              ("BL_MASK_CONF", "Confused"), ("BL_MASK_HALLU", "Hallucinating"),
              ("BL_MASK_LEV", "Levitating"), ("BL_MASK_FLY", "Flying"),
              ("BL_MASK_RIDE", "Riding"))


# ---------------------------------------------------------------------------------------------
# Names of glyphs


def _object_name(nethack, obj: int) -> str:
    descr = nethack.objdescr.from_idx(obj)
    name, description = descr.oc_name or "", descr.oc_descr or ""
    kind = ord(nethack.objclass(obj).oc_class)
    n = nethack
    if kind in (n.ILLOBJ_CLASS, n.WEAPON_CLASS, n.COIN_CLASS, n.ROCK_CLASS, n.BALL_CLASS,
                n.CHAIN_CLASS):
        return name
    if kind in (n.ARMOR_CLASS, n.TOOL_CLASS):
        return description or name
    if kind == n.RING_CLASS:
        return description + " ring"
    if kind == n.AMULET_CLASS:
        return description if "Amulet" in description else description + " amulet"
    if kind == n.FOOD_CLASS:
        return name + description
    if kind == n.POTION_CLASS:
        return description + " potion"
    if kind == n.SCROLL_CLASS:
        return "scroll labeled " + description
    if kind == n.SPBOOK_CLASS:
        return description + " spellbook"
    if kind == n.WAND_CLASS:
        return description + " wand"
    if kind == n.GEM_CLASS:
        return name if description in name else description + " " + name
    if kind == n.VENOM_CLASS:
        return "splash of " + name
    return ""


@lru_cache(maxsize=1)
def glyph_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(screen names, ray names) for every glyph: what the two views call it ('' = not named)."""
    from nle import nethack as n

    def monster(glyph):
        return n.permonst(n.glyph_to_mon(glyph)).mname

    screen, ray = [], []
    for g in range(n.MAX_GLYPH):
        near = ""
        if g >= n.GLYPH_STATUE_OFF:
            name = monster(g) + " statue"
        elif g >= n.GLYPH_WARNING_OFF:
            name = WARNINGS[n.glyph_to_warning(g)]
        elif g >= n.GLYPH_SWALLOW_OFF:
            name = SWALLOW[(g - n.GLYPH_SWALLOW_OFF) % len(SWALLOW)]
        elif g >= n.GLYPH_ZAP_OFF:
            name = ZAPS[(g - n.GLYPH_ZAP_OFF) % len(ZAPS)]
        elif g >= n.GLYPH_EXPLODE_OFF:
            name = EXPLOSIONS[(g - n.GLYPH_EXPLODE_OFF) % len(EXPLOSIONS)]
        elif g >= n.GLYPH_CMAP_OFF:
            cmap = CMAP_NAMES[n.glyph_to_cmap(g)]
            name = cmap if cmap in SCREEN_FEATURES else ""
            near = cmap if cmap not in FLOORS and cmap not in SCREEN_FEATURES else ""
        elif g >= n.GLYPH_OBJ_OFF:
            name = _object_name(n, n.glyph_to_obj(g))
        elif g >= n.GLYPH_RIDDEN_OFF:
            name = "ridden " + monster(g)
        elif g >= n.GLYPH_BODY_OFF:
            name = n.permonst(g - n.GLYPH_BODY_OFF).mname + " corpse"
        elif g >= n.GLYPH_DETECT_OFF:
            name = "detected " + monster(g)
        elif g >= n.GLYPH_INVIS_OFF:
            name = "invisible creature"
        elif g >= n.GLYPH_PET_OFF:
            name = "tame " + monster(g)
        else:
            name = monster(g)
        screen.append(name)
        ray.append(near)
    return tuple(screen), tuple(ray)


@lru_cache(maxsize=1)
def _screen_mask():
    import numpy as np

    return np.array([bool(name) for name in glyph_names()[0]])


def pluralize(noun: str) -> str:
    """The wrapper's plural of a glyph name ("vertical wall" -> "vertical walls")."""
    if noun.endswith(("boots", "shoes", "scales", "lenses", "bars")):
        return noun
    special = {"can of grease": "cans of grease", "Master of Thieves": "Masters of Thieves",
               "ice": "area of ice", "lava": "area of lava"}
    if noun in special:
        return special[noun]
    for head in ("boom ", "shield ", "swallow ", "scroll ", "worthless piece ",
                 "unknown creature "):
        if noun.startswith(head):
            return head[:-1] + "s " + noun[len(head):]  # "scrolls labeled FOO"
    if len(noun) > 1 and noun[-1] == "y" and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("z", "x", "ch", "sh", "ss")):
        return noun + "es"
    if noun.endswith("ff"):
        return noun[:-2] + "ves"
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    if noun.endswith("s"):
        return noun + "es"
    return noun + "s"


# ---------------------------------------------------------------------------------------------
# Where things are


def distance_word(steps: int) -> str:
    if steps == 1:
        return "adjacent"
    if steps == 2:
        return "very near"
    if 2 < steps < 6:
        return "near"
    if 5 < steps < 20:
        return "far"
    return "very far"


@lru_cache(maxsize=None)
def where(dx: int, dy: int) -> tuple[str, str]:
    """(distance, direction) of a square ``dx`` east and ``dy`` north of the player."""
    diagonal = min(abs(dx), abs(dy))
    diag = ""
    if diagonal:
        diag = ("south" if dy < 0 else "north") + ("west" if dx < 0 else "east")
    x_rest = dx - diagonal if dx > 0 else dx + diagonal
    y_rest = dy - diagonal if dy > 0 else dy + diagonal
    x_word = "west" if x_rest < 0 else "east" if x_rest > 0 else ""
    y_word = "south" if y_rest < 0 else "north" if y_rest > 0 else ""
    return distance_word(max(abs(dx), abs(dy))), y_word + x_word + diag


_RAYS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))  # screen dx, dy


def _join_directions(directions: list[str]) -> str:
    if len(directions) == 1:
        return directions[0]
    if len(directions) == 2:
        return f"{directions[0]} and {directions[1]}"
    return ", ".join(directions[:-1]) + ", and " + directions[-1]


def _sighted(glyphs, x: int, y: int) -> list[tuple[str, str, str]]:
    """(name, distance, direction) of everything named on screen and along the rays."""
    import numpy as np

    screen, ray = glyph_names()
    flat = glyphs.reshape(-1)
    seen = []
    for i in np.flatnonzero(_screen_mask()[flat]).tolist():
        gx, gy = i % WIDTH, i // WIDTH
        if gx == x and gy == y:
            continue  # the player
        seen.append((screen[flat[i]], *where(gx - x, y - gy)))
    for sx, sy in _RAYS:
        for step in range(1, 10):
            gx, gy = x + sx * step, y + sy * step
            if not (0 <= gx < WIDTH and 0 <= gy < HEIGHT):
                break
            name = ray[flat[gx + gy * WIDTH]]
            if name:
                seen.append((name, *where(gx - x, y - gy)))
                if name in BLOCKING:
                    break
    return seen


def describe_glyphs(glyphs, blstats) -> str:
    """The ``glyphs`` block: one ``<name> <distance> <directions>`` line per group."""
    x, y = int(blstats[0]), int(blstats[1])
    rank_d = {d: i for i, d in enumerate(DISTANCES)}
    rank_c = {c: i for i, c in enumerate(DIRECTIONS)}
    seen = [s for s in _sighted(glyphs, x, y) if s[2] in rank_c]
    seen.sort(key=lambda s: (rank_d[s[1]], rank_c[s[2]]))  # stable: screen order within ties
    groups: dict[tuple[str, str], list[str]] = {}
    for name, distance, direction in seen:
        groups.setdefault((name, distance), []).append(direction)
    lines: dict[tuple[str, str], list[str]] = {}
    for (name, distance), directions in groups.items():
        counts: dict[str, int] = {}
        for d in directions:
            counts[d] = counts.get(d, 0) + 1
        single = [d for d, c in counts.items() if c == 1]
        several = [d for d, c in counts.items() if c > 1]
        if single:
            lines.setdefault((name, distance), []).extend(single)
        if several:
            lines.setdefault((pluralize(name), distance), []).extend(several)
    return "\n".join(f"{name} {distance} {_join_directions(dirs)}"
                     for (name, distance), dirs in lines.items())


# ---------------------------------------------------------------------------------------------
# The other blocks


def describe_blstats(blstats) -> str:
    from nle import nethack as n

    b = [int(v) for v in blstats]
    conditions = [word for mask, word in CONDITIONS if b[25] & getattr(n, mask)]

    def pick(table, i):
        return table[i] if 0 <= i < len(table) else str(i)

    return "\n".join([
        f"Strength: {b[3]}/{b[2]}", f"Dexterity: {b[4]}", f"Constitution: {b[5]}",
        f"Intelligence: {b[6]}", f"Wisdom: {b[7]}", f"Charisma: {b[8]}", f"Depth: {b[12]}",
        f"Gold: {b[13]}", f"HP: {b[10]}/{b[11]}", f"Energy: {b[14]}/{b[15]}", f"AC: {b[16]}",
        f"XP: {b[18]}/{b[19]}", f"Time: {b[20]}", f"Position: {b[0]}|{b[1]}",
        f"Hunger: {pick(HUNGER, b[21])}", f"Monster Level: {b[17]}",
        f"Encumbrance: {pick(ENCUMBRANCE, b[22])}", f"Dungeon Number: {b[23]}",
        f"Level Number: {b[24]}", f"Score: {b[9]}",
        f"Alignment: {ALIGNMENTS.get(b[26], str(b[26]))}",
        f"Condition: {' '.join(conditions) if conditions else 'None'}"])


def _cstring(row) -> str:
    data = bytes(row)
    end = data.find(b"\0")
    return (data if end < 0 else data[:end]).decode("latin-1")


def describe_inventory(inv_strs, inv_letters) -> str:
    lines = []
    for letter, text in zip(inv_letters, inv_strs):
        if int(letter) == 0:
            break
        lines.append(f"{chr(int(letter))}: {_cstring(text)}")
    return "\n".join(lines)


_PAGE_END = re.compile(r"\(\d+ of \d+\)|--More--|\(end\)")


def describe_message(tty_chars) -> str:
    """The top line; or a menu or multi-page text up to its end marker; or a death screen."""
    rows = [bytes(r).decode("latin-1") for r in tty_chars]
    first, second = rows[0].strip(), rows[1].strip() if len(rows) > 1 else ""
    if not first and not second:
        return ""
    death = "Points" in second or "list!" in second
    indent = len(rows[0]) - len(rows[0].lstrip(" ")) if first else 0
    out, blanks = [], 0
    for row in rows:
        text = row[indent:].strip()
        blanks = 0 if text else blanks + 1
        if text:
            out.append(text)
        if _PAGE_END.search(text):
            return "\n".join(out)
        if death and blanks > 1:
            return "\n".join(out)
    return first


def describe_cursor(glyphs, blstats, tty_cursor) -> str:
    x, y = int(blstats[0]), int(blstats[1])
    cx, cy = int(tty_cursor[1]), int(tty_cursor[0]) - 1  # the map starts on screen row 1
    if not (0 <= cx < WIDTH and 0 <= cy < HEIGHT) or cx + cy * WIDTH == 0:
        return ""
    name = glyph_names()[0][int(glyphs.reshape(-1)[cx + cy * WIDTH])]
    if (cx, cy) == (x, y):
        return "Yourself a " + name
    distance, direction = where(cx - x, y - cy)
    return f"{distance} {direction} {name}"


# ---------------------------------------------------------------------------------------------
# Observations


REQUIRED_KEYS = ("glyphs", "blstats", "tty_chars", "tty_cursor", "inv_strs", "inv_letters")


def render_blocks(obs) -> dict[str, str]:
    """The five text blocks of an NLE observation (a dict of NLE's arrays)."""
    missing = [k for k in REQUIRED_KEYS if k not in obs]
    if missing:
        raise PapertoolsError("NetHack observation lacks " + ", ".join(missing) +
                              " (make the environment with these observation keys)")
    return {
        "statistics": describe_blstats(obs["blstats"]),
        "glyphs": describe_glyphs(obs["glyphs"], obs["blstats"]),
        "message": describe_message(obs["tty_chars"]),
        "inventory": describe_inventory(obs["inv_strs"], obs["inv_letters"]),
        "cursor": describe_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]),
    }


def render_text(obs_or_blocks) -> str:
    """The paper's observation text: ``statistics[`` ... ``]`` and the other four blocks."""
    blocks = obs_or_blocks if isinstance(obs_or_blocks, dict) and "statistics" in obs_or_blocks \
        else render_blocks(obs_or_blocks)
    return "\n".join(f"{name}[\n{blocks[name]}\n]" for name in BLOCKS)


def tty_text(obs) -> str:
    """The 24 terminal rows, trailing spaces removed."""
    return "\n".join(bytes(r).decode("latin-1").rstrip() for r in obs["tty_chars"])


def map_text(obs) -> str:
    """The 21 map rows of the screen (rows 1-21), trailing spaces removed."""
    return "\n".join(bytes(r).decode("latin-1").rstrip() for r in obs["tty_chars"][1:1 + HEIGHT])


# ---------------------------------------------------------------------------------------------
# Actions as words

# The diff history paper's text map (action_textmap.py), keyed by enum class and member name.
_SPECIAL_WORDS = {
    "UnsafeActions.HELP": "help", "UnsafeActions.PREVMSG": "previous message",
    "MiscDirection.UP": "up", "MiscDirection.DOWN": "down", "MiscDirection.WAIT": "wait",
    "MiscAction.MORE": "more", "Command.OVERVIEW": "wizard where", "Command.TURN": "turnundead",
    "TextCharacters.NUM_0": "zero", "TextCharacters.NUM_1": "one", "TextCharacters.NUM_2": "two",
    "TextCharacters.NUM_3": "three", "TextCharacters.NUM_4": "four",
    "TextCharacters.NUM_5": "five", "TextCharacters.NUM_6": "six",
    "TextCharacters.NUM_7": "seven", "TextCharacters.NUM_8": "eight",
    "TextCharacters.NUM_9": "nine", "TextCharacters.PLUS": "+", "TextCharacters.QUOTE": '"',
    "TextCharacters.DOLLAR": "$", "WizardCommand.WIZDETECT": "wizard detect",
    "WizardCommand.WIZGENESIS": "wizard genesis", "WizardCommand.WIZIDENTIFY": "wizard identify",
    "WizardCommand.WIZLEVELPORT": "wizard teleport", "WizardCommand.WIZMAP": "wizard map",
    "WizardCommand.WIZWISH": "wizard wish",
}
_COMPASS = {"N": "north", "E": "east", "S": "south", "W": "west", "NE": "northeast",
            "SE": "southeast", "SW": "southwest", "NW": "northwest"}


class UnknownAction(PapertoolsError, ValueError):
    """A word that names no NetHack action."""


def _key(action) -> str:
    return f"{type(action).__name__}.{action.name}"


def _word_for(action) -> str:
    key = _key(action)
    if key in _SPECIAL_WORDS:
        return _SPECIAL_WORDS[key]
    kind = type(action).__name__
    if kind.startswith("CompassDirectionLonger") or kind.startswith("Compass") and \
            kind.endswith("Longer"):
        return "far " + _COMPASS[action.name]
    if kind.startswith("Compass"):
        return _COMPASS[action.name]
    return action.name.lower()


@lru_cache(maxsize=1)
def _vocabulary():
    from nle import nethack

    words, by_value = {}, {}
    for action in nethack.ACTIONS:
        word = _word_for(action)
        if word in words and words[word] != action:  # pragma: no cover - checked by tests
            raise RuntimeError(f"two NetHack actions share the word {word!r}")
        words[word] = action
        by_value.setdefault(int(action), action)  # a keypress two actions share: the first
    return words, by_value


def action_words() -> dict:
    """Every action of ``nle.nethack.ACTIONS`` by its word, in NLE's order."""
    return dict(_vocabulary()[0])


def action_word(action) -> str:
    """The word for an NLE action: an enum member, or its keypress value as an int.

    Three keypresses are two actions each (``"`` is SEEAMULET and QUOTE, ``$`` SEEGOLD and DOLLAR,
    ``+`` SEESPELLS and PLUS); an int names the first of ACTIONS (the command).
    """
    import enum

    if isinstance(action, enum.Enum):
        return _word_for(action)
    by_value = _vocabulary()[1]
    try:
        return _word_for(by_value[int(action)])
    except (KeyError, TypeError, ValueError):
        raise UnknownAction(f"no NetHack action has the keypress value {action!r}") from None


def action_from_word(word: str):
    """The NLE action (an enum member) a word names; UnknownAction for other words."""
    words = _vocabulary()[0]
    key = " ".join(str(word).split())
    if key in words:
        return words[key]
    lowered = key.lower()
    if lowered in words:
        return words[lowered]
    raise UnknownAction(f"unknown NetHack action {word!r} (words like north, eat, more, esc; "
                        f"{len(words)} in all)")


def action_index(word: str, actions=None) -> int:
    """The index of the action a word names in an environment's action tuple (default ACTIONS)."""
    from nle import nethack

    action = action_from_word(word)
    actions = nethack.ACTIONS if actions is None else actions
    for i, a in enumerate(actions):
        if a is action or (type(a) is type(action) and a == action):
            return i
    for i, a in enumerate(actions):  # the same keypress under another enum class
        if int(a) == int(action):
            return i
    raise UnknownAction(f"action {word!r} is not among this environment's {len(actions)} actions")


# ---------------------------------------------------------------------------------------------
# Simple play on the real NLE, for data when no agent is at hand (examples, tests, benchmarks)

_WALK = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest")


def play_steps(seed: int, max_steps: int, episode: str | None = None, *, blocks: bool = False):
    """Step records (ARCHITECTURE.md's schema) of a NetHackChallenge game played by a walker.

    The walker keeps a direction until the position stops changing, then picks another at
    random; it searches now and then, and answers ``--More--`` and prompts with ``more`` and
    ``esc``. It is not a good player (nhrecord's agent is); it makes real, varied observations.
    Deterministic for a seed (NLE's core and display seeds are derived from it).
    """
    import importlib

    import gymnasium as gym

    importlib.import_module("nle")  # registers the environments

    from papertools.core.nethack.env import seed_game
    from papertools.core.seed import numpy_rng

    rng = numpy_rng(seed, 7)
    env = gym.make("NetHackChallenge-v0", max_episode_steps=max_steps + 1)
    try:
        seed_game(env, int(rng.integers(2**31)), int(rng.integers(2**31)))
        obs, _ = env.reset()
        actions = env.unwrapped.actions
        index = {a: i for i, a in enumerate(actions)}
        name = episode or f"nle-{seed}"
        heading, last_pos = _WALK[int(rng.integers(8))], None
        for t in range(max_steps):
            shown = render_blocks(obs)  # the observation the action is taken on
            text = render_text(shown)
            screen = tty_text(obs)
            pos = (int(obs["blstats"][0]), int(obs["blstats"][1]))
            if "--More--" in screen:
                word = "more"
            elif "[yn" in screen or "What do you want" in screen or "In what direction" in screen:
                word = "esc"
            elif rng.random() < 0.08:
                word = "search"
            else:
                if pos == last_pos or rng.random() < 0.05:
                    heading = _WALK[int(rng.integers(8))]
                word = heading
            last_pos = pos
            obs, reward, terminated, truncated, _ = env.step(index[action_from_word(word)])
            done = bool(terminated or truncated) or t == max_steps - 1
            record = {"id": f"{name}:{t}", "episode": name, "step": t, "obs": text,
                      "action": word, "reward": float(reward), "done": done}
            if blocks:
                record["obs_blocks"] = shown
            yield record
            if done:
                return
    finally:
        env.close()
