"""What the symbolic agent knows about NetHack: the facts it plays by, apart from its policy.

Keys (NetHack's default, number_pad off), the map's terrain kinds and what each glyph shows, and
per glyph or monster: objects worth walking to, armor safe to put on, corpses safe to eat,
monsters never to melee or shoot at; the missiles and tools it uses; and the patterns of the
messages and screens it reads. The tables are built once from nle's glyph and monster tables.
The policy that uses them is agent.py.
"""

from __future__ import annotations

import re

import numpy as np
from nle import nethack as nh

ROWS, COLS = 21, 79

# Keys (NetHack's default, number_pad off).
DIRS = {(-1, 0): ord("k"), (1, 0): ord("j"), (0, -1): ord("h"), (0, 1): ord("l"),
        (-1, -1): ord("y"), (-1, 1): ord("u"), (1, -1): ord("b"), (1, 1): ord("n")}
ESC, ENTER = 27, 13
SEARCH, PICKUP, EAT, DOWN, UP, ENGRAVE, KICK = (ord("s"), ord(","), ord("e"), ord(">"), ord("<"),
                                               ord("E"), 4)
PRAY = 0x80 | ord("p")  # M-p
APPLY, QUAFF = ord("a"), ord("q")
LOOK = ord(":")  # what lies and what is written here (takes no game time)
ATTRIBUTES = 24  # ^X: our race, role, alignment and god (takes no game time)
DROP_MANY = ord("D")  # a menu of object classes, "A - Auto-select every item" among them
NEIGHBOURS = tuple(DIRS)
NORMAL_SPEED = 12  # a hero's (and a human's) movement a turn; a rothe's is 9, a giant ant's 18

# Terrain kinds of the per-level memory.
UNKNOWN, WALL, FLOOR, DOOR_OPEN, DOOR_CLOSED, DOORWAY, DOWNSTAIRS, UPSTAIRS, TRAP, WATER = range(10)
PASSABLE = {FLOOR, DOOR_OPEN, DOOR_CLOSED, DOORWAY, DOWNSTAIRS, UPSTAIRS}
DOORS = {DOOR_OPEN, DOOR_CLOSED}  # no diagonal moves into or out of these

# Glyph classes (what a square shows now).
G_TERRAIN, G_MONSTER, G_PET, G_OBJECT, G_BOULDER, G_SWALLOW, G_INVISIBLE, G_OTHER = range(8)


def _cmap_kind(idx: int) -> int:
    if idx == 0:
        return UNKNOWN  # S_stone: unexplored (or solid rock)
    if 1 <= idx <= 11 or idx in (17, 18, 37, 38):  # walls, bars, trees, raised drawbridges
        return WALL
    if idx == 12:
        return DOORWAY
    if idx in (13, 14):
        return DOOR_OPEN
    if idx in (15, 16):
        return DOOR_CLOSED
    if idx in (23, 25):
        return UPSTAIRS
    if idx in (24, 26):
        return DOWNSTAIRS
    if idx in (32, 34, 41):  # water, lava, wall of water
        return WATER
    if 42 <= idx <= 64:
        return TRAP
    if idx in (39, 40):  # air, cloud
        return FLOOR
    return FLOOR  # floor, corridor, altar, grave, throne, sink, fountain, ice, lowered bridge


def _build_tables():
    n = nh.MAX_GLYPH
    gclass = np.full(n, G_OTHER, np.int8)
    kind = np.full(n, -1, np.int8)  # terrain kind for cmap glyphs, -1 otherwise
    for g in range(n):
        if nh.glyph_is_pet(g):
            gclass[g] = G_PET
        elif nh.glyph_is_invisible(g) or nh.glyph_is_warning(g):
            gclass[g] = G_INVISIBLE
        elif nh.glyph_is_monster(g):
            gclass[g] = G_MONSTER
        elif nh.glyph_is_swallow(g):
            gclass[g] = G_SWALLOW
        elif nh.glyph_is_statue(g):
            gclass[g] = G_BOULDER  # statues block like boulders
        elif nh.glyph_is_object(g):
            obj = nh.glyph_to_obj(g)
            gclass[g] = G_BOULDER if nh.objdescr.from_idx(obj).oc_name == "boulder" else G_OBJECT
        elif nh.glyph_is_cmap(g):
            gclass[g] = G_TERRAIN
            kind[g] = _cmap_kind(nh.glyph_to_cmap(g))
    return gclass, kind


