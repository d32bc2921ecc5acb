"""core.nethack: NetHack observations in words (nle-language-wrapper's vocabulary), actions as
words, and the simple walker on the real NLE.

Observations here are hand-built numpy arrays shaped like NLE's. Several expected texts are the
language wrapper's own documented outputs for the same glyph ids (its tests' fixtures: player at
x=66, y=14, glyph ids of NetHack 3.6.6, which nle 1.3 shares), so the rendering is checked
against the wrapper and not only against itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from nle import nethack as n

from papertools.core.errors import PapertoolsError
from papertools.core.nethack.text import (BLOCKS, UnknownAction, action_from_word, action_index,
                                     action_word, action_words, describe_blstats, describe_cursor,
                                     describe_glyphs, describe_inventory, describe_message,
                                     distance_word, map_text, play_steps, pluralize,
                                     render_blocks, render_text, tty_text, where)

STONE = n.GLYPH_CMAP_OFF + 0  # "dark area"
HWALL = n.GLYPH_CMAP_OFF + 2  # horizontal wall
VWALL = n.GLYPH_CMAP_OFF + 1
FLOOR = n.GLYPH_CMAP_OFF + 19  # room floor
FOUNTAIN = n.GLYPH_CMAP_OFF + 31
VCLOSED_DOOR = n.GLYPH_CMAP_OFF + 15


def monster(name: str) -> int:
    """The index of a monster by name (permonst order)."""
    for i in range(n.NUMMONS):
        if n.permonst(i).mname == name:
            return i
    raise KeyError(name)


def text_rows(lines: list[str], rows: int = 24, width: int = 80) -> np.ndarray:
    """tty_chars: the lines written from column 0, the rest spaces."""
    out = np.full((rows, width), ord(" "), dtype=np.uint8)
    for r, line in enumerate(lines):
        data = line.encode("latin-1")
        out[r, :len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def make_obs(x: int = 40, y: int = 10, fill: int = FLOOR, player: str = "valkyrie") -> dict:
    """An NLE-shaped observation: the player at (x, y) on a screen full of ``fill``."""
    glyphs = np.full((21, 79), fill, dtype=np.int16)
    glyphs[y, x] = n.GLYPH_MON_OFF + monster(player)
    blstats = np.zeros(27, dtype=np.int64)
    blstats[0], blstats[1] = x, y
    blstats[26] = 1
    return {"glyphs": glyphs, "blstats": blstats,
            "tty_chars": np.full((24, 80), ord(" "), dtype=np.uint8),
            "tty_cursor": np.array([y + 1, x], dtype=np.uint8),
            "inv_strs": np.zeros((55, 80), dtype=np.uint8),
            "inv_letters": np.zeros(55, dtype=np.uint8)}


def inventory(obs: dict, items: list[tuple[str, str]]) -> None:
    for i, (letter, text) in enumerate(items):
        obs["inv_letters"][i] = ord(letter)
        data = text.encode("latin-1")
        obs["inv_strs"][i, :len(data)] = np.frombuffer(data, dtype=np.uint8)


# -- glyphs: what is where ---------------------------------------------------------------------

def test_monster_two_squares_east():
    obs = make_obs()
    obs["glyphs"][10, 42] = n.GLYPH_MON_OFF + monster("jackal")
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == "jackal very near east"
    obs["glyphs"][10, 42] = n.GLYPH_PET_OFF + monster("little dog")
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == "tame little dog very near east"


def test_wall_adjacent_north():
    obs = make_obs()
    obs["glyphs"][9, 40] = HWALL
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == "horizontal wall adjacent north"
    obs["glyphs"][9, 39:42] = HWALL  # a wall along the whole row: three rays end on it
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == \
        "horizontal wall adjacent north, northeast, and northwest"


def test_dark_area_on_every_side_is_grouped_clockwise_from_north():
    obs = make_obs(fill=STONE)
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == (
        "dark area adjacent north, northeast, east, southeast, south, southwest, west, "
        "and northwest")


def test_rays_stop_at_what_blocks_the_view():
    obs = make_obs()
    obs["glyphs"][10, 43] = VWALL  # east, 3 squares
    obs["glyphs"][10, 45] = VWALL  # behind it: not seen along the ray
    obs["glyphs"][10, 30] = STONE  # west, 10 squares: beyond the 9 a ray goes
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == "vertical wall near east"


def test_several_of_one_name_in_one_direction_become_a_plural():
    obs = make_obs()
    jackal = n.GLYPH_MON_OFF + monster("jackal")
    obs["glyphs"][10, 47] = jackal
    obs["glyphs"][10, 48] = jackal  # both "far east"
    obs["glyphs"][10, 33] = jackal  # one "far west"
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == \
        "jackal far west\njackals far east"


# The wrapper's documented outputs (its tests' fixture: player at x=66, y=14).
WRAPPER_SINGLE = [
    (5653, "kobold statue"), (5593, "unknown creature causing you alarm"),
    (5332, "swallow bottom right"), (2528, "right slant zap beam"),
    (2460, "explosion middle right"), (1906, "strange object"), (1917, "elven spear"),
    (1988, "gray dragon scale mail"), (2068, "sapphire ring"), (2091, "hexagonal amulet"),
    (2123, "magic marker"), (2163, "carrot"), (2187, "magenta potion"),
    (2206, "scroll labeled NR 9"), (2250, "mottled spellbook"), (2291, "crystal wand"),
    (2316, "gold piece"), (2333, "violet amethyst"), (2353, "boulder"),
    (2355, "heavy iron ball"), (2356, "iron chain"), (2358, "splash of acid venom"),
    (1611, "ridden mastodon"), (1226, "leocrotta corpse"), (762, "invisible creature"),
    (917, "detected water elemental"), (613, "tame yeti"), (255, "iron golem"),
]
WRAPPER_PLURAL = [(229, "monkeys"), (99, "ponies"), (341, "wizards"), (335, "priestesses"),
                  (260, "elves"), (1967, "quarterstaves"), (2393, "area of lava")]


@pytest.mark.parametrize("glyph,name", WRAPPER_SINGLE)
def test_glyph_names_as_the_wrapper_gives_them(glyph, name):
    obs = make_obs(x=66, y=14)
    obs["glyphs"][14, 67] = glyph
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == f"{name} adjacent east"


@pytest.mark.parametrize("glyph,plural", WRAPPER_PLURAL)
def test_plurals_as_the_wrapper_gives_them(glyph, plural):
    obs = make_obs(x=66, y=14)
    obs["glyphs"][14, 72] = glyph
    obs["glyphs"][14, 73] = glyph
    assert describe_glyphs(obs["glyphs"], obs["blstats"]) == f"{plural} far east"


def wrapper_fixture_glyphs(player_glyph: int) -> np.ndarray:
    glyphs = np.full((21, 79), STONE, dtype=np.int16)
    glyphs[14, 66] = player_glyph
    glyphs[20, 50] = 397  # tame little dog
    glyphs[10, 65] = VWALL
    glyphs[9, 64] = FOUNTAIN
    glyphs[13, 66] = VCLOSED_DOOR
    return glyphs


def test_the_wrappers_whole_screen_example():
    glyphs = wrapper_fixture_glyphs(333)
    blstats = np.zeros(27, dtype=np.int64)
    blstats[0], blstats[1] = 66, 14
    # a closed door is named wherever it is and does not end a ray: the north ray goes on
    assert describe_glyphs(glyphs, blstats) == (
        "tame little dog far westsouthwest\n"
        "fountain near northnorthwest\n"
        "dark area very near north\n"
        "vertical closed door adjacent north\n"
        "dark area adjacent northeast, east, southeast, south, southwest, west, and northwest")
    glyphs = wrapper_fixture_glyphs(359)
    glyphs[14, 18] = 397
    glyphs[20, 51] = 397
    glyphs[9, 63] = FOUNTAIN
    assert describe_glyphs(glyphs, blstats) == (
        "tame little dog very far west\n"
        "tame little dogs far westsouthwest\n"
        "fountains near northnorthwest\n"
        "dark area very near north\n"
        "vertical closed door adjacent north\n"
        "dark area adjacent northeast, east, southeast, south, southwest, west, and northwest")


def test_distance_and_direction_words():
    assert [distance_word(d) for d in (1, 2, 3, 5, 6, 19, 20)] == \
        ["adjacent", "very near", "near", "near", "far", "far", "very far"]
    assert where(2, 0) == ("very near", "east")
    assert where(0, 1) == ("adjacent", "north")
    assert where(-1, -1) == ("adjacent", "southwest")
    assert where(3, 1) == ("near", "eastnortheast")
    assert where(-1, 3) == ("near", "northnorthwest")
    assert where(-16, -6) == ("far", "westsouthwest")


def test_pluralize():
    assert [pluralize(w) for w in ("vertical wall", "pony", "monkey", "fox", "priestess",
                                   "elf", "quarterstaff", "bars", "ice", "can of grease",
                                   "scroll labeled FOO", "speed boots")] == \
        ["vertical walls", "ponies", "monkeys", "foxes", "priestesses", "elves",
         "quarterstaves", "bars", "area of ice", "cans of grease", "scrolls labeled FOO",
         "speed boots"]


# -- statistics, inventory, message, cursor ----------------------------------------------------

def test_statistics_lines():
    blstats = np.array([66, 14, 19, 1, 4, 5, 6, 7, 8, 123, 12, 14, 3, 10, 1, 13, 1, 23, 7, 10,
                        5, 2, 2, 21, 10, n.BL_MASK_STONE | n.BL_MASK_SLIME | n.BL_MASK_FOODPOIS,
                        -1], dtype=np.int64)
    text = describe_blstats(blstats)
    assert text == "\n".join([
        "Strength: 1/19", "Dexterity: 4", "Constitution: 5", "Intelligence: 6", "Wisdom: 7",
        "Charisma: 8", "Depth: 3", "Gold: 10", "HP: 12/14", "Energy: 1/13", "AC: 1", "XP: 7/10",
        "Time: 5", "Position: 66|14", "Hunger: Hungry", "Monster Level: 23",
        "Encumbrance: Stressed", "Dungeon Number: 21", "Level Number: 10", "Score: 123",
        "Alignment: Chaotic", "Condition: Stoned Slimed Food Poisoning"])
    blstats[25], blstats[26], blstats[21] = 0, 0, 1
    text = describe_blstats(blstats)
    assert "Condition: None" in text and "Alignment: Neutral" in text
    assert "Hunger: Not Hungry" in text
    blstats[25] = n.BL_MASK_FLY
    assert describe_blstats(blstats).endswith("Condition: Flying")


def test_inventory_lines():
    obs = make_obs()
    assert describe_inventory(obs["inv_strs"], obs["inv_letters"]) == ""
    inventory(obs, [("a", "a blessed +1 quarterstaff (weapon in hands)"),
                    ("b", "an uncursed +0 cloak of magic resistance (being worn)"),
                    ("$", "12 gold pieces")])
    assert describe_inventory(obs["inv_strs"], obs["inv_letters"]) == (
        "a: a blessed +1 quarterstaff (weapon in hands)\n"
        "b: an uncursed +0 cloak of magic resistance (being worn)\n"
        "$: 12 gold pieces")


def test_message_top_line():
    chars = text_rows(["Hello Agent, welcome to NetHack!  You are a neutral gnomish Caveman.",
                       "", "      -----", "      |.@.|"])
    assert describe_message(chars) == \
        "Hello Agent, welcome to NetHack!  You are a neutral gnomish Caveman."
    assert describe_message(text_rows(["", "", "   |.@.|"])) == ""
    assert describe_message(text_rows(["You hear some noises.--More--"])) == \
        "You hear some noises.--More--"


def test_message_menu_with_more():
    col = 30
    menu = ["Things that are here:", "", "a +0 dagger", "an uncursed scroll", "--More--"]
    rows = [" " * col + line for line in menu] + ["", " |..@..|  (the map below)", " -------"]
    rows[1] = "   ----- " + " " * (col - 9)  # map on the left of a blank menu row
    chars = text_rows(rows)
    assert describe_message(chars) == \
        "Things that are here:\na +0 dagger\nan uncursed scroll\n--More--"


def test_message_menu_with_end_and_page_markers():
    col = 4
    menu = ["Choose which spell to cast", "", "Name                 Level Category",
            "a - healing                1   healing", "(end)"]
    chars = text_rows([" " * col + line for line in menu] + ["", "  |..@..|"])
    assert describe_message(chars) == ("Choose which spell to cast\n"
                                       "Name                 Level Category\n"
                                       "a - healing                1   healing\n(end)")
    pages = text_rows([" " * col + line for line in ["Discoveries", "x - y", "(1 of 2)"]])
    assert describe_message(pages) == "Discoveries\nx - y\n(1 of 2)"


def test_cursor_block():
    obs = make_obs()
    assert describe_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]) == \
        "Yourself a valkyrie"
    obs["glyphs"][10, 42] = n.GLYPH_MON_OFF + monster("jackal")
    obs["tty_cursor"] = np.array([11, 42], dtype=np.uint8)
    assert describe_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]) == \
        "very near east jackal"
    obs["tty_cursor"] = np.array([0, 30], dtype=np.uint8)  # on the message line
    assert describe_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]) == ""
    obs["tty_cursor"] = np.array([1, 0], dtype=np.uint8)  # the map's first square
    assert describe_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]) == ""


def test_render_text_has_the_five_blocks_in_order():
    obs = make_obs()
    obs["glyphs"][10, 42] = n.GLYPH_MON_OFF + monster("jackal")
    obs["glyphs"][9, 40] = HWALL
    obs["blstats"][10], obs["blstats"][11], obs["blstats"][12] = 12, 14, 3
    obs["tty_chars"] = text_rows(["You see a jackal."])
    inventory(obs, [("a", "a long sword (weapon in hand)")])
    blocks = render_blocks(obs)
    assert list(blocks) == list(BLOCKS) == ["statistics", "glyphs", "message", "inventory",
                                            "cursor"]
    text = render_text(obs)
    assert text == "\n".join(f"{name}[\n{blocks[name]}\n]" for name in BLOCKS)
    assert render_text(blocks) == text
    assert "glyphs[\njackal very near east\nhorizontal wall adjacent north\n]" in text
    assert "message[\nYou see a jackal.\n]" in text
    assert "inventory[\na: a long sword (weapon in hand)\n]" in text
    assert "cursor[\nYourself a valkyrie\n]" in text
    assert "HP: 12/14" in text and "Depth: 3" in text
    assert text.startswith("statistics[\nStrength: ") and text.endswith("\n]")


def test_render_needs_the_observation_keys():
    obs = make_obs()
    del obs["tty_cursor"]
    with pytest.raises(PapertoolsError, match="tty_cursor"):
        render_blocks(obs)


def test_screen_text():
    obs = make_obs()
    obs["tty_chars"] = text_rows(["Top line.   ", "  ---  ", "  |@|"] + [""] * 20 +
                                 ["Dlvl:1 $:0"])
    rows = tty_text(obs).split("\n")
    assert len(rows) == 24 and rows[0] == "Top line." and rows[2] == "  |@|"
    assert rows[23] == "Dlvl:1 $:0"
    assert map_text(obs).split("\n") == rows[1:22]


# -- actions as words --------------------------------------------------------------------------

def test_every_action_word_maps_back_to_its_action():
    words = [action_word(a) for a in n.ACTIONS]
    assert len(words) == len(n.ACTIONS) == 121
    assert len(set(words)) == 121  # all distinct
    for action, word in zip(n.ACTIONS, words):
        assert action_from_word(word) is action
    assert list(action_words()) == words
    assert [action_index(w) for w in words] == list(range(121))


def test_action_words_as_the_paper_names_them():
    A = n.actions
    assert action_from_word("north") is A.CompassDirection.N
    assert action_from_word("far east") is A.CompassDirectionLonger.E
    assert action_from_word("eat") is A.Command.EAT
    assert action_from_word("more") is A.MiscAction.MORE
    assert action_from_word("esc") is A.Command.ESC
    assert action_from_word("wizard where") is A.Command.OVERVIEW
    assert action_from_word("zero") is A.TextCharacters.NUM_0
    assert action_from_word("  North  ") is A.CompassDirection.N  # spacing and case
    assert action_word(ord("k")) == "north"  # a keypress value names its action
    assert action_word(A.Command.SEARCH) == "search"


def test_unknown_action_words_raise():
    for word in ("divide by zero", "", "northish", "far"):
        with pytest.raises(UnknownAction):
            action_from_word(word)
    with pytest.raises(ValueError):  # UnknownAction is a ValueError too
        action_from_word("nope")
    with pytest.raises(UnknownAction):
        action_word(100000)
    with pytest.raises(UnknownAction):
        action_index("travel", actions=(n.actions.CompassDirection.N,))
    assert action_index("north", actions=(n.actions.Command.EAT, n.actions.CompassDirection.N)) == 1


# -- play_steps --------------------------------------------------------------------------------

def test_play_steps_is_deterministic_for_a_seed():
    first = list(play_steps(3, 25))
    assert first == list(play_steps(3, 25))
    other = list(play_steps(4, 25))
    assert [r["obs"] for r in other] != [r["obs"] for r in first]


def test_play_steps_records():
    records = list(play_steps(5, 30, episode="game"))
    assert 1 <= len(records) <= 30
    for t, r in enumerate(records):
        assert r["id"] == f"game:{t}" and r["episode"] == "game" and r["step"] == t
        action_from_word(r["action"])  # a valid word
        assert r["obs"].startswith("statistics[\n") and r["obs"].endswith("\n]")
        assert r["done"] == (t == len(records) - 1)
    assert len({r["obs"] for r in records}) > 1


def test_play_steps_blocks_describe_the_same_observation():
    for r in play_steps(6, 12, blocks=True):
        assert set(r["obs_blocks"]) == set(BLOCKS)
        assert render_text(r["obs_blocks"]) == r["obs"]
