"""A symbolic NetHack agent that names its strategy at every step.

It reads NetHackChallenge observations (glyphs, blstats, message, tty_chars, misc, inventory) and
returns one keypress per step. At the first step it reads its race and role from the welcome
message, or, when a later message (a full moon's) has replaced it, from the attributes screen (^X,
no game time; ``explore``). Each step it first notes what the message says (a kill, a locked door,
a wall, a shop entered, a trap, a hit from a monster it took for peaceful), then decides, in this
order, each decision labelled with the paper's strategy names (strategies.py):

1. the interface: ``--More--`` (Enter; before anything else, since NetHack ignores other keys
   there), keys already decided (typed text, menu picks, the step back out of a shop; a look at
   the engraving queued with an action waits until that action's prompt is answered), text prompts
   (Elbereth when engraving; to a vault's guard, our own name: ``follow_guard``, below; else Esc),
   y/n questions (answered by what the agent is doing: "eat it?" only for the corpse it meant to
   eat, "Really attack?" no, "pray?" yes, the item it chose to eat, wear, wield, read, throw, apply
   or drink, the direction it chose, else Esc) and menus, also those that wait for a key (food and
   our own missiles from a pick-up menu, the first spell when casting, the first skill #enhance
   offers, turning its pages to find one, else Esc). These keep the
   strategy that caused them;
2. stalled: when the game turn has not advanced for 40 steps, press Esc, search (which takes a
   turn) and move at random, in turn (the strategy stays); after 300 steps in one place, move or
   attack in random directions for a while (``explore``), unless resting on our Elbereth with
   monsters beside it (a blow rubs it out, and the crowd that it kept off comes in); then, once
   NetHack says a skill may be advanced ("You feel more confident in your weapon skills"):
   #enhance at once, even in a fight (no game time), one skill a menu, turning its pages to find
   one, until the menu offers none (Skilled is +2 to hit and +1 damage over Basic; ``explore``);
3. arrived in the Gnomish Mines by the stairs (not a dwarf or gnome): go back up and find the
   main dungeon's other staircase (``explore``);
4. in an animal's body (a were's) that collapses under our pack (it carries a fifth of a
   human's load: it can neither move nor eat): drop it all (``D``, every item; ``emergency``),
   and pick it up again where it fell once back in our own shape (below); engulfed: attack
   (``engulfed_fight``);
5. emergencies: food poisoning or illness: pray unless the last prayer is under 50 turns old (death
   is near: a prayer that may come too soon is worth it); lycanthropy: pray when the last prayer is
   500 turns old and no hostile is within 6 squares (the were that bit us would bite again), at
   once when it has turned us into the animal (``cure_disease``); stoning, sliming, strangling:
   pray as for food poisoning (``emergency``); hit points below 1/7 (or 6): pray when the last
   prayer is 500 turns old (the god helps in such "major trouble" when the prayer timeout is below
   200), unless nobody is within 6 squares and we are not weak from hunger: then rest on Elbereth
   as when hurt (below) and pray once a hostile comes near (the prayer is most heroes' food, and
   one spent on what rest brings back leaves the next hunger with none); hit again while below
   1/7, when the last prayer is 300 turns old (the timeout is then below 200 about two times in
   three: better than the next blow); else quaff a potion known to
   heal (a Healer's, a Tourist's), else, with a hostile adjacent, zap a wand known by name or by
   engrave-testing to stop it (sleep, striking, fire, ...; never at what may be peaceful) or one of
   digging down, unless on a staircase, where the beam bounces off and brings a rock down on us
   (``emergency``); weak from hunger with nothing to eat: pray when the last prayer is 500 turns
   old (250 when fainting; ``emergency``), and with food but a hostile adjacent, when it is 500
   turns old (a meal takes turns of free blows; a prayer that is heard shields us while we pray);
   no prayer ever again after one that failed too soon ("You feel that Mitra is displeased", "Thou
   art arrogant": the god is angry until a sacrifice, and every prayer fails and angers it more);
   but the first prayer, or one 1,000 turns after the last, cannot come too soon (the timeout
   starts at 300 and falls by one a turn): it failed on Luck or alignment below 0 (a pet or a
   peaceful killed), which leaves the god calm, so pray again, once, 1,000 turns later; a Monk's
   guilt over meat (a point of alignment, which its kills win back) bars no prayer; a Healer below
   half its hit points casts healing on itself (``emergency`` in a fight, else ``wait_out``); below
   30% with a monster adjacent (40% wrote it too soon: fights that would have been won were
   left), or below 70% with two or more, or below 1/7 with no prayer, or
   where two more blows like the worst of the last 3 turns would kill us (a rothe's three bites, a
   mattock: the blow that takes us from 60% to death comes before 30% is seen): climb the up
   staircase we stand on (known when seen, or because we came down by it), or walk to one up to 3
   steps away, or up to 6 where Elbereth does not hold (what is beside us ignores it, or it failed
   here), or up to 30 when all that is beside us is slower than we are (a rothe, an orc, a dwarf)
   and we are not burdened (a monster that steps up to us has no blow left that move); only
   stalkers follow a hero up the stairs, and only from beside it (zombies, soldiers, trolls,
   demons; no rothe, ant, bat, jackal, were or orc); never from the first level, whose staircase
   leaves the dungeon; a climb that fails (a heavy load, a trap) is not tried again for
   100 turns (``emergency``; upstairs, the hero rests as when hurt, below, and comes down again at
   80%); else engrave Elbereth in the dust and rest on it while it holds (``emergency``; never in a
   body that holds nothing, a were's animal: "You can't even hold anything!", and it rested where
   no Elbereth was written while a crowd bit it; nor zap or quaff there: it fights). After writing,
   read it (``:``, no game time): a finger in the dust garbles each letter one time in 25, so a
   quarter of all Elbereths scare nobody, and one that reads wrong is written anew. Hit on it,
   write it anew twice, then take it that it does not hold, read it (one worn off since may be
   written anew) and fight back; swung at on it, hit or missed, read it at once (a blow may have
   rubbed a letter out); where Elbereth does not hold, below 1/7 with no prayer: zap each
   unidentified wand at the monster once, then quaff each unidentified potion once (``emergency``);
   in a vault (its teleport trap brought us in) with its guard asking our name: drop the gold, then
   keep beside the guard, stepping with ``m`` (no autopickup: gold picked up again makes it
   attack), until it has led us out and gone (``follow_guard``; "Croesus" would send it off and
   leave us walled in); confused (rotten food) or stunned with no hostile adjacent: search until it
   passes, since a step may go astray into the pet (its death costs 15 alignment, and no prayer is
   heard below 0) or a peaceful (``wait_out``);
6. food: a fresh corpse of a safe monster (under 30 turns old; 55 when hungry) under us whenever
   we are not satiated and no hostile is within 6 squares (one corpse in 7 tastes rotten, and
   may knock us out for a while; ``ground_eat``). A kill is a corpse where one of its kind stood
   a step ago (ours or the pet's), unless one of its kind stands within two squares now (it
   walked off an old corpse), never one killed from inside it (an engulfer), and not where the
   way proves solid stone; kills are forgotten on leaving the level; when hungry, food from
   the inventory (``inventory_eat``; with a hostile adjacent only once fainting: a meal takes
   turns of free blows, and food over 30 turns old tastes rotten one time in 7), else such a
   corpse up to 10 squares away; not hungry yet, one up to 6 squares away, so that kills feed
   us before hunger comes (``ground_eat``); weak with no prayer to hand, an egg or a tin (eaten
   when its smell names a safe kind; ``inventory_eat``). Safe kinds: not poisonous (each kind
   the game marks so: kobolds, giant spiders, xans, ...), acidic,
   petrifying, polymorphing, a pet's kin, nor of our own race (read from the welcome: a human
   eats gnomes, dwarves and elves, the food of the first levels, but no human; cannibalism
   costs Luck for good, and a god does not listen below 0; a Caveman or an orc eats anyone),
   nor, with lycanthropy, the rats, jackals and wolves of the were kinds;
7. fight (``fight``): zap a wand known to hurt or stop a monster (striking, sleep, magic missile,
   fire, cold, lightning, death, slow monster) at an adjacent hostile when it is worth a charge:
   below half our hit points, two or more adjacent below 80%, a hard one (difficulty 4 or more: a
   rothe, a soldier ant, a dwarf) once it has hurt us, or a thief (a nymph takes our armor, a
   leprechaun our gold); a ray only down a line seven squares clear (rays bounce off walls, back at
   us), never at a monster that resists it nor, a while, at one we put to sleep or slowed; a wand
   that did nothing ("Nothing happens") is empty. Resting on Elbereth, leave alone what comes by
   until it hits us (``wait_out``), and read it every 30 turns (the dust wears off), and at once
   when something swings at us, to write it anew when it reads wrong. Standing on an Elbereth that
   holds, never attack what respects it (a blow, a missile or a spell rubs it out and costs 5
   points of alignment, "You feel like a hypocrite", and a god does not listen to a hero below 0):
   rest on it while below 90%, else walk on. Shoot at the nearest hostile monster in a straight
   line within 6 squares, with nothing (and no pet behind it) in the way, never at what may be
   peaceful (humans, elves, angels, unicorns, our kin in the Mines, and each kind the game may make
   peaceful to us: of our alignment, not always hostile, or of a race ours loves, read from the
   game's own monster table; a kill from afar, where no "Really attack?" warns, costs 5 alignment
   and may cost Luck, and with them the prayers; unless one of its kind attacked us on this level:
   a were in its human shape) nor at a gas spore next to such or to a pet: fire the quiver (arrows
   once the bow is in hand, which a Ranger takes first; darts, daggers), throw a spare stack of
   daggers or darts, or cast a Wizard's force bolt (not for 200 turns after "too hungry to cast",
   no energy, no hands or no ammunition); at point blank only when melee is weaker (a bow in hand,
   bare hands, the spell). Else attack an adjacent hostile monster (a were first: it calls rats or
   jackals while it lives), never a floating eye, gas spore or mold (a kind that asked "Really
   attack?" is left alone until one of it attacks us); boxed in by one of those for 60 steps: throw
   spare weapons or stones at it, and after 400 steps, stuck on the level, melee the one whose
   passive blows cost least (a yellow mold only stuns) when hit points allow (its worst blow + 3,
   at 90% of our maximum; after 1,000 steps in place, its worst - 3: a gas spore's 4d6 at 21 kills
   one time in 40, better than starving in place); one within two squares: wait for it a few turns;
8. hurt (below 60% until back at 90%): with nobody within 6 squares, walk to a known up
   staircase up to 20 steps away (not on the first level) to rest there, so that what comes
   while we are weak finds us on the way out (above); engrave Elbereth and rest on it, searching
   a turn at a time (20 at a time where it does not hold or cannot be written, as in an
   animal's body; ``wait_out``);
   not once fainting, nor weak with an angry god (then look for food; weak, a prayer will come);
9. otherwise ``explore``: with nobody near, put on safe armor (the best first, body armor before a
   cloak) and take an Archeologist's pick-axe in hand instead of the bullwhip; with nobody within 6
   squares and at half our hit points or more, a body armor or helm in the pack with a better base
   armor class than the one worn (a hard hat over a fedora, a mithril-coat over a leather jacket;
   no metal body armor for a Wizard, whose spells it hinders): take the worn one off (a cloak
   first, which goes back on over it only once the swap is done), put the better one on and drop
   the old (never picked up again; a cursed piece that will not come off is left on, a piece that
   would not go on is not tried again); back in our own shape after an animal's (a were's, a
   polymorph trap's), walk back to where our armor and weapon (and the pack it dropped) fell, pick
   them up, put the armor on again and take the weapon in hand; with nobody within 6 squares and at
   half our hit points or more, engrave with each unidentified wand once: the message tells its
   kind ("the bugs stop moving": sleep or death; bullet holes: magic missile; ice cubes: cold;
   "fights your attempt to write": striking; the bugs slow down or speed up), NetHack names
   digging, fire, lightning and the wands without a direction itself, and the text written is
   Elbereth; zap a wand of speed monster at ourselves once (fast for good); pick up food seen here
   (a lichen corpse too: it never rots), then the missiles we shot; kick locked doors (not in the
   Mines, never a shop's "Closed for inventory", even half rubbed out; after ten kicks in vain,
   again 300 steps later); follow the path already planned; take the down staircase when the level
   is explored or has taken long enough, as long as the depth stays below experience level + 1
   (resting on it until hit points are full: a new level's first fights come at once); walk
   (breadth-first paths over a per-level memory of the map, around known traps and shops, and
   around molds seen before, which never move) to unseen frontier squares and useful items (gold,
   food, scrolls, potions, wands, rings, amulets, armor for a free slot or better than the worn),
   pushing boulders when nothing else is left, else to the down staircase. Stuck on a level for
   long with the way on blocked by a floating eye, mold or gas spore (in a corridor or a doorway):
   walk up to it, throw spare weapons at it (``fight``), wait for it to drift off, and after 200
   turns, at 90% hit points or more with nobody else near (or after 400, whoever is near), melee it
   (``fight``); a floating eye only after 1,000 turns (its gaze freezes us for up to 127 turns).
   With nothing left to explore and no way down known (100 steps on the level or more), look at
   NetHack's #terrain view (the map as seen, without objects, monsters and traps; no game time;
   again each 800 steps): a down staircase under an object or a mold shows there (one under an
   object is also noted when we step on it, "There is a staircase down here"). With no way down
   found for long, read a scroll of magic mapping (a Tourist's), later dig down with a pick-axe;
   with nothing left to do, search for hidden passages where they are likeliest (dead ends, walls
   next to unseen rock, searched least, nearest; one with no way to it now is passed over for 300
   steps).

The game's facts that these decisions use (keys, glyph classes, monster and object tables,
message patterns) are in facts.py.

Randomness comes only from the ``rng`` given to the agent (a numpy Generator), so a game is a
function of the NetHack seeds and the agent seed.
"""