GCLASS, GKIND = _build_tables()


def _useful_items():
    """Objects worth walking to: gold, food other than corpses, scrolls, potions, wands, rings,
    amulets (autopickup takes $?!/; the agent picks up food)."""
    useful = np.zeros(nh.MAX_GLYPH, bool)
    classes = {nh.COIN_CLASS, nh.FOOD_CLASS, nh.SCROLL_CLASS, nh.POTION_CLASS, nh.WAND_CLASS,
               nh.RING_CLASS, nh.AMULET_CLASS}
    for g in range(nh.MAX_GLYPH):
        if GCLASS[g] == G_OBJECT and not nh.glyph_is_body(g):
            useful[g] = ord(nh.objclass(nh.glyph_to_obj(g)).oc_class) in classes
    return useful


USEFUL_ITEM = _useful_items()

# Armor worth wearing: pieces whose appearance is fixed (so no cursed helm of opposite alignment,
# fumble or levitation boots in disguise), body armor light enough not to burden us. Keyed by
# the name or appearance the game shows; the value is the slot.
SAFE_ARMOR = {
    "leather hat": "helm", "elven leather helm": "helm", "iron skull cap": "helm",
    "orcish helm": "helm", "hard hat": "helm", "dwarvish iron helm": "helm", "fedora": "helm",
    "dented pot": "helm",
    "leather armor": "body", "studded leather armor": "body", "ring mail": "body",
    "scale mail": "body", "crude ring mail": "body", "orcish ring mail": "body",
    "elven mithril-coat": "body", "dwarvish mithril-coat": "body", "leather jacket": "body",
    "hooded cloak": "cloak", "dwarvish cloak": "cloak", "coarse mantelet": "cloak",
    "orcish cloak": "cloak", "faded pall": "cloak", "elven cloak": "cloak",
    "leather cloak": "cloak", "robe": "cloak", "slippery cloak": "cloak",
    "oilskin cloak": "cloak",
    "small shield": "shield", "elven shield": "shield", "blue and green shield": "shield",
    "orcish shield": "shield", "red-eyed shield": "shield", "Uruk-hai shield": "shield",
    "white-handed shield": "shield",
    "walking shoes": "boots", "low boots": "boots", "jackboots": "boots",
    "high boots": "boots", "hard shoes": "boots", "iron shoes": "boots",
}
# Their armor class before enchantment (objects.c), by name and appearance, to put on a better
# body armor or helm than the one worn; the metal ones hinder a Wizard's spells.
ARMOR_AC = {
    "leather hat": 1, "elven leather helm": 1, "iron skull cap": 1, "orcish helm": 1,
    "hard hat": 2, "dwarvish iron helm": 2, "fedora": 0, "dented pot": 1,
    "leather jacket": 1, "leather armor": 2, "crude ring mail": 2, "orcish ring mail": 2,
    "studded leather armor": 3, "ring mail": 3, "scale mail": 4, "dwarvish mithril-coat": 4,
    "elven mithril-coat": 5,
}
METAL_ARMOR = {"crude ring mail", "orcish ring mail", "ring mail", "scale mail",
               "dwarvish mithril-coat", "elven mithril-coat"}
UPGRADE_SLOTS = ("body", "helm")
SLOT_WORDS = (("shield", ("shield",)), ("boots", ("boots", "shoes")),
              ("gloves", ("gloves", "gauntlets")),
              ("cloak", ("cloak", "cape", "cope", "pall", "mantelet", "robe", "apron", "cloth",
                         "smock", "wrapping")),
              ("helm", ("helm", "hat", "cap", "fedora", "pot", "cornuthaum")),
              ("shirt", ("shirt",)), ("body", ("mail", "armor", "jacket", "coat", "scales")))


def armor_slot(text: str) -> str | None:
    """The slot of an armor piece from its inventory or floor description."""
    text = text.lower()
    for slot, words in SLOT_WORDS:
        if any(w in text for w in words):
            return slot
    return None


def safe_armor(text: str) -> str | None:
    """The slot of a piece in SAFE_ARMOR named in ``text`` (longest name first), else None."""
    for name in sorted(SAFE_ARMOR, key=len, reverse=True):
        if name in text:
            return SAFE_ARMOR[name]
    return None


