"""Environments: registry, text, progression metrics against hand-computed cases, Baba Is AI
rule by rule, bots and random agents."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.core.envs import ENVS, make_text_env, parse_env_list, resolve_task
from papertools.core.envs.babaisai import Level, Thing, generate, offset_text, solve
from papertools.core.errors import PapertoolsError


# -- registry ------------------------------------------------------------------------------------
def test_registry_names_and_errors():
    assert parse_env_list("babyai/goto,crafter") == [("babyai", "goto"), ("crafter", "default")]
    assert parse_env_list("babyai-crafter") == [(("babyai"), t) for t in ENVS["babyai"].tasks] + \
        [("crafter", "default")]
    assert resolve_task("babyai/BabyAI-MixedTrainLocal-v0/putnext") == ("babyai", "putnext")
    assert resolve_task("babaisai/goto_win") == ("babaisai", "env/goto_win")
    assert len(ENVS["babaisai"].tasks) == 40
    with pytest.raises(PapertoolsError, match="unknown environment 'chess'"):
        parse_env_list("chess")
    with pytest.raises(PapertoolsError, match="unknown babyai task 'fly'"):
        make_text_env("babyai/fly")


def test_invalid_action_is_rejected_by_step():
    env = make_text_env("babaisai/goto_win", seed=0)
    env.reset()
    assert env.check_action("  UP ") == "up"
    assert env.check_action("jump") is None
    with pytest.raises(ValueError):
        env.step("jump")


# -- BabyAI --------------------------------------------------------------------------------------
def test_babyai_text_from_view():
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = OBJECT_TO_IDX["empty"]
    image[3, 2] = (OBJECT_TO_IDX["wall"], 0, 0)  # 4 steps ahead
    image[1, 6] = (OBJECT_TO_IDX["wall"], 0, 0)  # 2 steps left
    image[2, 4] = (OBJECT_TO_IDX["ball"], COLOR_TO_IDX["red"], 0)
    image[5, 6] = (OBJECT_TO_IDX["door"], COLOR_TO_IDX["blue"], 2)
    from papertools.core.envs.babyai import describe

    assert describe(image) == [
        "a wall 4 steps forward", "a wall 2 steps left", "a locked blue door 2 steps right",
        "a red ball 1 step left and 2 steps forward"]


@pytest.mark.parametrize("task", ENVS["babyai"].tasks)
def test_babyai_bot_solves_every_family(task):
    for seed in (0, 1):
        env = make_text_env("babyai", task=task, seed=seed)
        env.reset()
        assert env.instruction().count(env.mission) == 1
        bot, done = env.bot(), False
        while not done:
            _, _, done, _ = env.step(bot.act())
        assert env.progression == 1.0
        env.reset()
        assert env.progression == 0.0


def test_babyai_random_stays_low():
    import random

    scores = []
    for seed in range(4):
        env = make_text_env("babyai/putnext", seed=seed)
        env.reset()
        rng, done = random.Random(seed), False
        while not done:
            _, _, done, _ = env.step(rng.choice(env.actions))
        scores.append(env.progression)
    assert sum(scores) / len(scores) <= 0.5


# -- Crafter -------------------------------------------------------------------------------------
def test_crafter_progression_and_text():
    from papertools.core.envs.crafter import direction_text, progression

    assert progression({"collect_wood": 3, "place_table": 1, "eat_cow": 0}) == 2 / 22
    assert direction_text(-2, -1) == "3 steps to your north-west"
    assert direction_text(1, 0) == "1 step to your east"
    env = make_text_env("crafter", seed=5, max_steps=5)
    obs = env.reset()
    assert "You face" in obs.text and "- health: 9/9" in obs.text
    done, n = False, 0
    while not done:
        _, _, done, info = env.step("Noop")
        n += 1
    assert n == 5 and info["truncated"]
    assert env.progression * 22 == round(env.progression * 22)  # a multiple of 1/22


# -- TextWorld -----------------------------------------------------------------------------------
def test_textworld_progression_formula():
    from papertools.core.envs.textworld import progression

    assert progression(3, 10, False) == 0.3  # partial credit: score / max_score
    assert progression(3, 10, True) == 1.0  # a win is 1.0 whatever the score
    assert progression(0, 0, False) == 0.0


def test_textworld_generated_offline_and_scored(tmp_path):
    env = make_text_env("textworld/coin_collector", seed=0, games=1, cache=str(tmp_path))
    obs = env.reset()
    assert (tmp_path / "coin_collector" / "game_000.z8").exists()
    assert obs.text and "coin" in env.instruction()
    assert env.progression == 0.0 and "look" in [a.lower() for a in env.actions]
    # Follow the objective's directions: the generator's walkthrough is in its text.
    import re

    moves = re.findall(r"\b(north|south|east|west)\b", env.objective)
    done = False
    for direction in moves:
        _, _, done, _ = env.step(f"go {direction}")
    if not done:
        _, reward, done, _ = env.step("take coin")
    assert done and env.progression == 1.0  # max(score/max_score, won) = 1 on a win
    assert env.stats()["won"] is True


# -- NetHack and MiniHack ------------------------------------------------------------------------
def test_nle_milestone_progression_hand_computed():
    from nle import nethack

    from papertools.core.envs.nle import milestones, milestone_value, \
        progression_from_blstats
    from papertools.core.envs.nle_achievements import ACHIEVEMENTS

    assert len(ACHIEVEMENTS) == 87 and ACHIEVEMENTS["Dlvl:1"] == 0.0
    assert ACHIEVEMENTS["Dlvl:5"] == pytest.approx(0.0265, abs=1e-4)
    assert ACHIEVEMENTS["Xp:2"] == pytest.approx(0.0185, abs=1e-4)
    blstats = np.zeros(nethack.NLE_BLSTATS_SIZE, dtype=np.int64)
    blstats[nethack.NLE_BL_DEPTH], blstats[nethack.NLE_BL_XP] = 5, 2
    p = progression_from_blstats(blstats)
    assert p == ACHIEVEMENTS["Dlvl:5"]  # max(Dlvl:5, Xp:2)
    blstats[nethack.NLE_BL_DEPTH] = 1  # going back up never lowers it
    assert progression_from_blstats(blstats, p) == p
    assert milestone_value(milestones(1, 1, "Astral Plane", "")) == ACHIEVEMENTS["Astral Plane"]
    assert milestone_value(milestones(1, 1, "", "You ascend to the status of Demigod")) == 1.0


def test_nle_env_text_and_reset():
    env = make_text_env("nle", seed=1, max_steps=3)
    obs = env.reset()
    assert "statistics[" in obs.text and "map[" in obs.text and obs.short.startswith("inventory[")
    assert env.default_action == "esc" and "far east" in env.actions
    assert "obs_blocks" in obs.extra
    env.progression = 0.5
    env.reset()
    assert env.progression == 0.0  # reset between episodes (BALROG #31)
    env.close()


def test_minihack_success_is_reward_one():
    env = make_text_env("minihack/MiniHack-Corridor-R3-v0", seed=0)
    env.reset()
    real = env.env

    class Stub:  # the next step reaches the goal
        unwrapped = real.unwrapped

        def step(self, index):
            obs, _, term, trunc, info = real.step(index)
            return obs, 1.0, True, trunc, info

    env.env = Stub()
    _, reward, done, _ = env.step("north")
    assert done and reward == 1.0 and env.progression == 1.0
    env.env = real
    env.close()


# -- Baba Is AI, rule by rule --------------------------------------------------------------------
def rule(noun, prop, x, y, vertical=False):
    dx, dy = (0, 1) if vertical else (1, 0)
    return [Thing("word", x, y, noun), Thing("word", x + dx, y + dy, "is"),
            Thing("word", x + 2 * dx, y + 2 * dy, prop)]


def baba_at(level):
    return next((t.x, t.y) for t in level.things if t.kind == "baba")


def test_baba_is_you_moves_baba():
    level = Level(rule("baba", "you", 0, 0) + [Thing("baba", 2, 3)], 6, 6)
    assert level.rules == {("baba", "you")}
    assert level.move("right") == "" and baba_at(level) == (3, 3)
    assert level.move("up") == "" and baba_at(level) == (3, 2)


def test_border_blocks():
    level = Level(rule("baba", "you", 0, 0) + [Thing("baba", 5, 3)], 6, 6)
    level.move("right")
    assert baba_at(level) == (5, 3)


def test_breaking_you_loses():
    level = Level(rule("baba", "you", 1, 1) + [Thing("baba", 2, 2)], 6, 6)
    assert level.move("up") == "lose"  # pushes "is" up out of line
    assert ("baba", "you") not in level.rules


def test_win_on_overlap_and_vertical_rules():
    level = Level(rule("baba", "you", 0, 0) + rule("ball", "win", 5, 0, vertical=True)
                  + [Thing("baba", 1, 4), Thing("ball", 2, 4)], 6, 6)
    assert ("ball", "win") in level.rules
    assert level.move("right") == "win"


def test_stop_blocks_and_breaking_stop_frees():
    things = rule("baba", "you", 0, 0) + rule("wall", "stop", 0, 2) + \
        [Thing("baba", 1, 4), Thing("wall", 2, 4)]
    level = Level(things, 6, 6)
    level.move("right")
    assert baba_at(level) == (1, 4)  # blocked
    level2 = Level([t for t in things if t.word != "stop"], 6, 6)
    level2.move("right")
    assert baba_at(level2) == (2, 4)  # no stop rule: walls are passable


def test_words_push_in_chains_and_form_rules():
    things = rule("baba", "you", 0, 0) + [Thing("word", 2, 3, "key"), Thing("word", 4, 3, "is"),
                                          Thing("word", 5, 3, "win"), Thing("baba", 1, 3)]
    level = Level(things, 7, 6)
    assert ("key", "win") not in level.rules
    level.move("right")  # key -> (3, 3): key is win
    assert ("key", "win") in level.rules
    level.move("right")  # pushes key, is, win: win hits... (6,3) still inside
    assert [t.x for t in level.things if t.kind == "word" and t.y == 3] == [4, 5, 6]
    level.move("right")  # the line is against the border: nothing moves
    assert baba_at(level) == (3, 3)


def test_push_property_and_make_you():
    things = rule("baba", "you", 0, 0) + rule("ball", "push", 0, 1) + \
        [Thing("baba", 1, 4), Thing("ball", 2, 4)]
    level = Level(things, 6, 6)
    level.move("right")
    assert baba_at(level) == (2, 4) and (3, 4) in [(t.x, t.y) for t in level.things
                                                     if t.kind == "ball"]
    both = Level(rule("baba", "you", 0, 0) + rule("key", "you", 0, 1) +
                 [Thing("baba", 1, 4), Thing("key", 4, 4)], 6, 6)
    both.move("left")
    assert baba_at(both) == (0, 4) and [(t.x, t.y) for t in both.things if t.kind == "key"] == \
        [(3, 4)]


def test_you_and_win_at_once_wins():
    level = Level(rule("baba", "you", 0, 0) + rule("baba", "win", 0, 2) + [Thing("baba", 4, 4)],
                  6, 6)
    assert level.move("idle") == "win"


def test_baba_text():
    assert offset_text(2, -1) == "2 steps to the right and 1 step up"
    level = Level(rule("baba", "you", 0, 0) + [Thing("baba", 1, 2), Thing("door", 3, 2)], 6, 6)
    text = level.describe()
    assert text.startswith("Active rules:\nbaba is you\n")
    assert "rule `you` 1 step to the right and 2 steps up" in text
    assert "door 2 steps to the right" in text


@pytest.mark.parametrize("task", ENVS["babaisai"].tasks)
def test_every_task_generates_with_baba_is_you(task):
    level = generate(task, seed=3)
    assert ("baba", "you") in level.rules and level.outcome() == ""
    flags = set(task.removeprefix("env/").split("-"))
    if ("make_win" in flags or "make_wall_win" in flags) and "distr_win_rule" not in flags:
        assert not any(prop == "win" for _, prop in level.rules)  # the win rule is to be made
    if "break_stop" in flags:
        assert ("wall", "stop") in level.rules


def test_every_task_is_solved_by_the_planner_bot():
    """Each of the 40 tasks' levels (seed 0) is solvable: the planner's plan, played in the
    environment, wins."""
    for task in ENVS["babaisai"].tasks:
        env = make_text_env("babaisai", task=task, seed=0)
        env.reset()
        bot, done = env.bot(), False
        while not done:
            _, _, done, _ = env.step(bot.act())
        assert env.progression == 1.0, task


def test_planner_search_collapses_walking():
    level = Level(rule("baba", "you", 0, 0) + rule("key", "win", 0, 8) +
                  [Thing("baba", 0, 4), Thing("key", 9, 4)], 10, 10)
    assert solve(level) == ["right"] * 9  # a walk, found without expanding every square
    blocked = Level(rule("baba", "you", 0, 0) + [Thing("baba", 0, 4)], 10, 10)
    assert solve(blocked, max_states=500) is None  # no win rule can be made


def test_boxoban_levels_generated_offline(tmp_path, monkeypatch):
    import random

    from papertools.core.envs.boxoban import generate_level, levels_dir

    level = None
    rng = random.Random(1)
    while level is None:
        level = generate_level(rng, 26, 300)
    text = "".join(level)
    assert len(level) == 10 and all(len(row) == 10 for row in level)
    assert text.count("$") == 4 and text.count(".") == 4 and text.count("@") == 1
    assert level[0] == "#" * 10 and level[-1] == "#" * 10
    assert all(row[0] == "#" and row[-1] == "#" for row in level)
    monkeypatch.setenv("PAPERTOOLS_CACHE", str(tmp_path))
    root = levels_dir(count=3)
    hard = (root / "hard" / "000.txt").read_text()
    assert hard.startswith("; 0\n") and hard.count(";") == 3
    env = make_text_env("minihack/MiniHack-Boxoban-Hard-v0", seed=2)
    obs = env.reset()
    assert env.actions == ["north", "east", "south", "west"]
    map_rows = obs.text.split("map[\n", 1)[1]
    assert map_rows.count("`") == 4 and map_rows.count("{") == 4  # boulders, fountains
    again = make_text_env("minihack/MiniHack-Boxoban-Hard-v0", seed=2)
    assert again.reset().text == obs.text  # the level is a function of the seed
    bot, done = env.bot(), False  # the level's own solution, played in MiniHack, wins
    while not done:
        _, _, done, _ = env.step(bot.act())
    assert env.progression == 1.0 and env.steps <= 95
    env.close()
    again.close()


def test_nle_symbolic_bot_plays_valid_actions():
    env = make_text_env("nle", seed=2, max_steps=300)
    env.reset()
    bot, done, steps = env.bot(), False, 0
    while not done:
        word = bot.act()
        assert env.check_action(word) == word
        _, _, done, _ = env.step(word)
        steps += 1
    assert steps == 300 and env.progression >= 0.0
    assert "Dlvl:1" in env.stats()["milestones"]
    env.close()


def test_crafter_episodes_reproduce_at_a_seed():
    """Crafter's chunk sets iterate by memory address; the env makes episodes reproducible."""
    import random

    def play():
        env = make_text_env("crafter", seed=1097, max_steps=400)
        texts = [env.reset().text]
        rng, done = random.Random(0), False
        while not done:
            obs, _, done, _ = env.step(rng.choice(env.actions))
            texts.append(obs.text)
        return texts

    first = play()
    import gc

    junk = [object() for _ in range(10_000)]  # shift the heap between the two runs
    gc.collect()
    assert play() == first
    del junk