from __future__ import annotations

import re
from collections import deque
from difflib import SequenceMatcher

import numpy as np
from nle import nethack as nh

from .facts import (
    # the screen and the keys
    ROWS, COLS, DIRS, NEIGHBOURS, ESC, ENTER, SEARCH, PICKUP, EAT, DOWN, UP, ENGRAVE, KICK, PRAY,
    APPLY, QUAFF, LOOK, ATTRIBUTES, DROP_MANY, NORMAL_SPEED,
    # terrain and glyphs
    UNKNOWN, WALL, FLOOR, DOOR_OPEN, DOOR_CLOSED, DOORWAY, DOWNSTAIRS, UPSTAIRS, TRAP, PASSABLE,
    DOORS,
    G_TERRAIN, G_MONSTER, G_PET, G_OBJECT, G_BOULDER, G_SWALLOW, G_INVISIBLE, GCLASS, GKIND,
    IS_BODY, USEFUL_ITEM, ARMOR_ITEM,
    # monsters and objects
    MONSTER_NAMES, MONSTER_CLASS, NEVER_MELEE, PASSIVE_WORST, NEVER_SHOOT, SHOOT_RANGE, KIN_FLAG,
    CORPSE_AGE, CORPSE_AGE_HUNGRY, armor_slot, safe_armor, armor_ac,
    ARMOR_GLYPH_AC, metal_armor, UPGRADE_SLOTS, MISSILE_RE, MISSILE_COUNT_RE, AMMO, THROWN,
    PICK_RE, HEALING_RE, safe_corpse, may_be_born_peaceful,
    # messages and screens
    MORE_RE, MENU_END_RE, MENU_ITEM_RE, TRAP_RE, CORPSE_RE, TIN_SMELL_RE, READ_RE, SHOP_RE, HIT_RE,
    HIT_US_RE, KILL_RE, WAND_RE, EMPTY_WAND_RE, ATTACK_WANDS, PRAYER_FAILED_RE, AFTER_NAME_RE,
    GEAR_DROPPED_RE, WIELDED_RE, ARTICLE_RE, WAND_LOOK_RE, ENGRAVE_TEST, RAY_WANDS, RAY_CLEAR,
    WAND_DIFFICULTY, WAND_RESISTED, WAND_LASTS, THIEVES
)


# A search spot we found no way to is passed over for this many steps on the level (it used to
# be dropped for good: a way blocked 30 steps by a move that did nothing lost the one door
# beside a hidden corridor, and the hero searched elsewhere for 20,000 turns).
SEARCH_SKIP = 300
# Steps on a level before the first look at its bare map (#terrain) while no way down is known,
# and between two looks.
TERRAIN_AFTER, TERRAIN_EVERY = 100, 800
# Steps to follow a vault's guard out after it asked our name (it leads us out in a few dozen).
GUARD_STEPS = 400
ENHANCE_TRIES = 3  # #enhance menus opened after "You feel more confident" (one skill each)
# A failed prayer this long after the last (or the first) did not come too soon; pray again
# this long after it (Luck below 0 comes back by one each 600 turns).
NAUGHTY_GAP, NAUGHTY_WAIT = 1_000, 1_000


class LevelMemory:
    """What the agent remembers about one level."""

    def __init__(self):
        self.terrain = np.full((ROWS, COLS), UNKNOWN, np.int8)
        self.visited = np.zeros((ROWS, COLS), np.int32)
        self.searched = np.zeros((ROWS, COLS), np.int32)
        self.blocked: dict[tuple[int, int], int] = {}  # cell -> steps it stays blocked
        self.locked: dict[tuple[int, int], int] = {}  # door -> kicks so far
        self.item_tried: set[tuple[int, int]] = set()
        self.downstairs: tuple[int, int] | None = None
        self.steps = 0
        self.first_turn: int | None = None
        self.last_glyphs: np.ndarray | None = None
        self.avoid: set[tuple[int, int]] = set()  # staircases into the Gnomish Mines
        self.peaceful: set[int] = set()  # monster glyphs that asked "Really attack?"
        self.attackers: set[str] = set()  # kinds that attacked us here: hostile, whatever class
        self.blocker_waits = 0  # turns spent next to a monster we must not melee that blocks us
        self.molds: dict[tuple[int, int], int] = {}  # cell -> glyph of a mold seen there
        self.missile_spots: set[tuple[int, int]] = set()  # where what we shot may lie
        self.mapped = False  # read a scroll of magic mapping here
        self.no_dig = False  # the floor here cannot be dug
        # search spots we found no way to, and the step until which they are passed over
        # (the way may be blocked only a while: a monster, a move that did nothing)
        self.search_skip: dict[tuple[int, int], int] = {}
        self.terrain_viewed: int | None = None  # step we last looked at the bare map