def armor_ac(text: str) -> int | None:
    """The base armor class of a piece in ARMOR_AC named in ``text``, else None."""
    for name in sorted(ARMOR_AC, key=len, reverse=True):
        if name in text:
            return ARMOR_AC[name]
    return None


def metal_armor(text: str) -> bool:
    """Does ``text`` name a piece of METAL_ARMOR?"""
    return any(name in text for name in METAL_ARMOR)


def _armor_targets():
    wanted = np.zeros(nh.MAX_GLYPH, bool)
    for g in range(nh.MAX_GLYPH):
        if GCLASS[g] == G_OBJECT:
            obj = nh.glyph_to_obj(g)
            if ord(nh.objclass(obj).oc_class) == nh.ARMOR_CLASS:
                d = nh.objdescr.from_idx(obj)
                wanted[g] = d.oc_name in SAFE_ARMOR or (d.oc_descr or "") in SAFE_ARMOR
    return wanted


ARMOR_ITEM = _armor_targets()


def _armor_glyph_ac():
    """Each armor glyph's (slot, base armor class, metal?) where ARMOR_AC knows it."""
    out = {}
    for g in np.flatnonzero(ARMOR_ITEM):
        d = nh.objdescr.from_idx(nh.glyph_to_obj(int(g)))
        name = d.oc_name if d.oc_name in ARMOR_AC else d.oc_descr
        if name in ARMOR_AC:
            out[int(g)] = (SAFE_ARMOR[name], ARMOR_AC[name], d.oc_name in METAL_ARMOR)
    return out


ARMOR_GLYPH_AC = _armor_glyph_ac()
IS_BODY = np.array([bool(nh.glyph_is_body(g)) for g in range(nh.MAX_GLYPH)])
MONSTER_NAMES = [nh.permonst(i).mname for i in range(nh.NUMMONS)]
# The symbol of each monster's class ("@", "F", ...).
MONSTER_CLASS = [ord(nh.class_sym.from_mlet(nh.permonst(i).mlet).sym) for i in range(nh.NUMMONS)]


def _number(value) -> int:
    return ord(value) if isinstance(value, str) else int(value)  # (nle gives a char as a str)


def _monster_alignments() -> list[int]:
    """Each monster kind's alignment (monst.c's maligntyp: below 0 chaotic, 0 neutral, above 0
    lawful, -128 unaligned), which nle's permonst binding leaves out: read from the game
    library's own monster table (``mons``), each entry checked field by field against nle's."""
    import ctypes
    import os

    import nle

    class Attack(ctypes.Structure):
        _fields_ = [(n, ctypes.c_ubyte) for n in ("aatyp", "adtyp", "damn", "damd")]

    class Permonst(ctypes.Structure):  # permonst.h (NetHack 3.6)
        _fields_ = [("mname", ctypes.c_char_p), ("mlet", ctypes.c_byte),
                    ("mlevel", ctypes.c_byte), ("mmove", ctypes.c_byte), ("ac", ctypes.c_byte),
                    ("mr", ctypes.c_byte), ("maligntyp", ctypes.c_byte),
                    ("geno", ctypes.c_ushort), ("mattk", Attack * 6), ("cwt", ctypes.c_ushort),
                    ("cnutrit", ctypes.c_ushort), ("msound", ctypes.c_byte),
                    ("msize", ctypes.c_byte), ("mresists", ctypes.c_ubyte),
                    ("mconveys", ctypes.c_ubyte), ("mflags1", ctypes.c_ulong),
                    ("mflags2", ctypes.c_ulong), ("mflags3", ctypes.c_ushort),
                    ("mcolor", ctypes.c_ubyte)]

    lib = ctypes.CDLL(os.path.join(os.path.dirname(nle.__file__), "libnethack.so"),
                      mode=ctypes.RTLD_LOCAL)
    table = (Permonst * nh.NUMMONS).in_dll(lib, "mons")
    checked = ("mlet", "mlevel", "mmove", "ac", "mr", "cwt", "cnutrit", "msound", "msize",
               "mflags1", "mflags2", "mflags3")  # (not mcolor: nle's binding gives another)
    out = []
    for i in range(nh.NUMMONS):
        ours, theirs = table[i], nh.permonst(i)
        if ours.mname != theirs.mname.encode() or any(
                int(getattr(ours, f)) != _number(getattr(theirs, f)) for f in checked):
            raise RuntimeError(f"libnethack.so's monster {i} is not nle's {theirs.mname}")
        out.append(int(ours.maligntyp))
    return out


