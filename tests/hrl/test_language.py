"""Subgoals as language: describe() on real bot rollouts, the phrasings, corruption."""

import random
import re

import pytest

from papertools.cli.hrl import language
from papertools.cli.hrl.demos import bot_episode, play, DemoJob
from papertools.core.envs import make_env
from papertools.core.envs.babyai import Bot


def _rollout(level, seed):
    """(canonical subgoal, the env's front cell, what is carried) at every step of a bot episode."""
    env = make_env(f"babyai/{level}")
    env.reset(seed=seed)
    bot, out, done = Bot(env), [], False
    while not done:
        action = bot.act()
        plan = bot.subgoals()
        front = env.grid.get(*env.front_pos)
        out.append((language.describe(env, plan), plan[-1]["kind"], front, env.carrying))
        _, _, term, trunc, _ = env.step(action)
        done = term or trunc
    env.close()
    return out


@pytest.mark.parametrize("level", ["UnlockPickup", "KeyCorridorS3R3"])
def test_describe_names_the_env_objects(level):
    kinds = set()
    for seed in range(3):
        for canonical, bot_kind, front, carrying in _rollout(level, seed):
            assert canonical in language.CANONICAL
            kind, color, obj = language.parse(canonical)
            kinds.add(kind)
            if bot_kind == "Open":
                assert (front.type, front.color) == ("door", color) and kind == "open"
            if bot_kind == "Pickup":
                assert (front.type, front.color) == (obj, color) and kind == "pick up"
            if bot_kind == "Drop":
                assert (carrying.type, carrying.color) == (obj, color) and kind == "drop"
    assert {"go to", "open", "pick up", "drop"} <= kinds


def test_go_to_names_the_object_the_bot_reaches():
    steps = _rollout("UnlockPickup", 0)
    for (canonical, _, _, _), (after, _, front, _) in zip(steps, steps[1:]):
        if canonical.startswith("go to") and after != canonical:  # the segment ended: there
            assert f"go to the {front.color} {front.type}" == canonical


def test_vocabulary_and_phrasings():
    assert language.KINDS == ("go to", "open", "pick up", "drop", "explore")
    assert len(set(language.CANONICAL)) == len(language.CANONICAL)
    assert "open the yellow door" in language.CANONICAL
    assert "pick up the red door" not in language.CANONICAL  # only doors open; none carried
    for canonical in language.CANONICAL:
        train = language.phrasings(canonical)
        held = language.phrasings(canonical, held_out=True)
        assert len(train) >= 4 and len(set(train)) == len(train)
        assert len(held) == 1 and held[0] not in train
        assert set(train + held) <= set(language.PHRASES)
    assert language.phrasings("open the yellow door")[0] == "open the yellow door"
    assert len(set(language.PHRASES)) == len(language.PHRASES)
    words = set(language.words())
    assert all(set(re.findall(r"[a-z]+", p)) <= words for p in language.PHRASES)


def test_held_out_templates_never_in_demonstrations():
    held = {language.phrasings(c, held_out=True)[0] for c in language.CANONICAL}
    for i in range(6):
        record, _ = play(DemoJob("babyai/UnlockPickup", i, seed=5))
        for segment in record["segments"]:
            assert segment["phrase"] not in held
            assert segment["phrase"] in language.phrasings(segment["subgoal"])


def test_corrupt_changes_the_label():
    rng = random.Random(0)
    mistakes = set()
    for canonical in language.CANONICAL * 3:
        wrong = language.corrupt(canonical, rng)
        assert wrong in language.CANONICAL and wrong != canonical
        k0, c0, o0 = language.parse(canonical)
        k1, c1, o1 = language.parse(wrong)
        if k0 != "explore":
            assert [k0 != k1, c0 != c1, o0 != o1].count(True) == 1
            mistakes.add(("verb", "colour", "object")[[k0 != k1, c0 != c1, o0 != o1].index(True)])
    assert mistakes == {"verb", "colour", "object"}


def test_bot_episode_labels_every_step():
    ep = bot_episode("babyai/Synth", 1)
    assert ep["success"] and len(ep["subgoals"]) == len(ep["actions"])
    assert all(s in language.CANONICAL for s in ep["subgoals"])