class SymbolicAgent:
    """Plays NetHackChallenge from observations; ``act(obs)`` returns a key, ``strategy`` names
    why. ``rng`` is a numpy Generator (the only source of randomness)."""

    def __init__(self, rng: np.random.Generator, level_budget: int = 800,
                 major_prayer_gap: int = 500):
        self.rng = rng
        self.level_budget = level_budget  # agent steps on a level before descending anyway
        self.levels: dict[tuple[int, int], LevelMemory] = {}
        self.strategy: str | None = None
        self.queue: deque[int] = deque()  # keys already decided (typed text, count prefixes)
        self.pending_direction: int | None = None  # answer to "In what direction?"
        self.intent: str | None = None  # "eat_ground", "eat_inv", "engrave", "pray", "pickup"
        self.intent_letter: int | None = None
        self.intent_corpse: str | None = None
        self.last_pray_turn = -10_000
        self.god_angry = False  # a prayer failed: every later one fails too
        self.prev_pray_turn = -10_000  # the prayer before the last
        self.naughty_until = -1  # a prayer failed on bad Luck or alignment: none till then
        self.failed_prayer = None  # the (last) prayer whose failure we have read
        self.tried_items: set[str] = set()  # unidentified wands and potions tried as a last resort
        self.wand_kinds: dict[str, str | None] = {}  # appearance -> kind engrave-testing told
        self.wand_testing: str | None = None  # the appearance being engrave-tested
        self.zapping: str | None = None  # the wand we zap now (its inventory description)
        self.spent_wands: set[str] = set()  # zapped and "Nothing happens"
        self.hasted = False  # zapped ourselves with a wand of speed monster
        self.race = "human"  # the race word of the welcome ("orcish", ...)
        self.alignment: int | None = None  # its sign: 1 lawful, 0 neutral, -1 chaotic
        self.zapped_at: dict[tuple[int, str], int] = {}  # (monster glyph, wand kind) -> turn
        self.weapon_name: str | None = None  # what we last had in hand ("+0 katana")
        self.gear_at = None  # (level, square) where our armor and weapon fell off
        self.polymorphed = False  # in another body (a were's animal, a polymorph trap's)
        self.worn_before: set[str] = set()  # armor we have worn ("+0 splint mail")
        self.guard_steps = 0  # steps left to follow a vault's guard out
        self.plan: list[tuple[int, int]] = []
        self.plan_goal: tuple[int, int] | None = None
        self.plan_kind = ""
        self.plan_boulders = False
        self.last_pos = None
        self.last_move: tuple[int, int] | None = None
        self.last_turn = -1
        self.stall = 0
        self.kills: dict[tuple[int, int], tuple[str, int]] = {}  # cell -> (monster, turn)
        self.kills_level: tuple[int, int] | None = None  # the level they are on
        self.elbereth_at: tuple[tuple[int, int, int], tuple[int, int]] | None = None
        self.fight_waits = 0
        self.search_spot: tuple[int, int] | None = None
        self.kick_target: tuple[int, int] | None = None
        self.same_pos = 0
        self.last_hp: int | None = None
        self.blows: deque = deque()  # (turn, hit points lost) over the last few turns
        self.resting = False
        self.last_obs = None
        self.lycanthropy = False
        self.were_form = False  # lycanthropy has turned us into the animal
        self.handless = False  # in a form that holds nothing: no engraving, no zapping
        self.drop_all = False  # an animal's body collapsed under our pack: drop it all
        self.dropped: set[str] = set()  # what we dropped so: picked up again in our shape
        self.free_slots: set[str] = set()  # armor slots we could fill now
        self.wear_tried: set[str] = set()  # inventory descriptions we tried to put on
        self.worn_ac: dict[str, int] = {}  # base armor class worn in each slot (99: unknown)
        self.worn_pieces: dict[str, tuple[int, str]] = {}  # slot -> (letter, text) worn there
        self.stuck_slots: set[str] = set()  # a cursed piece there (or over it) will not come off
        self.taking_off: str | None = None  # the slot we take a piece off for a better one
        self.discarded: set[str] = set()  # armor we took off for a better piece and dropped
        self.asked_attributes = False  # pressed ^X to read our race and role
        self.monk = False
        self.kin = KIN_FLAG["human"]  # our race's monster flag: its corpses are not eaten
        self.wizard = False  # casts force bolt (its first spell) at what comes near
        self.healer = False  # casts healing (its first spell) on itself when hurt
        self.missile_word: str | None = None  # what we shoot ("arrow", "dart", ...): pick it up
        self.no_shoot_until = -1
        self.swapped = False  # took the bow in hand (once)
        self.wield_tried = False
        self.mines_ok: bool | None = None  # dwarves and gnomes are at home in the Mines
        self.descended_from = None
        self.no_eat_until = -1
        self.tin_smell = None  # "It smells like newt." before a tin's "Eat it?"
        self.closed_shop_at = None  # (level, square) where we read "Closed for inventory"
        self.major_prayer_gap = major_prayer_gap  # turns between prayers in major trouble
        self.desperate_prayer_gap = 300  # ... when still hit at death's door
        self.elbereth_renewals = 2  # engravings anew on one square after being hit on it
        self.elbereth_renewed = 0
        self.elbereth_read = -1  # the turn we last read the Elbereth we rest on
        self.swung_at = False  # a monster swung at us (hit or miss) since the step we last played
        self.elbereth_crowd = 2  # ... or below 70% with this many hostiles adjacent
        self.elbereth_percent = 30  # engrave Elbereth in a fight below this share of hit points
        self.eye_waits = 1000  # turns blocked by a floating eye before meleeing it
        self.eat_ahead = True  # walk to fresh corpses when not hungry yet, not only when hungry
        self.descend_margin = 1  # go down from depth d only while d < experience level + this
        self.took_stairs = None  # (level key, DOWN or UP) of the staircase key just pressed
        self.no_climb_until = -1  # a climb that failed (a heavy load, a trap): not again till
        self.retreat_reach_holds = 3  # steps to an up staircase in a fight where Elbereth holds
        self.retreat_reach = 6  # steps to an up staircase when Elbereth does not hold here
        self.outrun_reach = 30  # ... when all that is beside us is slower than we are
        self.rest_reach = 20  # steps to an up staircase to rest on when hurt
        self.enhance_tries = 0  # #enhance menus still to open ("You feel more confident")
        self.enhance_pages = 0  # pages turned in the #enhance menu looking for a skill to pick

    # ------------------------------------------------------------------ entry point
    def act(self, obs: dict) -> int:
        bl = obs["blstats"]
        turn = int(bl[nh.NLE_BL_TIME])
        if turn != self.last_turn:
            self.last_turn, self.stall = turn, 0
        else:
            self.stall += 1
        self.last_obs = obs
        message = bytes(obs["message"]).split(b"\0", 1)[0].decode("latin-1").strip()
        if self.mines_ok is None:
            # The welcome message names the race and the role ("... a neutral female gnomish
            # Healer."), unless another message came after it (a full moon's): then ask for
            # the attributes screen (^X, no game time), which says the same.
            text = message if "welcome to NetHack" in message else \
                b"\n".join(bytes(row) for row in obs["tty_chars"]).decode("latin-1")
            if "welcome to NetHack" not in text and " attributes:" not in text and \
                    not self.asked_attributes and turn <= 1:
                self.asked_attributes = True
                self.strategy = "explore"
                return ATTRIBUTES
            self.mines_ok = bool(re.search(r"\b(dwarven|gnomish)\b", text))
            race = re.search(r"\b(human|elven|dwarven|gnomish|orcish)\b", text)
            # a Caveman may eat his kin, like an orc
            self.kin = 0 if " Cave" in text else KIN_FLAG[race.group(1) if race else "human"]
            self.race = race.group(1) if race else "human"
            align = re.search(r"\b(lawful|neutral|chaotic)\b", text)
            self.alignment = {"lawful": 1, "neutral": 0, "chaotic": -1}[align.group(1)] \
                if align else None
            self.monk = " Monk" in text
            self.wizard = " Wizard" in text
            self.healer = " Healer" in text
            if " attributes:" in text:
                return ESC  # close the attributes screen
        self._read_message(obs, message)
        key = self._interface(obs, message)  # 1. the interface
        if key is None and self.stall > 40:  # 2. stalled
            key = self._unstick()
        if key is None:
            key = self._play(obs, message)
        return key

    # ------------------------------------------------------------------ messages
    def _read_message(self, obs, message: str) -> None:
        if not message:
            return
        if "more confident in your" in message:  # a skill may be advanced: #enhance it
            self.enhance_tries = ENHANCE_TRIES
        mem = self._level(obs)
        match = KILL_RE.search(message)
        if match and self.last_move is not None and self.strategy != "engulfed_fight":
            # (not an engulfer killed from inside: no corpse lies in the direction we struck)
            y, x = self._pos(obs)
            cell = (y + self.last_move[0], x + self.last_move[1])
            self.kills[cell] = (match.group(1), int(obs["blstats"][nh.NLE_BL_TIME]))
        here = (self._level_key(obs), self._pos(obs))
        sign = READ_RE.search(message)
        if sign and self.elbereth_at in (here, (here, "broken")) and \
                sign.group(1).strip().lower() != "elbereth":
            self.elbereth_at = None  # garbled as written, or rubbed out since: write it anew
        if sign and self.elbereth_at == here:
            self.elbereth_read = int(obs["blstats"][nh.NLE_BL_TIME])
        if sign and SequenceMatcher(None, sign.group(1).lower(),
                                    "closed for inventory").ratio() >= 0.7:
            self.closed_shop_at = here  # written before a shop's door (maybe half rubbed out)
        if "This door is locked" in message and self.plan:
            door = self.plan[0]
            if self.closed_shop_at == here:
                # kicking a shop's door open angers its shopkeeper (wands of striking, death)
                mem.blocked[door] = 10**9
                self.plan = []
            else:
                mem.locked.setdefault(door, 0)
                self.kick_target = door
        if ("It's solid stone" in message or "It's a wall" in message) and \
                self.last_move is not None:
            y, x = self._pos(obs)
            cell = (y + self.last_move[0], x + self.last_move[1])
            if 0 <= cell[0] < ROWS and 0 <= cell[1] < COLS:
                mem.terrain[cell] = WALL
            self.kills.pop(cell, None)  # no corpse to walk to in rock
            self.plan = []
        for m in HIT_RE.finditer(message):
            # A monster of a kind we took for peaceful attacks us: this one is not.
            mem.peaceful -= {g for g in mem.peaceful
                             if MONSTER_NAMES[nh.glyph_to_mon(g)] == m.group(1)}
        # Nor is one of a kind that may be peaceful (a were in its human shape): shoot at it.
        for m in HIT_US_RE.finditer(message):
            mem.attackers.add(m.group(1))
            self.swung_at = True
        if "You have no ammunition" in message or "You don't have enough energy" in message \
                or "too hungry to cast" in message or "without hands" in message \
                or "You are too impaired" in message:
            self.no_shoot_until = int(obs["blstats"][nh.NLE_BL_TIME]) + 200
        if "too hard to dig in" in message or "cannot stay on the" in message or \
                "here is too hard to" in message:
            mem.no_dig = True
        self.tin_smell = TIN_SMELL_RE.search(message) or self.tin_smell
        if self.wand_testing is not None:
            for pattern, kind in ENGRAVE_TEST:
                if pattern.search(message):
                    self.wand_kinds[self.wand_testing] = kind
        if self.zapping is not None and "Nothing happens" in message:
            self.spent_wands.add(self.zapping)
        if PRAYER_FAILED_RE.search(message) and self.failed_prayer != self.last_pray_turn:
            # Too soon (the prayer timeout was above 200): the god is angry from now on. But
            # the first prayer, or one NAUGHTY_GAP turns after the last, cannot come too soon
            # (the timeout starts at 300 and falls by one a turn): it failed on Luck or
            # alignment below 0 (a pet or a peaceful killed, a step astray while confused),
            # which leaves the god calm, and Luck and alignment come back with time and kills:
            # pray again, once, NAUGHTY_WAIT turns later.
            if self.last_pray_turn - self.prev_pray_turn >= NAUGHTY_GAP and \
                    self.naughty_until < 0:
                self.naughty_until = self.last_pray_turn + NAUGHTY_WAIT
            else:
                self.god_angry = True
            self.failed_prayer = self.last_pray_turn
        if "You feel feverish" in message:
            self.lycanthropy = True
        if "You feel purified" in message:
            self.lycanthropy = self.were_form = False
        if "You turn into a" in message:
            self.polymorphed = True
            self.were_form = self.were_form or self.lycanthropy
            self.handless = self.handless or self.were_form  # a jackal, a rat, a wolf
        if "You can't even hold anything" in message:
            self.handless = True
            self.elbereth_at = None  # (the Elbereth we meant to write is not there)
        if "You return to" in message:
            self.were_form = self.polymorphed = self.handless = False
        if self.polymorphed and not self.dropped and (
                "You collapse under your load" in message or
                "You can't do that while carrying so much" in message):
            # a jackal's or a rat's body carries a fifth of ours: it can neither move nor
            # eat (two development games fainted from hunger there, food in the pack)
            self.drop_all = True
        if GEAR_DROPPED_RE.search(message):
            # turned into an animal: armor and weapon lie here; fetch them back in our own
            # shape, and put on again what we wore before
            self.gear_at = (self._level_key(obs), self._pos(obs))
            self.wear_tried.clear()
            self.polymorphed = True
        if self.taking_off is not None and "You can't." in message:
            # "You can't.  It is cursed." (a cursed cloak keeps the body armor under it too)
            self.stuck_slots.update(("cloak", "body") if self.taking_off == "cloak"
                                    else (self.taking_off,))
        if "You can't do that while carrying so much" in message or \
                "You don't have anything to eat" in message:
            self.no_eat_until = int(obs["blstats"][nh.NLE_BL_TIME]) + 100
        if SHOP_RE.search(message):
            # Entering a shop: autopickup would make us a thief. Never walk in again.
            y, x = self._pos(obs)
            mem.blocked[(y, x)] = 10**9
            self.plan = []
            if self.last_move is not None:  # step back out the way we came
                back = (-self.last_move[0], -self.last_move[1])
                if back in DIRS:
                    self.queue.append(DIRS[back])
        if "There is a staircase down here" in message or "There is a ladder down here" in message:
            mem.terrain[self._pos(obs)] = DOWNSTAIRS  # under an object, which hides it
        if TRAP_RE.search(message):
            mem.terrain[self._pos(obs)] = TRAP  # a trap under us, perhaps hidden by an object
        if "You are carrying too much to get through" in message or \
                "You try to move the boulder" in message or "Perhaps that's why" in message:
            if self.plan:
                mem.blocked[self.plan[0]] = 200

    # ------------------------------------------------------------------ interface states
    def _interface(self, obs, message: str) -> int | None:
        misc = obs.get("misc")
        tty = obs["tty_chars"]
        in_yn, in_getlin, waiting = (bool(misc[0]), bool(misc[1]), bool(misc[2])) \
            if misc is not None else (False, False, False)
        screen = tty.tobytes()
        # --More-- first: NetHack ignores other keys there (even while a text prompt is
        # pending behind it), and a queued key must wait until it is gone.
        more = MORE_RE.search(screen)
        menu = not more and MENU_END_RE.search(screen)
        if more or (waiting and not menu):
            return ENTER
        if self.queue and not (in_yn and self.queue[0] == LOOK):
            # (menu picks go to the open menu; a look at the engraving queued with an action
            # waits until that action's prompt is answered: ':' is no direction, no item)
            return self.queue.popleft()
        top = bytes(tty[0]).decode("latin-1")
        if "Showing known terrain only" in top:
            # the map without objects and monsters: a down staircase they hid
            mem = self._level(obs)
            for y in range(ROWS):
                for x in np.flatnonzero(tty[y + 1, :COLS] == ord(">")):
                    mem.terrain[y, int(x)] = DOWNSTAIRS
            return ESC
        if in_getlin:
            return self._getlin(top + " " + message)
        if in_yn:
            return self._yn(obs, top + " " + message)
        if menu:
            return self._menu(obs)
        return None

    def _getlin(self, prompt: str) -> int:
        if self.intent in ("engrave", "engrave_test") and (
                "write" in prompt or "engrave" in prompt or "burn" in prompt):
            tested, self.intent = self.intent == "engrave_test", None
            self.queue.extend(ord(c) for c in "lbereth")
            self.queue.append(ENTER)
            # With a finger, read what was written: the dust garbles each letter one time in
            # 25 (a quarter of all Elbereths), and a garbled one scares nobody. With a wand
            # tested, NetHack tells its kind after the writing (burnt by fire or lightning,
            # the Elbereth lasts).
            if not tested:
                self.queue.append(LOOK)
            return ord("E")
        if "who are you?" in prompt or "supply your name" in prompt:
            # A vault's guard: we came in by its teleport trap, and the vault has no way out
            # but the corridor the guard digs. Our own name (a lawful hero that lies loses
            # alignment; "Croesus" sends the guard off and leaves us walled in), then drop the
            # gold and follow it out (``_follow_guard``).
            self.strategy = "follow_guard"
            self.guard_steps = GUARD_STEPS
            self.queue.extend(ord(c) for c in "gent")
            self.queue.append(ENTER)
            return ord("A")
        return ESC  # never name things

    def _yn(self, obs, prompt: str) -> int:
        p = prompt.lower()
        if "really attack" in p:
            if self.last_move is not None:
                y, x = self._pos(obs)
                ty, tx = y + self.last_move[0], x + self.last_move[1]
                # the square may show no monster by now (it moved; "remembered, unseen")
                if 0 <= ty < ROWS and 0 <= tx < COLS and \
                        nh.glyph_is_monster(g := int(obs["glyphs"][ty, tx])):
                    self._level(obs).peaceful.add(g)
            return ESC
        if "eat it?" in p or "eat one?" in p:
            if self.intent == "eat_ground":
                self.intent = None
                m = CORPSE_RE.search(prompt)
                if m and self._edible(m.group(1)) and m.group(1) == self.intent_corpse:
                    return ord("y")
            smell = TIN_SMELL_RE.search(prompt) or self.tin_smell
            self.tin_smell = None
            if p.startswith(("eat it?", "it smells like")) and smell is not None:
                # a tin we opened: its meat, unless rotten or of a kind we never eat
                return ord("y") if not smell.group(1) and self._edible(smell.group(2)) else ord("n")
            return ord("n")
        for verb, intent in (("eat", "eat_inv"), ("wear", "wear"), ("throw", "throw"),
                             ("wield", "wield"), ("read", "read"), ("use or apply", "apply"),
                             ("drink", "quaff"), ("zap", "zap"), ("drop", "drop"),
                             ("take off", "takeoff")):
            if f"what do you want to {verb}" in p:  # the item the agent chose, else nothing
                letter = self.intent_letter if self.intent == intent else None
                self.intent, self.intent_letter = None, None
                return letter or ESC
        if "are you sure you want to pray" in p:
            return ord("y")
        if "write with" in p:
            if self.intent == "engrave_test":
                return self.intent_letter or ESC
            return ord("-") if self.intent == "engrave" else ESC
        if "add to the current engraving" in p:
            return ord("n")
        if "in what direction" in p:
            if self.pending_direction is not None:
                key, self.pending_direction = self.pending_direction, None
                return key
            return ESC
        if "still climb" in p:
            return ord("n")
        return ESC

    def _menu(self, obs) -> int:
        rows = [bytes(r).decode("latin-1") for r in obs["tty_chars"]]
        text = "\n".join(rows)
        if "View which?" in text:
            return ord("a")  # #terrain: the known map without monsters, objects and traps
        if "Current skills:" in text:
            self.enhance_tries = 0  # nothing (more) to advance
        if "Pick a skill to advance:" in text:
            # the first skill that may be advanced (then look again); it may be on a later page
            if any(MENU_ITEM_RE.search(row.rstrip()) for row in rows):
                return ord("a")
            self.enhance_pages += 1
            if self.enhance_pages <= 5:
                return ord(">")
            self.enhance_tries = 0
            return ESC
        if "Choose which spell to cast" in text:
            cast, self.intent = self.intent == "cast", None
            return ord("a") if cast else ESC  # a wizard's first spell is force bolt
        if "Drop what type of items" in text and self.intent == "drop_all":
            self.intent = None
            if "Auto-select every item" in text:
                self.queue.append(ENTER)
                return ord("A")
        if "Pick up what" in text and self.intent == "pickup":
            self.intent = None
            picks = []
            for row in rows:
                m = MENU_ITEM_RE.search(row.rstrip())
                if m and self._wanted(m.group(2)):
                    picks.append(ord(m.group(1)))
            self.dropped = set()
            if picks:
                self.queue.extend(picks[1:])
                self.queue.append(ENTER)
                return picks[0]
        return ESC

    def _worn_before(self, item: str) -> bool:
        return self._named(item, self.worn_before)

    @staticmethod
    def _named(item: str, names) -> bool:
        """Whether an inventory or menu line names one of ``names`` (item names without their
        count, article or state)."""
        return any(name in item for name in names)

    def _wanted(self, item: str) -> bool:
        if "for sale" in item:
            return False
        if self._named(item, self.discarded):
            return False  # taken off for a better piece
        if (self.weapon_name and self.weapon_name in item) or self._worn_before(item) or \
                self._named(item, self.dropped):
            return True  # the weapon or armor we dropped, the pack an animal's body dropped
        slot = safe_armor(item)
        if slot is not None:
            return slot in self.free_slots or self._better(slot, armor_ac(item),
                                                           metal_armor(item))
        item = item.lower()
        if self.missile_word and re.search(rf"\b{self.missile_word}s?\b", item):
            return True  # what we shot, back into the quiver
        if ("corpse" in item and "lichen corpse" not in item) or "tin" in item.split():
            return False  # (a lichen's never rots)
        food = ("food ration", "cram", "lembas", "fortune cookie", "apple", "orange", "banana",
                "melon", "carrot", "pear", "cream pie", "candy bar", "pancake", "tripe",
                "meatball", "egg", "slime mold", "kelp", "lichen corpse", "k-ration", "c-ration",
                "gold piece")
        return any(f in item for f in food)

    def _unstick(self) -> int:
        """The turn has not advanced for a while: drop any plan, escape, and move at random."""
        self.plan, self.queue, self.intent = [], deque(), None
        self.strategy = self.strategy or "explore"
        if self.stall % 3 == 1:
            return ESC
        if self.stall % 3 == 2:
            return SEARCH  # takes a turn (and finds hidden ways out)
        return DIRS[self._random_direction(self.last_obs)]

    def _random_direction(self, obs) -> tuple[int, int]:
        """A random direction that does not attack a monster we must never melee."""
        choices = list(NEIGHBOURS)
        if obs is not None:
            y, x = self._pos(obs)
            safe = []
            for dy, dx in choices:
                ty, tx = y + dy, x + dx
                if 0 <= ty < ROWS and 0 <= tx < COLS:
                    g = int(obs["glyphs"][ty, tx])
                    if GCLASS[g] == G_MONSTER and \
                            MONSTER_NAMES[nh.glyph_to_mon(g)] in NEVER_MELEE:
                        # Boxed in for very long with hit points to spare: a mold's passive
                        # damage is survivable; a floating eye's paralysis may not be.
                        bl = obs["blstats"]
                        if not (self.same_pos > 1000 and "mold" in MONSTER_NAMES[
                                nh.glyph_to_mon(g)] and int(bl[nh.NLE_BL_HP]) > 30 and
                                int(bl[nh.NLE_BL_HP]) * 5 >= int(bl[nh.NLE_BL_HPMAX]) * 4):
                            continue
                    if GCLASS[g] == G_PET:
                        continue
                safe.append((dy, dx))
            choices = safe or choices
        return choices[int(self.rng.integers(len(choices)))]

    # ------------------------------------------------------------------ memory
    def _level(self, obs) -> LevelMemory:
        bl = obs["blstats"]
        key = (int(bl[nh.NLE_BL_DNUM]), int(bl[nh.NLE_BL_DLEVEL]))
        if key != self.kills_level:  # kills are cells of one level: forget the last level's
            if self.kills_level is not None:
                self.kills = {}
            self.kills_level = key
        mem = self.levels.get(key)
        if mem is None:
            mem = self.levels[key] = LevelMemory()
            self.plan = []
            self.search_spot = None
        return mem

    @staticmethod
    def _pos(obs) -> tuple[int, int]:
        bl = obs["blstats"]
        return int(bl[nh.NLE_BL_Y]), int(bl[nh.NLE_BL_X])

    def _update(self, obs, mem: LevelMemory) -> None:
        glyphs = obs["glyphs"]
        kinds = GKIND[glyphs]
        seen = kinds >= 0
        mem.terrain[seen] = kinds[seen]
        # Objects, monsters and boulders hide the floor: at least it is not unexplored rock.
        covered = (GCLASS[glyphs] == G_OBJECT) | (GCLASS[glyphs] == G_MONSTER) | \
                  (GCLASS[glyphs] == G_PET)
        mem.terrain[covered & (mem.terrain == UNKNOWN)] = FLOOR
        y, x = self._pos(obs)
        if mem.terrain[y, x] == UNKNOWN:
            mem.terrain[y, x] = FLOOR
        mem.visited[y, x] += 1
        # Molds never move: one seen in a dark corridor stands there still when out of sight
        # (planning through it there, and around it here, walked to and fro for thousands of
        # turns). It is forgotten when a square next to us shows no monster there.
        for cell in [c for c in mem.molds if max(abs(c[0] - y), abs(c[1] - x)) <= 1]:
            if GCLASS[glyphs[cell]] != G_MONSTER:
                del mem.molds[cell]
        for a, b in np.argwhere(GCLASS[glyphs] == G_MONSTER):
            g = int(glyphs[a, b])
            if MONSTER_NAMES[nh.glyph_to_mon(g)].endswith(" mold"):
                mem.molds[(int(a), int(b))] = g
        # A corpse where a monster stood a step ago is fresh (our kill or the pet's); one that
        # merely comes into view may be old, and rotten.
        bodies = IS_BODY[glyphs]
        if mem.last_glyphs is not None:
            turn = int(obs["blstats"][nh.NLE_BL_TIME])
            was_monster = GCLASS[mem.last_glyphs] == G_MONSTER
            for a, b in np.argwhere(bodies & was_monster):
                cell = (int(a), int(b))
                mon = int(glyphs[a, b]) - nh.GLYPH_BODY_OFF
                # the same species: not a monster walking off an old corpse, unless one of
                # its kind stands within two squares now (a hill orc of a band stepping off
                # the old corpse of another)
                if cell not in self.kills and \
                        nh.glyph_to_mon(int(mem.last_glyphs[a, b])) == mon and \
                        not (glyphs[max(0, a - 2):a + 3, max(0, b - 2):b + 3] ==
                             mem.last_glyphs[a, b]).any():
                    self.kills[cell] = (MONSTER_NAMES[mon], turn)
        mem.last_glyphs = glyphs.copy()
        mem.downstairs = None
        for a, b in np.argwhere(mem.terrain == DOWNSTAIRS):
            if (int(a), int(b)) not in mem.avoid or mem.steps > 4 * self.level_budget:
                mem.downstairs = (int(a), int(b))
                break
        for cell in list(mem.blocked):
            mem.blocked[cell] -= 1
            if mem.blocked[cell] <= 0:
                del mem.blocked[cell]

    # ------------------------------------------------------------------ the game
    def _play(self, obs, message: str) -> int:
        bl = obs["blstats"]
        mem = self._level(obs)
        mem.steps += 1
        self._update(obs, mem)
        self.wand_testing = self.zapping = None  # (their messages came before this step)
        pos = self._pos(obs)
        glyphs = obs["glyphs"]
        hp, hpmax = int(bl[nh.NLE_BL_HP]), max(1, int(bl[nh.NLE_BL_HPMAX]))
        turn = int(bl[nh.NLE_BL_TIME])
        hunger = int(bl[nh.NLE_BL_HUNGER])  # 0 satiated, 1 not hungry, 2 hungry, 3 weak, 4-5 faint
        cond = int(bl[nh.NLE_BL_CONDITION])
        # A prayer that failed ("You feel that Mitra is displeased", "Thou art arrogant") angered
        # the god for good (only a sacrifice appeases it): every later prayer fails and angers it
        # more (lost levels, curses, lightning).
        # About to die (hit points below 1/7 or 6, or weak from hunger: "major trouble"), a god
        # listens when the prayer timeout is below 200. A prayer sets it to rnz(350), at most
        # 700 seven times in eight: 500 turns later a prayer is likely safe (one that comes too
        # soon fails and leaves the god angry for good, see above).
        listens = not self.god_angry and turn >= self.naughty_until
        can_pray_major = turn > 110 and turn - self.last_pray_turn > self.major_prayer_gap \
            and listens
        hostiles = self._adjacent_hostiles(glyphs, pos, mem)
        hurt_now = self.last_hp is not None and hp < self.last_hp
        if hurt_now:
            self.blows.append((turn, self.last_hp - hp))
        while self.blows and turn - self.blows[0][0] > 3:
            self.blows.popleft()
        # Burst: two more blows like the worst of the last 3 turns would kill us.
        burst = bool(self.blows) and hp <= 2 * max(b for _, b in self.blows)
        if self.took_stairs is not None:
            from_key, way = self.took_stairs
            self.took_stairs = None
            if from_key != self._level_key(obs):
                if way == DOWN and mem.terrain[pos] in (UNKNOWN, FLOOR):
                    mem.terrain[pos] = UPSTAIRS  # we stand on the staircase we came down by
            elif way == UP:
                self.no_climb_until = turn + 100  # the climb failed (a heavy load, a trap)
        self.last_hp = hp
        # Swung at on an Elbereth, hit or not: a blow may have rubbed a letter out; read it.
        swung_at, self.swung_at = self.swung_at, False

        # Moved since last step? A move that did nothing blocks its target for a while.
        if self.last_move is not None and self.last_pos == pos and self.plan and not hostiles \
                and self.plan[0] not in mem.locked:
            mem.blocked[self.plan[0]] = 30
            self.plan = []
        self.same_pos = self.same_pos + 1 if pos == self.last_pos else 0
        self.last_pos = pos
        self.last_move = None
        if self.same_pos > 300 and self.same_pos % 50 < 10 and not (
                hostiles and self.elbereth_at == (self._level_key(obs), pos)):
            # 2. Stuck in one place for long (a niche behind a monster we avoid, a shop door):
            # step or attack in random directions for a few turns; not from an Elbereth we
            # rest on with monsters beside it (a blow rubs it out, and a crowd comes in).
            self.strategy = "explore"
            return self._attack(self._random_direction(obs), "explore")

        if self.enhance_tries > 0:  # a skill may be advanced: at once, even in a fight
            self.strategy = "explore"  # (no game time)
            return self._enhance()

        # 3. arrived in the Gnomish Mines (hordes of armed gnomes and dwarves, hostile unless we
        # are one of them): go back up and look for the main dungeon's other staircase.
        if int(bl[nh.NLE_BL_DNUM]) == 2 and not self.mines_ok and self.descended_from and \
                self.descended_from[0][0] == 0 and mem.steps < 5:  # just came down the stairs
            parent_key, stairs = self.descended_from
            parent = self.levels.get(parent_key[:2])
            self.descended_from = None
            if parent is not None and parent.steps < 4 * self.level_budget:
                parent.avoid.add(stairs)
                self.strategy = "explore"
                return UP

        # 4. an animal's body collapsed under our pack (see _read_message): drop it all
        if self.drop_all:
            self.drop_all = False
            self.dropped = {AFTER_NAME_RE.sub("", name) for _, _, name in self._items(obs)}
            self.gear_at = (self._level_key(obs), pos)
            self.intent = "drop_all"
            self.strategy = "emergency"
            return DROP_MANY

        # engulfed
        y, x = pos
        if any(GCLASS[glyphs[y + dy, x + dx]] == G_SWALLOW for dy, dx in NEIGHBOURS
               if 0 <= y + dy < ROWS and 0 <= x + dx < COLS):
            return self._attack((-1, 0), "engulfed_fight")

        # 5. emergencies
        # Food poisoning and illness kill within some 20 turns, stoning, sliming and strangling
        # sooner: a prayer that may come too soon is better than none (each is "major trouble",
        # like lycanthropy, which is not deadly at once, but turns us into a rat or a jackal
        # that drops its weapon and armor and collapses under its load).
        deadly = turn > 110 and turn - self.last_pray_turn > 50 and listens
        # (lycanthropy turns us only some 80 turns later on average: while the were that bit
        # us, or what it summoned, is near, a prayer would be spent on a bite that comes again)
        if (cond & (nh.BL_MASK_FOODPOIS | nh.BL_MASK_TERMILL) and deadly) or \
                (self.lycanthropy and can_pray_major and (
                    self.were_form or not self._near_hostiles(glyphs, pos, mem, radius=6))):
            return self._pray(turn, "cure_disease")
        if cond & (nh.BL_MASK_STONE | nh.BL_MASK_SLIME | nh.BL_MASK_STRNGL) and deadly:
            return self._pray(turn, "emergency")
        low = hp <= 5 or hp * 7 <= hpmax
        # Low with nobody within 6 squares and not weak: rest on Elbereth rather than pray (the
        # prayer is the food of most heroes: one spent on hit points that rest would bring
        # back leaves the next hunger with none), and pray once a hostile comes near.
        if low and can_pray_major and not (
                hunger < 3 and not self.handless and not hostiles and
                mem.terrain[pos] in (FLOOR, DOORWAY) and
                not self._near_hostiles(glyphs, pos, mem, radius=6)):
            return self._pray(turn, "emergency")
        if low and hurt_now and turn > 110 and listens and \
                turn - self.last_pray_turn > self.desperate_prayer_gap:
            # At death's door and still being hit, whatever we do: a prayer that may come too
            # soon beats the next blow (300 turns after the last, the timeout of rnz(350) is
            # below 200 about two times in three).
            return self._pray(turn, "emergency")
        if low:  # no prayer now: a potion known to heal (a Healer's, a Tourist's)
            potion = self._find_item(obs, HEALING_RE)
            if potion is not None:
                self.intent, self.intent_letter = "quaff", potion[0]
                self.strategy = "emergency"
                return QUAFF
        if low and hostiles and not can_pray_major and not self.handless:
            key = self._last_resort(obs, hostiles, known_only=True)  # a wand we know
            if key is not None:
                return key
        food = self._food_letter(obs) if hunger >= 3 else None
        fainting_prayer = hunger >= 4 and turn - self.last_pray_turn > 250 and listens
        if hunger >= 3 and ((not food and (can_pray_major or fainting_prayer)) or
                            (food and hostiles and can_pray_major)):
            # (fainting: death is near, so a prayer that may come too soon is worth it; weak
            # with food but a hostile beside us: a meal takes turns of free blows, while a
            # prayer that is heard shields us as we pray)
            return self._pray(turn, "emergency")
        if self.healer and hp * 2 < hpmax and int(bl[nh.NLE_BL_ENE]) >= 5 and \
                turn >= self.no_shoot_until:
            # A Healer's first spell heals (6d4): cast it on ourselves.
            self.intent, self.pending_direction = "cast", ord(".")
            self.strategy = "emergency" if hostiles else "wait_out"
            return ord("Z")
        crowd = len(hostiles) >= self.elbereth_crowd and hp * 100 < hpmax * 70
        pressed = hp * 100 < hpmax * self.elbereth_percent or crowd or burst
        if (pressed or low) and hostiles:
            # An up staircase at hand: climb it. Only stalkers follow (zombies, soldiers,
            # demons, trolls; no rothe, ant, bat, jackal, were or orc), and only from beside us.
            key = self._retreat_up(obs, mem, pos, hostiles, turn)
            if key is not None:
                return key
        if pressed and hostiles:
            here = (self._level_key(obs), pos)
            # (in a form without hands, no Elbereth can be written: as if it did not hold)
            scary = self._ignore_elbereth(hostiles) or self.handless
            if not scary and self.elbereth_at not in (here, (here, "broken")):
                # Engrave Elbereth in the dust: most monsters will not melee us on it.
                self.strategy = "emergency"
                return self._engrave(here, turn)
            if hurt_now and self.elbereth_at == here:
                # Hit on it: it wore off (the dust does, now and then) or the monster does not
                # respect it (a blind one). Write it anew a few times, then take it that it
                # does not hold here and fight.
                self.elbereth_renewed += 1
                if not scary and self.elbereth_renewed <= self.elbereth_renewals:
                    self.strategy = "emergency"
                    return self._engrave(here, turn, renewal=True)
                self._elbereth_failed(here)  # fight from here on
            if not scary and self.elbereth_at == here:
                self.strategy = "emergency"
                return self._reread(turn, swung_at) or SEARCH  # rest on it while it holds
            if low and not can_pray_major and not self.handless:
                # about to die: try what we have not identified
                key = self._last_resort(obs, hostiles, known_only=False)
                if key is not None:
                    return key
            # Elbereth does not hold (or cannot): fight back below.
        if self.guard_steps > 0:
            key = self._follow_guard(obs, mem, pos)
            if key is not None:
                return key
        if cond & (nh.BL_MASK_CONF | nh.BL_MASK_STUN) and not hostiles:
            # Confused (rotten food) or stunned, a step may go astray: into the pet (killing it
            # costs 15 alignment, and no prayer is heard below 0) or a peaceful. Wait it out.
            self.strategy = "wait_out"
            return SEARCH
        # 6. hunger (a fresh safe corpse is eaten whenever we are not satiated)
        corpse = self.kills.get(pos)
        max_age = CORPSE_AGE_HUNGRY if hunger >= 2 else CORPSE_AGE
        # (not with a hostile in sight: one corpse in 7 tastes rotten, and may knock us out)
        if 1 <= hunger and corpse and self._edible(corpse[0]) and turn - corpse[1] < max_age \
                and not self._near_hostiles(glyphs, pos, mem, radius=6):
            del self.kills[pos]
            self.intent, self.intent_corpse = "eat_ground", corpse[0]
            self.strategy = "ground_eat"
            return EAT
        letter = self._food_letter(obs) if hunger >= 2 and turn >= self.no_eat_until else None
        if letter is None and hunger >= 3 and turn >= self.no_eat_until:
            # weak and no prayer now: an egg (a cockatrice's is rare) or a tin (its smell says
            # what is in it) rather than faint and starve
            letter = self._food_letter(obs, last_resort=True)
        if letter and (hunger >= 4 or not hostiles):
            # (not with a hostile adjacent before we faint: a meal takes turns of free blows,
            # and food over 30 turns old tastes rotten one time in 7, and may knock us out)
            self.intent, self.intent_letter = "eat_inv", letter
            self.strategy = "inventory_eat"
            return EAT
        if hunger >= 1 + (not self.eat_ahead) and not hostiles:
            # Eat ahead of hunger: a fresh corpse of what we killed is the food there is most of
            # (many heroes carry none), and prayer is better kept for hit points.
            target = self._fresh_corpse(pos, turn, max_age, radius=10 if hunger >= 2 else 6)
            if target and mem.terrain[target] != TRAP:
                key = self._go(obs, mem, {target}, "corpse")
                if key is not None:
                    self.strategy = "ground_eat"
                    return key
        # 7. fight: shoot at what comes in line (missiles, a wizard's force bolt), else melee;
        # not while resting on Elbereth: what comes by flees, and an attack would rub it out
        here = (self._level_key(obs), pos)
        # Resting costs food: not once fainting, nor while weak when no prayer will feed us (a
        # failed one angered the god): then look for food. Weak, the prayer comes (at 500 turns
        # from the last, or 250 once fainting) and finds us rested.
        can_rest = hunger < 3 or (hunger == 3 and listens)
        if self.resting and self.elbereth_at == here and can_rest and \
                not self._ignore_elbereth(hostiles):
            if not hurt_now:
                self.strategy = "wait_out"
                return self._reread(turn, swung_at, every=30) or SEARCH
        if self.elbereth_at == here and hurt_now:  # hit on it: it does not hold here
            self._elbereth_failed(here)
        # Standing on an Elbereth that holds, an attack on what respects it (a blow, a missile,
        # a spell) rubs it out and costs 5 points of alignment ("You feel like a hypocrite"; a
        # god does not listen below 0): rest on it while hurt, else walk on.
        on_elbereth = self.elbereth_at == here
        key = self._zap_attack(obs, mem, pos, hostiles, hp, hpmax, turn) \
            if not on_elbereth else None
        if key is None and not on_elbereth:
            key = self._shoot(obs, mem, pos, hostiles, turn)
        if key is not None:
            self.fight_waits = 0
            return key
        targets = self._ignore_elbereth(hostiles) if on_elbereth else hostiles
        if targets:
            self.fight_waits = 0
            # a were first: while it lives it calls rats or jackals to it
            were = [d for d, g in targets if GCLASS[g] == G_MONSTER and
                    MONSTER_NAMES[nh.glyph_to_mon(g)].startswith("were")]
            return self._attack((were or [targets[0][0]])[0], "fight")
        if hostiles and hp * 10 < hpmax * 9:
            self.strategy = "wait_out"
            return SEARCH
        if self.same_pos > 60:  # boxed in by a monster we must not melee: throw things at it
            key = self._throw_at_blocker(obs, pos)
            if key is not None:
                return key
            if self.same_pos > 400 and mem.steps > self.level_budget:
                # nothing left to throw, it does not go away, and we are stuck on this level:
                # the one whose blows cost least first (a yellow mold before a gas spore)
                boxes = [(PASSIVE_WORST[name], d) for d in NEIGHBOURS
                         if 0 <= pos[0] + d[0] < ROWS and 0 <= pos[1] + d[1] < COLS and
                         (name := self._blocker_name(int(glyphs[pos[0] + d[0], pos[1] + d[1]])))]
                for _, d in sorted(boxes):
                    key = self._melee_blocker(obs, mem, pos, d)
                    if key is not None:
                        return key
        near = self._near_hostiles(glyphs, pos, mem, radius=2)
        if near and hp * 2 >= hpmax and self.fight_waits < 6:
            self.fight_waits += 1
            self.strategy = "fight"
            return SEARCH
        if not near:
            self.fight_waits = 0
        # 8. rest when hurt
        if hp * 10 < hpmax * 6:
            self.resting = True
        elif hp * 10 >= hpmax * 9:
            self.resting = False
        if self.resting and can_rest:
            self.strategy = "wait_out"
            key = self._rest_upstairs(obs, mem, pos)
            if key is not None:
                return key
            here = (self._level_key(obs), pos)
            if self.elbereth_at not in (here, (here, "broken")) and not self.handless and \
                    mem.terrain[pos] in (FLOOR, DOORWAY, UPSTAIRS):
                # Rest on Elbereth: most monsters that come by will not melee us there.
                return self._engrave(here, turn)
            self.queue.extend((ord("0"), SEARCH))
            return ord("2")
        # 9. explore, pick up, descend, search (and put on armor picked up)
        self.strategy = "explore"
        key = None
        if not near and not self.polymorphed:
            # (an upgrade before putting on what is free: a cloak taken off for the body armor
            # under it goes on again only once that is done)
            calm = hp * 2 >= hpmax and not self._near_hostiles(glyphs, pos, mem, radius=6)
            key = (self._upgrade(obs) if calm else None) or self._wear(obs) or \
                self._wield(obs) or self._rewield(obs) or self._fetch_gear(obs, mem, pos)
        if key is None and not near and hp * 2 >= hpmax and \
                not cond & (nh.BL_MASK_BLIND | nh.BL_MASK_HALLU | nh.BL_MASK_LEV |
                            nh.BL_MASK_CONF | nh.BL_MASK_STUN) and \
                not self._near_hostiles(glyphs, pos, mem, radius=6):
            key = self._engrave_test(obs, mem, pos) or self._zap_self(obs)
        if key is not None:
            return key
        return self._explore(obs, mem, pos, message)

    def _engrave(self, here, turn: int, renewal: bool = False) -> int:
        """Write Elbereth in the dust where we stand (``here``: level and square); ``_getlin``
        types the text and then looks at what was written."""
        if not renewal:
            self.elbereth_at, self.elbereth_renewed = here, 0
        self.elbereth_read = turn
        self.intent = "engrave"
        return ENGRAVE

    def _reread(self, turn: int, swung_at: bool, every: int | None = None) -> int | None:
        """Read the Elbereth we stand on (``:``, no game time) when something swung at us since
        we last read it (a blow may rub a letter out), or, resting, ``every`` turns (the dust
        wears off); one that reads wrong is written anew (``_read_message``)."""
        if (swung_at and turn != self.elbereth_read) or \
                (every is not None and turn - self.elbereth_read >= every):
            self.elbereth_read = turn
            return LOOK
        return None

    def _elbereth_failed(self, here) -> None:
        """Hit on our Elbereth: take it that it does not hold here, and read it (no game time):
        one that reads wrong by now was worn off, not ignored, and is written anew when
        needed."""
        self.elbereth_at = (here, "broken")
        self.queue.append(LOOK)

    def _enhance(self) -> int | None:
        """A skill may be advanced: open NetHack's #enhance menu (no game time; ``_menu``
        picks the first skill it offers), again until it offers none or the tries run out."""
        if self.enhance_tries <= 0:
            return None
        self.enhance_tries -= 1
        self.enhance_pages = 0
        self.queue.extend(ord(c) for c in "enhance")
        self.queue.append(ENTER)
        return ord("#")

    def _retreat_up(self, obs, mem: LevelMemory, pos, hostiles, turn: int) -> int | None:
        """Hurt in a fight: climb an up staircase we stand on, or walk to one up to
        ``retreat_reach_holds`` steps away (``retreat_reach`` where Elbereth does not hold: what
        is beside us ignores it, or it failed here). Never from the first level (that way out
        ends the game)."""
        if turn < self.no_climb_until:
            return None
        key = self._level_key(obs)
        ups = self._upstairs(obs, mem)
        if pos in ups:
            self.plan = []
            self.took_stairs = (key, UP)
            self.strategy = "emergency"
            return UP
        holds = not self._ignore_elbereth(hostiles) and \
            self.elbereth_at != ((key, pos), "broken")
        reach = self.retreat_reach_holds if holds else self.retreat_reach
        # What is slower than we are (a rothe, an orc, a dwarf: speed 9 or less against our 12,
        # unburdened) only follows: a monster that steps up to us has no blow left that move.
        # Outrun it to an up staircase farther away.
        if int(obs["blstats"][nh.NLE_BL_CAP]) == 0 and all(
                GCLASS[g] == G_MONSTER and
                nh.permonst(nh.glyph_to_mon(g)).mmove < NORMAL_SPEED for _, g in hostiles):
            reach = max(reach, self.outrun_reach)
        near = {c for c in ups if max(abs(c[0] - pos[0]), abs(c[1] - pos[1])) <= reach}
        if not near:
            return None
        step = self._go(obs, mem, near, "retreat")
        if step is not None and len(self.plan) <= reach:
            self.strategy = "emergency"
            return step
        self.plan = []
        return None

    def _upstairs(self, obs, mem: LevelMemory) -> set:
        """The up staircases known on the level (seen, or the one we came down by) that lead
        to a level above: none on the first level, whose staircase leaves the game."""
        if self._level_key(obs)[:2] == (0, 1):
            return set()
        return {(int(a), int(b)) for a, b in np.argwhere(mem.terrain == UPSTAIRS)}

    def _rest_upstairs(self, obs, mem: LevelMemory, pos) -> int | None:
        """Hurt, with nobody near: walk to a known up staircase at most ``rest_reach`` steps
        away and rest there (on Elbereth), so that what comes while we are weak finds us on the
        way out (``_retreat_up``). Not on the first level (its up staircase leaves the game)."""
        if self._near_hostiles(obs["glyphs"], pos, mem, radius=6):
            return None
        ups = self._upstairs(obs, mem)
        if not ups or pos in ups:
            return None
        step = self._go(obs, mem, ups, "rest_stairs")
        if step is not None and len(self.plan) <= self.rest_reach:
            return step
        self.plan = []
        return None

    def _level_key(self, obs):
        bl = obs["blstats"]
        return (int(bl[nh.NLE_BL_DNUM]), int(bl[nh.NLE_BL_DLEVEL]), 0)

    def _pray(self, turn: int, strategy: str) -> int:
        self.prev_pray_turn, self.last_pray_turn = self.last_pray_turn, turn
        self.strategy = strategy
        return PRAY

    def _attack(self, direction, strategy: str) -> int:
        self.strategy = strategy
        self.last_move = direction
        self.plan = []
        return DIRS[direction]

    @staticmethod
    def _ignore_elbereth(hostiles) -> list:
        """The adjacent hostiles that Elbereth does not scare: humans, angels, minotaurs."""
        return [h for h in hostiles if GCLASS[h[1]] == G_MONSTER and (
            MONSTER_CLASS[nh.glyph_to_mon(h[1])] in (ord("@"), ord("A"))
            or "minotaur" in MONSTER_NAMES[nh.glyph_to_mon(h[1])])]

    def _adjacent_hostiles(self, glyphs, pos, mem):
        y, x = pos
        out = []
        for d in NEIGHBOURS:
            ty, tx = y + d[0], x + d[1]
            if not (0 <= ty < ROWS and 0 <= tx < COLS):
                continue
            g = int(glyphs[ty, tx])
            c = GCLASS[g]
            if c == G_INVISIBLE:
                out.append((d, g))
            elif c == G_MONSTER and g not in mem.peaceful:
                mon = MONSTER_NAMES[nh.glyph_to_mon(g)]
                if mon in NEVER_MELEE:
                    continue
                # (attacks, unlike moves, may go diagonally through a doorway)
                out.append((d, g))
        return out

    def _near_hostiles(self, glyphs, pos, mem, radius):
        y, x = pos
        y0, y1, x0, x1 = max(0, y - radius), min(ROWS, y + radius + 1), max(0, x - radius), \
            min(COLS, x + radius + 1)
        window = glyphs[y0:y1, x0:x1]
        mask = GCLASS[window] == G_MONSTER
        mask[y - y0, x - x0] = False  # the player's own glyph is a monster glyph
        for g in window[mask]:
            g = int(g)
            if g in mem.peaceful:
                continue
            mon = nh.glyph_to_mon(g)
            if MONSTER_NAMES[mon] in NEVER_MELEE or MONSTER_CLASS[mon] == ord("F"):
                continue
            return True
        return False

    def _update_slots(self, obs) -> list[tuple[int, str, str]]:
        """Work out the free armor slots; return the unworn safe pieces (letter, text, slot)."""
        worn, spare, two_handed, cloak = set(), [], False, False
        self.worn_pieces, self.worn_ac = {}, {}
        for letter, cls, desc in self._items(obs):
            if "weapons in hands" in desc:
                two_handed = True
            if cls != nh.ARMOR_CLASS:
                continue
            if "(being worn)" in desc:
                slot = armor_slot(desc)
                worn.add(slot or "body")
                self.worn_pieces[slot or "body"] = (letter, desc)
                ac = armor_ac(desc)
                self.worn_ac[slot or "body"] = 99 if ac is None else ac
                cloak |= slot == "cloak"
                self.worn_before.add(ARTICLE_RE.sub("", desc.replace(" (being worn)", "")))
            else:
                slot = safe_armor(desc) or (armor_slot(desc) or "body" if self._worn_before(desc)
                                            else None)
                if slot is not None:
                    spare.append((letter, desc, slot))
        free = {"helm", "body", "cloak", "shield", "boots"} - worn
        if "gloves" not in worn and any(slot == "gloves" for _, _, slot in spare):
            free.add("gloves")  # ours, dropped (we never pick up gloves of unknown make)
        if cloak:
            free.discard("body")  # body armor goes under the cloak
        if two_handed:
            free.discard("shield")
        if self.monk:
            free -= {"body", "shield"}  # martial arts suffer in body armor
        self.free_slots = free
        return spare

    def _wear(self, obs) -> int | None:
        """Put on a safe armor piece from the inventory whose slot is free (once per piece):
        the best first, and body armor before a cloak (it goes under it)."""
        spare = sorted(self._update_slots(obs),
                       key=lambda s: (s[2] == "cloak", -(armor_ac(s[1]) or 0)))
        for letter, desc, slot in spare:
            if slot in self.free_slots and desc not in self.wear_tried:
                self.wear_tried.add(desc)
                self.intent, self.intent_letter = "wear", letter
                return ord("W")
        return None

    def _better(self, slot: str | None, ac: int | None, metal: bool = False) -> bool:
        """Would a piece of this slot and base armor class be better than the one worn there?
        (Body armor or a helm; not metal body armor for a Wizard, whose spells it hinders; no
        body armor for a Monk.)"""
        if slot not in UPGRADE_SLOTS or ac is None or slot in self.stuck_slots:
            return False
        if slot == "body" and (self.monk or (self.wizard and metal)):
            return False
        return ac > self.worn_ac.get(slot, 0)

    def _upgrade(self, obs) -> int | None:
        """A better body armor or helm in the pack than the one worn (``_better``): take the
        worn one off (a cloak first, which goes back on over the new body armor; ``_wear``
        puts the pieces on), and drop a piece taken off for a better one (``explore``)."""
        self.taking_off = None
        spare = self._update_slots(obs)
        better, worn = [], self.worn_pieces
        for letter, desc, slot in spare:
            ac = armor_ac(desc)
            if slot in UPGRADE_SLOTS and ac is not None:
                if self._better(slot, ac, metal_armor(desc)):
                    if desc not in self.wear_tried:  # (one that would not go on: not again)
                        better.append(slot)
                elif self._worn_before(desc) and slot in worn:
                    # taken off for a better one: drop it (and never pick it up again)
                    self.discarded.add(ARTICLE_RE.sub("", desc))
                    self.intent, self.intent_letter = "drop", letter
                    return ord("d")
        for slot in better:
            self.taking_off = "cloak" if slot == "body" and "cloak" in worn else slot
            if self.taking_off not in worn:
                self.taking_off = None
                continue  # the slot is free: ``_wear`` puts the piece on
            letter, desc = worn[self.taking_off]
            self.wear_tried.discard(desc.replace(" (being worn)", ""))  # it goes on again
            self.intent, self.intent_letter = "takeoff", letter
            return ord("T")
        return None

    # ------------------------------------------------------------------ tools
    @staticmethod
    def _find_item(obs, pattern: re.Pattern) -> tuple[int, str] | None:
        """(letter, description) of the first inventory item that ``pattern`` matches."""
        for letter, _, desc in SymbolicAgent._items(obs):
            if pattern.search(desc):
                return letter, desc
        return None

    @staticmethod
    def _items(obs, oclass: int | None = None):
        """The inventory's (letter, object class, description), of one class when given."""
        for letter, cls, text in zip(obs["inv_letters"], obs["inv_oclasses"], obs["inv_strs"]):
            if letter == 0:
                break
            if oclass is None or int(cls) == oclass:
                yield int(letter), int(cls), bytes(text).split(b"\0", 1)[0].decode("latin-1")

    def _last_resort(self, obs, hostiles, known_only: bool) -> int | None:
        """About to die, no prayer: zap a wand known to stop a monster at the first adjacent
        hostile, or one of digging down (a hole to the level below); unless ``known_only``,
        also each unidentified wand once, then each unidentified potion once
        (``emergency``)."""
        mem = self._level(obs)
        target = self._zap_target(mem, hostiles)
        stairs = mem.terrain[self._pos(obs)] in (DOWNSTAIRS, UPSTAIRS)
        for letter, desc, kind in self._wands(obs):
            if kind == "digging" and int(obs["blstats"][nh.NLE_BL_DNUM]) == 0 and not stairs:
                # (not on a staircase: the beam bounces off it and brings a rock down on us)
                direction = DOWN
            elif target is not None and (kind in ATTACK_WANDS or (
                    kind in (None, "vanishing") and not known_only
                    and desc not in self.tried_items)):
                direction = DIRS[target]
            else:
                continue
            self.tried_items.add(desc)
            self.strategy = "emergency"
            return self._zap(letter, desc, direction)
        if known_only:
            return None
        for letter, _, desc in self._items(obs, nh.POTION_CLASS):
            if " of " not in desc and "clear" not in desc and desc not in self.tried_items:
                self.tried_items.add(desc)
                self.intent, self.intent_letter = "quaff", letter
                self.strategy = "emergency"
                return QUAFF
        return None

    def _wand_kind(self, desc: str) -> str | None:
        """A wand's kind: its name once identified, else what engrave-testing told (None:
        untested, or it said nothing)."""
        known = WAND_RE.search(desc)
        if known:
            return known.group(1)
        look = WAND_LOOK_RE.search(desc)
        return self.wand_kinds.get(look.group(1)) if look else None

    def _wands(self, obs):
        """(letter, description, kind) of each wand not known to be empty."""
        for letter, _, desc in self._items(obs, nh.WAND_CLASS):
            if not EMPTY_WAND_RE.search(desc) and desc not in self.spent_wands:
                yield letter, desc, self._wand_kind(desc)

    def _zap(self, letter: int, desc: str, direction: int) -> int:
        self.intent, self.intent_letter = "zap", letter
        self.pending_direction = direction
        self.zapping = desc
        self.plan = []
        return ord("z")

    def _engrave_test(self, obs, mem: LevelMemory, pos) -> int | None:
        """Engrave with each unidentified wand once (on the floor, nobody near): the message
        tells its kind (``explore``); then write Elbereth with it."""
        if mem.terrain[pos] != FLOOR:
            return None
        for letter, desc, kind in self._wands(obs):
            look = WAND_LOOK_RE.search(desc)
            if kind is None and look and look.group(1) not in self.wand_kinds:
                self.wand_kinds[look.group(1)] = None  # tested (None: it said nothing)
                self.wand_testing = look.group(1)
                self.intent, self.intent_letter = "engrave_test", letter
                return ENGRAVE
        return None

    def _zap_self(self, obs) -> int | None:
        """A wand of speed monster zapped at ourselves makes us fast for good (once)."""
        if self.hasted:
            return None
        for letter, desc, kind in self._wands(obs):
            if kind == "speed monster":
                self.hasted = True
                return self._zap(letter, desc, ord("."))
        return None

    def _zap_attack(self, obs, mem: LevelMemory, pos, hostiles, hp: int, hpmax: int,
                    turn: int):
        """Zap a wand known to hurt or stop a monster (striking, sleep, magic missile, fire,
        cold, lightning, death, slow monster) at an adjacent hostile when it is worth a charge:
        below half our hit points, two or more adjacent below 80%, a hard one (difficulty
        WAND_DIFFICULTY or more) once we are hurt, or a thief (a nymph, a leprechaun). A ray
        only down a line clear for RAY_CLEAR squares (it bounces back off walls); never at a
        monster that resists it, nor one we put to sleep or slowed a moment ago (WAND_LASTS).
        ``fight``."""
        if not hostiles:
            return None
        hard = any(GCLASS[g] == G_MONSTER and
                   nh.permonst(nh.glyph_to_mon(g)).difficulty >= WAND_DIFFICULTY
                   for _, g in hostiles)
        # a nymph steals our armor, a leprechaun our gold (the score), and both teleport off
        thief = any(GCLASS[g] == G_MONSTER and MONSTER_CLASS[nh.glyph_to_mon(g)] in THIEVES
                    for _, g in hostiles)
        if not (hp * 2 < hpmax or (len(hostiles) >= 2 and hp * 10 < hpmax * 8)
                or (hard and hp * 10 < hpmax * 9) or thief):
            return None
        for letter, desc, kind in self._wands(obs):
            if kind not in ATTACK_WANDS or kind == "teleportation":
                continue
            for d, g in hostiles:
                if GCLASS[g] != G_MONSTER or not self._shootable(g, mem, 1) or \
                        nh.permonst(nh.glyph_to_mon(g)).mresists & WAND_RESISTED.get(kind, 0) or \
                        turn - self.zapped_at.get((g, kind), -10**6) < WAND_LASTS.get(kind, 0):
                    continue
                if kind in RAY_WANDS and not self._ray_clear(obs, mem, pos, d):
                    continue
                self.zapped_at[(g, kind)] = turn
                self.strategy = "fight"
                return self._zap(letter, desc, DIRS[d])
        return None

    @staticmethod
    def _ray_clear(obs, mem: LevelMemory, pos, d) -> bool:
        """Is the line from ``pos`` in direction ``d`` open for RAY_CLEAR squares (known floor,
        no pet), so that a ray does not bounce back at us?"""
        for k in range(1, RAY_CLEAR + 1):
            cell = (pos[0] + d[0] * k, pos[1] + d[1] * k)
            if not (0 <= cell[0] < ROWS and 0 <= cell[1] < COLS) or \
                    mem.terrain[cell] not in PASSABLE or \
                    (d[0] and d[1] and mem.terrain[cell] in DOORS) or \
                    GCLASS[obs["glyphs"][cell]] == G_PET:
                return False
        return True

    def _zap_target(self, mem: LevelMemory, hostiles):
        """The direction of the first adjacent hostile we may zap at: never what may be
        peaceful (a shopkeeper, a watchman, our kin in the Mines) or an unseen one."""
        for d, g in hostiles:
            if GCLASS[g] == G_MONSTER and self._shootable(g, mem, 1):
                return d
        return None

    def _wield(self, obs) -> int | None:
        """An Archeologist's bullwhip is a poor weapon: take the pick-axe in hand (once)."""
        if self.wield_tried:
            return None
        self.wield_tried = True
        whip = self._find_item(obs, re.compile(r"bullwhip \(weapon in hand"))
        pick = self._find_item(obs, PICK_RE)
        if whip is None or pick is None or "(weapon in hand" in pick[1]:
            return None
        self.intent, self.intent_letter = "wield", pick[0]
        return ord("w")

    def _follow_guard(self, obs, mem: LevelMemory, pos) -> int | None:
        """A vault's guard asked us to drop the gold and follow it: drop it, then keep next to
        the guard (it digs on only while we are), stepping with ``m`` (no autopickup: gold
        picked up again makes it attack) until it is gone (``follow_guard``)."""
        self.guard_steps -= 1
        if int(obs["blstats"][nh.NLE_BL_GOLD]) > 0:
            self.strategy = "follow_guard"
            self.intent, self.intent_letter = "drop", ord("$")
            return ord("d")
        glyphs = obs["glyphs"]
        guards = [(int(a), int(b)) for a, b in np.argwhere(GCLASS[glyphs] == G_MONSTER)
                  if MONSTER_NAMES[nh.glyph_to_mon(int(glyphs[a, b]))] == "guard"]
        if not guards:
            self.guard_steps = min(self.guard_steps, 5)  # gone, or out of sight a moment
            return None
        self.strategy = "follow_guard"
        guard = min(guards, key=lambda c: max(abs(c[0] - pos[0]), abs(c[1] - pos[1])))
        if max(abs(guard[0] - pos[0]), abs(guard[1] - pos[1])) <= 1:
            return SEARCH  # it moves on while we are beside it
        goals = {(guard[0] + dy, guard[1] + dx) for dy, dx in NEIGHBOURS}
        key = self._go(obs, mem, goals, "guard")
        if key is None:
            return SEARCH
        self.queue.append(key)
        return ord("m")

    def _rewield(self, obs) -> int | None:
        """Remember what we have in hand; with nothing in hand, take it back in hand once it
        is in the inventory again (dropped when we turned into an animal)."""
        wielded = self._find_item(obs, WIELDED_RE)
        if wielded is not None:
            self.weapon_name = WIELDED_RE.search(wielded[1]).group(1)
            return None
        if self.weapon_name is None:
            return None
        found = self._find_item(obs, re.compile(re.escape(self.weapon_name)))
        if found is None:
            return None
        self.intent, self.intent_letter = "wield", found[0]
        self.weapon_name = None  # one try: it is in hand now, or cannot be
        return ord("w")

    def _fetch_gear(self, obs, mem: LevelMemory, pos) -> int | None:
        """Walk back to where our armor and weapon fell off and pick them up (once)."""
        if self.gear_at is None or self.gear_at[0] != self._level_key(obs):
            self.gear_at = None
            return None
        spot = self.gear_at[1]
        if pos == spot:
            self.gear_at = None
            mem.item_tried.add(pos)
            self.intent = "pickup"
            return PICKUP
        key = self._go(obs, mem, {spot}, "gear")
        if key is None:
            self.gear_at = None
        return key

    def _read_mapping(self, obs, mem: LevelMemory) -> int | None:
        """Read a scroll of magic mapping (a Tourist has some) once on a level whose way down
        we cannot find."""
        if mem.mapped:
            return None
        scroll = self._find_item(obs, re.compile(r"scrolls? of magic mapping"))
        if scroll is None:
            return None
        mem.mapped = True
        self.intent, self.intent_letter = "read", scroll[0]
        return ord("r")

    def _dig_down(self, obs, mem: LevelMemory, pos) -> int | None:
        """Dig through the floor with a pick-axe (an Archeologist's or a Dwarf's) where we
        stand, not in a shop or on stairs; each apply digs on (a pit first, then a hole)."""
        if mem.no_dig or mem.terrain[pos] != FLOOR or int(obs["blstats"][nh.NLE_BL_DNUM]) != 0:
            return None
        pick = self._find_item(obs, PICK_RE)
        if pick is None:
            return None
        self.intent, self.intent_letter = "apply", pick[0]
        self.pending_direction = DOWN
        self.plan = []
        return APPLY

    # ------------------------------------------------------------------ ranged attacks
    def _ranged(self, obs) -> tuple[int, int | None, bool] | None:
        """How we can shoot now: (key, item letter or None, worth it at point blank), or None.

        ``f`` fires the quiver: arrows from a wielded bow, darts, daggers and the like (a
        Ranger's, a Samurai's or a Tourist's start); ``t`` throws a spare stack of daggers,
        knives or darts (a Rogue's); ``Z`` casts a wizard's force bolt while Pw lasts. At point
        blank only when melee is weaker: a bow in hand, bare hands, or the spell."""
        bl = obs["blstats"]
        if self.wizard and int(bl[nh.NLE_BL_ENE]) >= 5:
            self.missile_word = None
            return ord("Z"), None, True
        wielded, quiver, stack, alternate = "", None, None, ""
        for letter, cls, desc in self._items(obs):
            if "(weapon in hand" in desc or "(wielded" in desc:
                wielded = desc
                continue
            if "(alternate weapon" in desc:
                alternate = desc
            if cls == nh.WEAPON_CLASS:
                missile = MISSILE_RE.search(desc)
                if missile is None:
                    continue
                if "(in quiver" in desc or "(at the ready)" in desc:
                    quiver = missile.group(1)
                elif MISSILE_COUNT_RE.match(desc) and missile.group(1) in THROWN:
                    stack = (letter, missile.group(1))
        launcher = any(w in wielded for w in ("bow", "yumi", "sling"))
        if quiver in ("arrow", "ya") and not launcher and "bow" in alternate and \
                "crossbow" not in alternate and not self.swapped:
            self.swapped = True  # a Ranger starts with the dagger in hand, the bow at hand
            return ord("x"), None, True
        if quiver is not None and (quiver not in AMMO or launcher) and \
                not (quiver == "crossbow bolt") ^ ("crossbow" in wielded):
            self.missile_word = quiver
            return ord("f"), None, launcher or not wielded
        if stack is not None:
            self.missile_word = stack[1]
            return ord("t"), stack[0], not wielded
        self.missile_word = None
        return None

    def _shoot(self, obs, mem: LevelMemory, pos, hostiles, turn) -> int | None:
        """Shoot (fire, throw or cast) at the nearest hostile monster in a straight line within
        range when we can; else None. Never at what may be peaceful (humans, elves, unicorns,
        angels, our own race in the Mines) or at a pet's side of the line."""
        if turn < self.no_shoot_until:
            return None
        ranged = self._ranged(obs)
        if ranged is None:
            return None
        key, letter, point_blank = ranged
        if key == ord("x"):  # take the bow in hand before the first shot
            self.strategy = "fight"
            return key
        if hostiles and not point_blank:
            return None
        target = self._line_target(obs, mem, pos, 1 if hostiles else SHOOT_RANGE)
        if target is None:
            return None
        d, dist = target
        self.pending_direction = DIRS[d]
        self.strategy = "fight"
        self.plan = []
        if key == ord("Z"):
            self.intent = "cast"
        else:
            if letter is not None:
                self.intent, self.intent_letter = "throw", letter
            # the missiles land on the way or beyond the target: look there afterwards
            y, x = pos
            for k in range(1, SHOOT_RANGE + 3):
                cell = (y + d[0] * k, x + d[1] * k)
                if not (0 <= cell[0] < ROWS and 0 <= cell[1] < COLS) or \
                        mem.terrain[cell] not in PASSABLE:
                    break
                mem.missile_spots.add(cell)
        return key

    def _line_target(self, obs, mem: LevelMemory, pos, reach: int):
        """(direction, distance) of the nearest monster worth shooting in one of the eight
        lines within ``reach`` squares, with nothing in between, else None."""
        glyphs = obs["glyphs"]
        best = None
        for d in NEIGHBOURS:
            diagonal = d[0] and d[1]
            prev_door = diagonal and mem.terrain[pos] in DOORS
            for k in range(1, reach + 1):
                cell = (pos[0] + d[0] * k, pos[1] + d[1] * k)
                if not (0 <= cell[0] < ROWS and 0 <= cell[1] < COLS) or prev_door:
                    break
                t = mem.terrain[cell]
                if diagonal and t in DOORS:
                    break
                g = int(glyphs[cell])
                c = GCLASS[g]
                if c == G_MONSTER:
                    if self._shootable(g, mem, k) and (best is None or k < best[1]) and \
                            not self._pet_beyond(obs, mem, cell, d) and \
                            not self._spore_near_friend(glyphs, mem, cell):
                        best = (d, k)
                    break
                if c in (G_PET, G_BOULDER, G_INVISIBLE, G_SWALLOW) or t not in PASSABLE:
                    break
        return best

    def _spore_near_friend(self, glyphs, mem: LevelMemory, cell) -> bool:
        """Is ``cell`` a gas spore whose explosion would catch a pet or what may be peaceful
        (a shopkeeper caught in one gets angry)?"""
        if MONSTER_NAMES[nh.glyph_to_mon(int(glyphs[cell]))] != "gas spore":
            return False
        for dy, dx in NEIGHBOURS:
            y, x = cell[0] + dy, cell[1] + dx
            if not (0 <= y < ROWS and 0 <= x < COLS):
                continue
            g = int(glyphs[y, x])
            if GCLASS[g] == G_PET or GCLASS[g] == G_MONSTER and self._may_be_peaceful(g, mem):
                return True
        return False

    @staticmethod
    def _pet_beyond(obs, mem: LevelMemory, cell, d) -> bool:
        """Is a pet in the line of fire behind ``cell`` (where a miss flies on)?"""
        for k in range(1, SHOOT_RANGE):
            nxt = (cell[0] + d[0] * k, cell[1] + d[1] * k)
            if not (0 <= nxt[0] < ROWS and 0 <= nxt[1] < COLS) or \
                    mem.terrain[nxt] not in PASSABLE:
                return False
            if GCLASS[obs["glyphs"][nxt]] == G_PET:
                return True
        return False

    def _may_be_peaceful(self, g: int, mem: LevelMemory) -> bool:
        """A monster glyph that asked "Really attack?", or a kind that may be peaceful (humans
        and elves, angels, unicorns, our kin in the Mines, and each kind the game may make
        peaceful to us: of our alignment, or loved by our race; killing one from afar, where no
        "Really attack?" warns, costs 5 alignment and may cost Luck, after which no prayer is
        heard) unless one of it attacked us here."""
        if g in mem.peaceful:
            return True
        mon = nh.glyph_to_mon(g)
        cls = MONSTER_CLASS[mon]
        maybe = cls in NEVER_SHOOT or (bool(self.mines_ok) and cls in (ord("h"), ord("G"))) or \
            (self.alignment is not None and may_be_born_peaceful(mon, self.race, self.alignment))
        return maybe and MONSTER_NAMES[mon] not in mem.attackers

    def _shootable(self, g: int, mem: LevelMemory, dist: int) -> bool:
        if self._may_be_peaceful(g, mem):
            return False
        name = MONSTER_NAMES[nh.glyph_to_mon(g)]
        if name == "gas spore":
            return dist >= 3  # its explosion reaches two squares
        return name not in NEVER_MELEE or dist >= 2

    def _missile_pickup(self, obs, mem: LevelMemory, pos) -> int | None:
        """Walk to where our missiles fell and pick them up (nobody hostile near)."""
        if not mem.missile_spots:
            return None
        glyphs = obs["glyphs"]
        if pos in mem.missile_spots:
            mem.missile_spots.discard(pos)
            if self.missile_word:
                self.intent = "pickup"
                return PICKUP
        for cell in list(mem.missile_spots):
            c = GCLASS[glyphs[cell]]
            if c == G_TERRAIN and mem.terrain[cell] != UNKNOWN:
                mem.missile_spots.discard(cell)  # seen: nothing lies there
        if not mem.missile_spots or not self.missile_word:
            return None
        spots = {c for c in mem.missile_spots if GCLASS[glyphs[c]] == G_OBJECT}
        key = self._go(obs, mem, spots, "missiles") if spots else None
        if key is None:
            mem.missile_spots -= spots  # out of reach
        return key

    def _throw_at_blocker(self, obs, pos) -> int | None:
        """Throw a spare weapon or a stone at an adjacent floating eye or mold."""
        glyphs = obs["glyphs"]
        for d in NEIGHBOURS:
            ty, tx = pos[0] + d[0], pos[1] + d[1]
            if not (0 <= ty < ROWS and 0 <= tx < COLS):
                continue
            g = int(glyphs[ty, tx])
            if GCLASS[g] != G_MONSTER:
                continue
            name = MONSTER_NAMES[nh.glyph_to_mon(g)]
            if name not in NEVER_MELEE or name == "gas spore":  # a spore explodes next to us
                continue
            for letter, cls, desc in self._items(obs):
                if cls in (nh.WEAPON_CLASS, nh.GEM_CLASS) and "in hand" not in desc \
                        and "(wielded" not in desc:
                    self.intent, self.intent_letter = "throw", letter
                    self.pending_direction = DIRS[d]
                    self.strategy = "fight"
                    return ord("t")
        return None

    def _food_letter(self, obs, last_resort: bool = False) -> int | None:
        """An inventory letter of food: not corpses (lichens and lizards aside), nor, unless
        ``last_resort``, eggs and tins."""
        for letter, _, name in self._items(obs, nh.FOOD_CLASS):
            if "corpse" in name and "lichen" not in name and "lizard" not in name:
                continue
            if (" tin" in " " + name or "egg" in name) and not last_resort:
                continue
            return letter
        return None

    def _edible(self, monster: str) -> bool:
        return safe_corpse(monster, self.kin, self.lycanthropy)

    def _fresh_corpse(self, pos, turn, max_age=CORPSE_AGE, radius=6):
        best = None
        for cell, (mon, when) in list(self.kills.items()):
            if turn - when >= CORPSE_AGE_HUNGRY:
                del self.kills[cell]
                continue
            if self._edible(mon) and turn - when < max_age and \
                    max(abs(cell[0] - pos[0]), abs(cell[1] - pos[1])) <= radius:
                best = cell
        return best

    # ------------------------------------------------------------------ exploration
    def _explore(self, obs, mem: LevelMemory, pos, message: str) -> int:
        glyphs = obs["glyphs"]
        y, x = pos
        # Pick up food seen here (gold, scrolls, potions and wands are picked up automatically).
        if pos not in mem.item_tried and ("You see here" in message or
                                          "There are several objects here" in message or
                                          "Things that are here" in message):
            mem.item_tried.add(pos)
            if self._wanted(message) or "several objects" in message or "Things that" in message:
                if "for sale" not in message:
                    self.intent = "pickup"
                    return PICKUP
        if not self._near_hostiles(glyphs, pos, mem, radius=4):
            key = self._missile_pickup(obs, mem, pos)
            if key is not None:
                return key
        # A locked door we walked into: kick it open (it stays closed after 10 kicks).
        door = self.kick_target
        if door is not None and int(obs["blstats"][nh.NLE_BL_DNUM]) != 0:
            # Not in the Gnomish Mines: kicking Minetown's doors brings the watch.
            mem.blocked[door] = 10_000
            self.kick_target = door = None
        if door is not None:
            d = (door[0] - y, door[1] - x)
            kicks = mem.locked.get(door, 0)
            if mem.terrain[door] != DOOR_CLOSED or d not in DIRS or kicks >= 10:
                self.kick_target = None
                if kicks >= 10:
                    # Give it a rest, then kick again: the way on may lie behind it.
                    mem.blocked[door] = 300
                    mem.locked[door] = 0
            elif GCLASS[glyphs[door]] in (G_TERRAIN, G_OBJECT):  # nobody standing in it
                mem.locked[door] = kicks + 1
                self.pending_direction = DIRS[d]
                self.plan = []
                return KICK
        turn = int(obs["blstats"][nh.NLE_BL_TIME])
        if mem.first_turn is None:
            mem.first_turn = turn
        bl = obs["blstats"]
        depth = int(bl[nh.NLE_BL_DEPTH])
        level_ok = (depth < max(2, int(bl[nh.NLE_BL_XP]) + self.descend_margin) and
                    int(bl[nh.NLE_BL_HPMAX]) >= 6 * depth) or mem.steps > 4 * self.level_budget
        descend = mem.downstairs is not None and level_ok and (
            mem.steps > self.level_budget or turn - mem.first_turn > 2 * self.level_budget)
        # Continue the current plan when its next step is still valid.
        if self.plan and not descend:
            key = self._follow(obs, mem, pos)
            if key is not None:
                return key
        if pos == mem.downstairs and level_ok and (descend or not self._targets(obs, mem, pos)):
            hp, hpmax = int(obs["blstats"][nh.NLE_BL_HP]), int(obs["blstats"][nh.NLE_BL_HPMAX])
            if hp < hpmax:
                self.strategy = "wait_out"
                return SEARCH
            self.plan = []
            self.descended_from = (self._level_key(obs), pos)
            self.took_stairs = (self._level_key(obs), DOWN)
            return DOWN
        if not descend:
            targets = self._targets(obs, mem, pos)
            if targets:
                key = self._go(obs, mem, targets, "explore")
                if key is None:  # only behind boulders: push them
                    key = self._go(obs, mem, targets, "explore", boulders=True)
                if key is not None:
                    return key
        if mem.downstairs is not None and level_ok:
            key = self._go(obs, mem, {mem.downstairs}, "stairs")
            if key is not None:
                return key
        # The way on is blocked by a floating eye or a mold (in a corridor or a doorway):
        # deal with it rather than search for hidden passages that are not there.
        goals = self._targets(obs, mem, pos)
        if mem.downstairs is not None and level_ok:
            goals.add(mem.downstairs)
        if goals and mem.steps > self.level_budget:  # (stuck here for long)
            key = self._go(obs, mem, goals, "blocker", through=True)
            if key is not None:
                return key
        mem.blocker_waits = 0
        if mem.downstairs is None and mem.steps >= TERRAIN_AFTER and (
                mem.terrain_viewed is None or mem.steps - mem.terrain_viewed >= TERRAIN_EVERY):
            # Nothing left to explore and no way down: an object or a mold on the staircase
            # may hide it. NetHack's #terrain shows the map as we have seen it without objects,
            # monsters and traps (no game time; ``_interface`` reads it); again after a while.
            mem.terrain_viewed = mem.steps
            self.queue.extend(ord(c) for c in "terrain")
            self.queue.append(ENTER)
            return ord("#")
        if mem.steps > self.level_budget and level_ok:
            # No way down found for long: map the level, or dig through the floor.
            key = self._read_mapping(obs, mem) if mem.downstairs is None else None
            if key is None and mem.steps > 2 * self.level_budget:
                key = self._dig_down(obs, mem, pos)
            if key is not None:
                return key
        return self._search(obs, mem, pos)

    def _past_blocker(self, obs, mem: LevelMemory, path, goal) -> int | None:
        """A path to ``goal`` goes through a monster we must not melee: walk up to it, then
        throw things at it, wait for it to move away, and (when that fails for long, with hit
        points to spare and nobody else around) melee it all the same."""
        glyphs = self._path_glyphs(obs, mem)
        pos = self._pos(obs)
        stop = next((i for i, c in enumerate(path) if self._blocker_name(int(glyphs[c]))), None)
        if stop is None:
            return None
        if stop > 0:  # walk up to it
            self.plan, self.plan_goal, self.plan_kind = path[:stop], path[stop - 1], "blocker"
            self.plan_boulders = False
            return self._follow(obs, mem, pos)
        cell = path[0]
        d = (cell[0] - pos[0], cell[1] - pos[1])
        name = self._blocker_name(int(glyphs[cell]))
        self.plan = []
        mem.blocker_waits += 1
        if name != "gas spore":  # (a spore killed next to us explodes all the same)
            key = self._throw_at_blocker(obs, pos)
            if key is not None:
                return key
        if mem.blocker_waits > 200 and d in DIRS:
            key = self._melee_blocker(obs, mem, pos, d)
            if key is not None:
                return key
        self.strategy = "explore"
        return SEARCH  # wait: a floating eye or a gas spore drifts off in time

    def _melee_blocker(self, obs, mem: LevelMemory, pos, d) -> int | None:
        """Melee the floating eye, mold or gas spore in direction ``d`` that has kept us
        stuck for long, when we can afford it; else None."""
        glyphs = obs["glyphs"]
        name = self._blocker_name(int(glyphs[pos[0] + d[0], pos[1] + d[1]]))
        bl = obs["blstats"]
        hp, hpmax = int(bl[nh.NLE_BL_HP]), max(1, int(bl[nh.NLE_BL_HPMAX]))
        # The passive damage of a mold or jelly (a brown mold's cold, up to 24 a blow) or a
        # gas spore's explosion (4d6) needs hit points to spare (a yellow mold only stuns); a
        # floating eye's paralysis (up to 127 turns) is survivable only with nobody coming by:
        # it is the last thing tried, after eye_waits turns of waiting. Boxed in (not a step
        # taken) for as long as a floating eye is waited out, a blow that kills one time in 40
        # (a spore's 4d6 at 21 hit points) is better than starving in place (a gas spore and a
        # yellow mold held a Valkyrie of 23 hit points in a corridor for 4,000 turns).
        worst = PASSIVE_WORST.get(name, 24)
        sturdy = hp * 10 >= hpmax * 9 and (hp > worst + 2 or name == "floating eye" or
                                           (self.same_pos >= self.eye_waits and hp > worst - 4))
        if name == "floating eye" and max(mem.blocker_waits, self.same_pos) < self.eye_waits:
            return None
        # (a monster near that has not come for us in 400 turns will not: a peaceful one)
        if name and sturdy and (max(mem.blocker_waits, self.same_pos) > 400 or
                                not self._near_hostiles(glyphs, pos, mem, radius=6)):
            return self._attack(d, "fight")
        return None

    def _targets(self, obs, mem: LevelMemory, pos) -> set:
        """Frontier squares (passable, never visited, next to unexplored rock) and items."""
        terr = mem.terrain
        passable = np.isin(terr, (FLOOR, DOOR_OPEN, DOOR_CLOSED, DOORWAY))
        unknown = terr == UNKNOWN
        near_unknown = np.zeros_like(unknown)
        for dy, dx in NEIGHBOURS:
            shifted = np.zeros_like(unknown)
            ys = slice(max(0, dy), ROWS + min(0, dy))
            yd = slice(max(0, -dy), ROWS + min(0, -dy))
            xs = slice(max(0, dx), COLS + min(0, dx))
            xd = slice(max(0, -dx), COLS + min(0, -dx))
            shifted[yd, xd] = unknown[ys, xs]
            near_unknown |= shifted
        frontier = passable & near_unknown & (mem.visited == 0)
        glyphs = obs["glyphs"]
        cells = {(int(a), int(b)) for a, b in np.argwhere(frontier)}
        for a, b in np.argwhere((GCLASS[glyphs] == G_OBJECT) & (mem.visited == 0)):
            g = glyphs[a, b]
            if USEFUL_ITEM[g] or (ARMOR_ITEM[g] and self.free_slots) or \
                    (g in ARMOR_GLYPH_AC and self._better(*ARMOR_GLYPH_AC[g])):
                cells.add((int(a), int(b)))
        cells.discard(pos)
        return {c for c in cells if c not in mem.blocked}

    @staticmethod
    def _path_glyphs(obs, mem: LevelMemory) -> np.ndarray:
        """The map to plan paths on: what is shown, and the molds we remember out of sight."""
        glyphs = obs["glyphs"]
        if not mem.molds:
            return glyphs
        glyphs = glyphs.copy()
        for cell, g in mem.molds.items():
            if GCLASS[glyphs[cell]] != G_MONSTER:
                glyphs[cell] = g
        return glyphs

    def _passable(self, mem: LevelMemory, glyphs, cell, goal, boulders=False,
                  through=False) -> bool:
        if cell in mem.blocked:
            return False
        t = mem.terrain[cell]
        c = GCLASS[glyphs[cell]]
        if c == G_BOULDER:
            return boulders
        if t not in PASSABLE:
            return cell == goal and t == UNKNOWN
        if c == G_MONSTER:
            # walking into it would attack: fights are decided elsewhere (``through``: plan a
            # way past a monster we must not melee, to deal with it when we stand next to it)
            return through and self._blocker_name(int(glyphs[cell])) is not None
        return True

    @staticmethod
    def _blocker_name(g: int) -> str | None:
        """The name of a monster we must not melee (a floating eye, a mold), else None."""
        if GCLASS[g] != G_MONSTER:
            return None
        name = MONSTER_NAMES[nh.glyph_to_mon(g)]
        return name if name in NEVER_MELEE else None

    def _go(self, obs, mem: LevelMemory, goals: set, kind: str, boulders=False,
            through=False) -> int | None:
        """Breadth-first path to the nearest goal; returns the first key or None."""
        glyphs = self._path_glyphs(obs, mem)
        start = self._pos(obs)
        terr = mem.terrain
        prev = {start: None}
        frontier = deque([start])
        found = None
        while frontier:
            cur = frontier.popleft()
            if cur in goals:
                found = cur
                break
            cy, cx = cur
            cur_door = terr[cur] in DOORS
            for dy, dx in NEIGHBOURS:
                nxt = (cy + dy, cx + dx)
                if nxt in prev or not (0 <= nxt[0] < ROWS and 0 <= nxt[1] < COLS):
                    continue
                if dy and dx and (cur_door or terr[nxt] in DOORS):
                    continue
                if not self._passable(mem, glyphs, nxt, nxt if nxt in goals else None, boulders,
                                      through):
                    continue
                prev[nxt] = cur
                frontier.append(nxt)
        if found is None:
            return None
        path = []
        cur = found
        while cur != start:
            path.append(cur)
            cur = prev[cur]
        path.reverse()
        if through:
            return self._past_blocker(obs, mem, path, found)
        self.plan, self.plan_goal, self.plan_kind = path, found, kind
        self.plan_boulders = boulders
        return self._follow(obs, mem, start)

    def _follow(self, obs, mem: LevelMemory, pos) -> int | None:
        if not self.plan:
            return None
        nxt = self.plan[0]
        if nxt == pos:
            self.plan.pop(0)
            if not self.plan:
                return None
            nxt = self.plan[0]
        d = (nxt[0] - pos[0], nxt[1] - pos[1])
        if d not in DIRS or not self._passable(mem, self._path_glyphs(obs, mem), nxt,
                                               self.plan_goal, self.plan_boulders):
            self.plan = []
            return None
        if self.plan_kind == "explore" and self.plan_goal is not None and \
                mem.visited[self.plan_goal] > 0:
            self.plan = []
            return None
        self.plan_pos = nxt
        self.last_move = d
        return DIRS[d]

    def _search(self, obs, mem: LevelMemory, pos) -> int:
        """Nothing left to explore and no way down known: search for hidden passages."""
        if self.search_spot is not None and mem.searched[self.search_spot] >= 15:
            self.search_spot = None
        if self.search_spot is None:
            self.search_spot = self._search_spot(obs, mem, pos)
        spot = self.search_spot
        if spot is None or spot == pos:
            mem.searched[pos] += 5
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    cy, cx = pos[0] + dy, pos[1] + dx
                    if 0 <= cy < ROWS and 0 <= cx < COLS:
                        mem.searched[cy, cx] += 2
            self.queue.append(SEARCH)
            return ord("5")
        key = self._go(obs, mem, {spot}, "search")
        if key is not None:
            return key
        mem.search_skip[spot] = mem.steps + SEARCH_SKIP
        self.search_spot = None
        return DIRS[self._random_direction(obs)]

    def _search_spot(self, obs, mem: LevelMemory, pos):
        terr = mem.terrain
        unknown = (terr == UNKNOWN).astype(np.int32)
        # unknown cells within distance 2 of each square
        padded = np.pad(unknown, 2)
        count = np.zeros((ROWS, COLS), np.int32)
        for dy in range(5):
            for dx in range(5):
                count += padded[dy:dy + ROWS, dx:dx + COLS]
        passable = np.isin(terr, (FLOOR, DOORWAY, DOOR_OPEN))
        # Dead ends (one passable neighbour) are where hidden corridors go on.
        padded_p = np.pad(passable.astype(np.int32), 1)
        neighbours = sum(padded_p[1 + dy:1 + dy + ROWS, 1 + dx:1 + dx + COLS]
                         for dy, dx in NEIGHBOURS)
        count = count + 10 * (passable & (neighbours == 1))
        for cell in mem.blocked:
            passable[cell] = False
        for cell, until in list(mem.search_skip.items()):
            if until <= mem.steps:
                del mem.search_skip[cell]
            else:
                passable[cell] = False
        # Fewer searches so far, more unexplored rock around, closer: better.
        yy, xx = np.mgrid[0:ROWS, 0:COLS]
        dist = np.maximum(abs(yy - pos[0]), abs(xx - pos[1]))
        score = count / (1.0 + mem.searched) / (1.0 + dist / 20.0)
        score[~passable | (count == 0)] = -1
        best = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[best] <= 0:
            return None
        return (int(best[0]), int(best[1]))


class RandomAgent:
    """The baseline: a uniformly random action of NetHackChallenge's action set every step."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.strategy = None
        self.keys = [int(a) for a in nh.ACTIONS]

    def act(self, obs: dict) -> int:
        return self.keys[int(self.rng.integers(len(self.keys)))]


def make_agent(kind: str, rng: np.random.Generator):
    if kind == "symbolic":
        return SymbolicAgent(rng)
    if kind == "random":
        return RandomAgent(rng)
    raise ValueError(f"unknown agent {kind!r}")