MONSTER_ALIGN = _monster_alignments()
M2_HOSTILE, M2_PEACEFUL = 0x00100000, 0x00200000  # always hostile, always peaceful (monflag.h)
# The race flags of a monster (monflag.h), and all of them.
M2_HUMAN, M2_ELF, M2_DWARF, M2_GNOME, M2_ORC = 0x08, 0x10, 0x20, 0x40, 0x80
M2_RACES = M2_HUMAN | M2_ELF | M2_DWARF | M2_GNOME | M2_ORC
# Races a hero's race (the race word of the welcome) is peaceful and hostile to (role.c's
# lovemask and hatemask).
RACE_LOVE = {"human": 0, "elven": M2_ELF, "dwarven": M2_DWARF | M2_GNOME,
             "gnomish": M2_DWARF | M2_GNOME, "orcish": 0}
RACE_HATE = {"human": M2_GNOME | M2_ORC, "elven": M2_ORC, "dwarven": M2_ORC, "gnomish": M2_HUMAN,
             "orcish": M2_HUMAN | M2_ELF | M2_DWARF}


def may_be_born_peaceful(mon: int, race: str, alignment: int) -> bool:
    """May a monster of kind ``mon`` be generated peaceful to a hero of this race word and
    alignment sign (makemon.c's peace_minded: always peaceful kinds; never the always hostile;
    the races the hero's loves, never those it hates; else a kind of the hero's alignment,
    which the game makes peaceful half the time or more)?"""
    p = nh.permonst(mon)
    if p.mflags2 & M2_PEACEFUL:
        return True
    if p.mflags2 & M2_HOSTILE:
        return False
    race_bits = int(p.mflags2) & M2_RACES
    if race_bits & RACE_LOVE.get(race, 0):
        return True
    if race_bits & RACE_HATE.get(race, 0):
        return False
    mal = MONSTER_ALIGN[mon]
    return mal != -128 and int(np.sign(mal)) == alignment


# Monsters never to melee (passive damage or paralysis), and corpses safe to eat.
# With the most a blow at one costs us (monst.c and uhitm.c's passive: a mold's or jelly's
# d(level + 1, n), at levels a few above its base; a gas spore's 4d6 explosion; a yellow mold
# only stuns; a floating eye's gaze paralyses instead).
PASSIVE_WORST = {"floating eye": 0, "gas spore": 24, "brown mold": 24, "yellow mold": 0,
                 "green mold": 16, "red mold": 20, "blue jelly": 36, "spotted jelly": 42,
                 "ochre jelly": 18}
NEVER_MELEE = set(PASSIVE_WORST)
# Corpses never eaten (petrifying, sliming, stunning, hallucinogenic, teleportitic, a pet's kin,
# polymorphing, acidic: up to 15 points of damage, a death at low hit points) ...
UNSAFE_CORPSES = {"cockatrice", "chickatrice", "green slime", "Medusa", "yellow mold",
                  "green mold", "brown mold", "red mold", "violet fungus", "spotted jelly",
                  "blue jelly", "bat", "giant bat", "vampire bat", "little dog", "dog",
                  "large dog", "kitten", "housecat", "large cat", "quasit", "tengu", "nurse",
                  "leprechaun", "nymph", "water nymph", "wood nymph", "mountain nymph",
                  # they polymorph the eater
                  "chameleon", "doppelganger", "sandestin", "genetic engineer",
                  "acid blob", "gray ooze", "black naga"}
# ... nor poisonous ones (eat.c: four times in five one costs up to 4 points of Strength and 15
# hit points): every kind the game marks poisonous (kobolds, soldier ants, killer bees, and those
# the list above missed: giant spiders, xans, gremlins, ...).
POISONOUS_CORPSES = {nh.permonst(i).mname for i in range(nh.NUMMONS)
                     if nh.permonst(i).mflags1 & 0x10000000}  # M1_POIS
# The hero's own race (the race word of the welcome message -> the monster flag that marks its
# kin): eating one's kin is cannibalism, which costs 2 to 5 points of Luck for good (a god does
# not listen below 0) and aggravates monsters; a Caveman and an orc may (eat.c).
KIN_FLAG = {"human": M2_HUMAN, "elven": M2_ELF, "dwarven": M2_DWARF, "gnomish": M2_GNOME,
            "orcish": 0}
_KIN = {nh.permonst(i).mname: int(nh.permonst(i).mflags2) & M2_RACES for i in range(nh.NUMMONS)}
# What a lycanthrope must not eat either: the animals of a were's kind (were.c, were_beastie; the
# message that tells us we caught it does not say which were it was).
WERE_KIN = {"sewer rat", "giant rat", "rabid rat", "jackal", "fox", "coyote", "wolf", "warg",
            "winter wolf"}


def safe_corpse(monster: str, kin: int = KIN_FLAG["human"], lycanthrope: bool = False) -> bool:
    """Corpses worth eating: not poisonous (every kind the game marks so), acidic, petrifying,
    polymorphing, hallucinogenic, a pet's kin (a blacklist of what an early game meets), nor of
    the hero's own race (``kin``, a flag of KIN_FLAG; gnomes, dwarves and elves feed a human well)
    nor, for a lycanthrope, of a were's animal kind."""
    return monster not in UNSAFE_CORPSES and monster not in POISONOUS_CORPSES and \
        not monster.startswith("were") and \
        not monster.endswith(("zombie", "mummy")) and not _KIN.get(monster, 0) & kin and \
        not (lycanthrope and monster in WERE_KIN)


# Corpses rot: one 60 turns old or more may be tainted (deadly food poisoning; eat.c divides the
# age by 10 to 29 and taints above 5), one over 40 may make us mildly ill (up to 8 hit points).
# Eat those under 30 turns old whenever not satiated, and, when hungry, those under 55.
CORPSE_AGE, CORPSE_AGE_HUNGRY = 30, 55
# What we shoot: the word that names it (singular), the kinds that need a launcher, the kinds
# worth throwing by hand from a spare stack, the monster classes never shot at (they may be
# peaceful: humans and elves, angels, unicorns) and the reach.
MISSILE_RE = re.compile(r"\b(arrow|ya|dart|dagger|knife|knives|shuriken|spear|javelin|"
                        r"crossbow bolt)s?\b")
MISSILE_COUNT_RE = re.compile(r"\d+ ")
AMMO = {"arrow", "ya", "crossbow bolt"}
THROWN = {"dagger", "knife", "knives", "dart", "shuriken"}
PICK_RE = re.compile(r"\bpick-axe\b")
HEALING_RE = re.compile(r"\bpotions? of (?:extra |full )?healing\b")
NEVER_SHOOT = {ord("@"), ord("A"), ord("u")}
SHOOT_RANGE = 6
MORE_RE = re.compile(rb"--More--")
MENU_END_RE = re.compile(rb"\((end|\d+ of \d+)\)")
MENU_ITEM_RE = re.compile(r"(?:^|\s)([a-zA-Z]) - (.+)$")
TRAP_RE = re.compile(r"There is an? [\w -]*(?:trap|pit|hole|web) here|A cloud of gas puts you|"
                     r"You fall into a pit|caught in a bear trap|A trap door opens|"
                     r"You are caught in a web|A bear trap closes")
CORPSE_RE = re.compile(r"There (?:is|are) (?:an? |\d+ )?(?:partly eaten )?(.+?) corpses? here")
# An opened tin: "It smells like newt." ("rotten" when it went bad), then "Eat it?"
TIN_SMELL_RE = re.compile(r"It smells like (rotten )?(.+?)\.")
READ_RE = re.compile(r'You read: "([^"]*)"')  # an engraving under us
SHOP_RE = re.compile(r"Welcome(?: again)? to [\w .'-]+'s? ")
HIT_RE = re.compile(r"The (.+?) (?:hits|bites|stings|kicks|butts|claws|touches|thrusts|swings|"
                    r"misses|just misses|grabs)")
# ... at us: "The wererat hits!" ("The watchman hits the jackal." is at another monster)
HIT_US_RE = re.compile(r"The ([^.!]+?) (?:hits|bites|stings|kicks|butts|claws|touches|misses|"
                       r"just misses|grabs you)!")
# Wands: identified ones by name; those that stop an adjacent monster when zapped at it (kill,
# put to sleep, slow or send it elsewhere); and one known to be empty.
WAND_RE = re.compile(r"\bwand of ([a-z ]+?)(?: \(|$)")
EMPTY_WAND_RE = re.compile(r"\(-?\d+:(?:0|-1)\)|\bcancelled\b")
ATTACK_WANDS = {"striking", "magic missile", "sleep", "fire", "cold", "lightning", "death",
                "teleportation", "slow monster"}
# Engrave-testing an unidentified wand (E, then the wand) names its kind by a message, or a few
# kinds by one message ("the bugs stop moving": sleep or death, both rays worth zapping at what
# attacks us); NetHack itself names digging, fire and lightning, and the wands without a
# direction (light, create monster, ...) by their effect. The rest say nothing, or make an
# engraving already there vanish (teleportation, cancellation, make invisible).
WAND_LOOK_RE = re.compile(r"\b([a-z]+) wand\b")  # an unidentified wand's appearance
ENGRAVE_TEST = ((re.compile(r"bugs on the \w+ stop moving"), "sleep"),
                (re.compile(r"riddled by bullet holes"), "magic missile"),
                (re.compile(r"ice cubes drop from the wand"), "cold"),
                (re.compile(r"bugs on the \w+ slow down"), "slow monster"),
                (re.compile(r"bugs on the \w+ speed up"), "speed monster"),
                (re.compile(r"wand unsuccessfully fights your attempt"), "striking"),
                (re.compile(r"engraving on the \w+ vanishes"), "vanishing"))
# Rays fly on past what they hit and bounce off walls, back at the zapper (a ray of sleep or
# death coming back is the end): zap one only down a line this many squares clear.
RAY_WANDS = {"magic missile", "sleep", "fire", "cold", "lightning", "death"}
# What a monster shrugs off (its mresists bits, NetHack's monflag.h MR_FIRE, MR_COLD, MR_SLEEP,
# MR_ELEC), and how long one put to sleep or slowed stays so at the least (no second charge on
# it before then).
WAND_RESISTED = {"fire": 0x01, "cold": 0x02, "sleep": 0x04, "lightning": 0x10}
WAND_LASTS = {"sleep": 12, "slow monster": 30}
RAY_CLEAR = 7
# Worth a wand's charge: a monster this hard (NetHack's difficulty: a rothe, a soldier ant, a
# dwarf, a hill orc) once it has hurt us, anything when we are below half our hit points, or two
# or more at once.
WAND_DIFFICULTY = 4
THIEVES = {ord("n"), ord("l")}  # nymphs (armor, wands) and leprechauns (gold)
# A prayer that failed (too soon, or with bad luck or alignment): one too soon made the god
# angry, and only a sacrifice appeases it (the 3 points of luck lost come back with time, the
# anger does not); until then every prayer fails and angers it more (lost levels, curses, a
# minion, lightning). A Monk's "You feel guilty" (meat eaten) costs a point of alignment, which
# its kills win back (a prayer needs 0 or more, and one below fails without angering the god):
# it bars no prayer.
PRAYER_FAILED_RE = re.compile(r"You feel that \S.* is (?:displeased|bummed)\.|"
                              r"Thou hast angered me|Thou hast strayed from the path|"
                              r"Thou art arrogant|Thou must relearn thy lessons|"
                              r"Thou durst call upon me")
# Turned into a small or handless monster (a were's animal form, a polymorph trap), the hero
# drops its armor and weapon where it stands (polyself.c's break_armor and drop_weapon).
GEAR_DROPPED_RE = re.compile(r"(?:^|  )Your [\w ]+ (?:falls|slides? off|(?:is|are) pushed off)|"
                             r"\bYou drop your gloves|\bYou find you must drop your|"
                             r"\bYou shrink out of|\bYou can no longer hold your")
ARTICLE_RE = re.compile(r"^(?:an?|the|\d+) ")
# An inventory line's tail that the floor's list of the same object lacks.
AFTER_NAME_RE = re.compile(r" \((?:being worn|weapon in hands?|wielded|in quiver|alternate weapon; "
                           r"not wielded|lit|on (?:left|right) hand|in use)\)$")
WIELDED_RE = re.compile(r"^(?:an?|the|\d+) (.+?) \((?:weapon|wielded) in hands?")
KILL_RE = re.compile(r"You (?:kill|destroy) (?:the |an? )?(?:poor )?(.+?)!")
