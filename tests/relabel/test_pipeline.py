"""relabel end to end on small data: lift rooms (one qualifying object, chance 1/N, the first lift
ends the episode), collection seeds disjoint from the evaluation's, the CLI chain collect ->
label -> apply -> train -> eval, the learned labeller, and the trained agent played by bench."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from papertools.cli.relabel import rollouts
from papertools.core.envs import lift, make_env
from papertools.core.envs.babyai import Bot
from papertools.core.errors import PapertoolsError
from papertools.core.learn.evaluate import evaluation_seeds
from tests.helpers import invoke

pytest.importorskip("minigrid")


@pytest.mark.parametrize("family", ["objects", "names", "colours", "categories", "preferences"])
def test_a_room_holds_exactly_one_object_its_instruction_accepts(family):
    accepts = dict(lift.instructions(family))
    env = make_env(f"lift/{family}", num_objects=5)
    for seed in range(25):
        obs, _ = env.reset(seed=seed)
        placed = [f"{o.color} {o.type}" for o in env.grid.grid if o is not None
                  and o.type in lift.TYPES]
        assert len(placed) == 5
        assert sum(p in accepts[obs["mission"]] for p in placed) == 1
    assert lift.chance(5, family) == 0.2


def test_the_first_lift_ends_the_episode_and_is_judged():
    env = make_env("lift/names", num_objects=4)
    outcomes = set()
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        bot = Bot(env)
        for _ in range(env.max_steps):
            obs, reward, terminated, truncated, info = env.step(bot.act())
            if terminated or truncated:
                break
        assert terminated and info["success"] and reward > 0  # the bot lifts the right one
        assert info["lifted"] == f"{env.carrying.color} {env.carrying.type}"
        assert info["lifted"] in dict(lift.instructions("names"))[obs["mission"]]
        outcomes.add(obs["mission"])
    assert len(outcomes) == 3
    # lifting a wrong object fails at once: walk the bot to a distractor by hand
    for seed in range(50):
        obs, _ = env.reset(seed=seed)
        wrong = [o for o in env.grid.grid if o is not None and o.type in lift.TYPES
                 and f"{o.color} {o.type}" not in env.instrs.accepted]
        bot = Bot(env)
        bot.bot.mission.instrs.desc.obj_set = [wrong[0]]
        bot.bot.mission.instrs.desc.obj_poss = [wrong[0].cur_pos]
        from minigrid.utils.baby_ai_bot import BabyAIBot

        bot.bot = BabyAIBot(env.env)
        for _ in range(env.max_steps):
            obs, reward, terminated, truncated, info = env.step(bot.act())
            if terminated or truncated:
                break
        if terminated:
            assert not info["success"] and reward == 0 and info["lifted"] is not None
            return
    pytest.fail("the bot never lifted a distractor")


def test_an_ordinal_instruction_names_the_kth_closest_object():
    env = make_env("lift/ordinal", num_objects=4)
    seen = set()
    for seed in range(40):
        obs, _ = env.reset(seed=seed)
        k = [f"pick up the {o} object" for o in lift.ORDINALS].index(obs["mission"])
        seen.add(k)
        ax, ay = env.agent_pos
        objs = [o for o in env.grid.grid if o is not None and o.type in lift.TYPES]
        dist = sorted(abs(o.cur_pos[0] - ax) + abs(o.cur_pos[1] - ay) for o in objs)
        target = env.instrs.target
        assert abs(target.cur_pos[0] - ax) + abs(target.cur_pos[1] - ay) == dist[k]
        bot = Bot(env)
        for _ in range(env.max_steps):
            obs, reward, terminated, truncated, info = env.step(bot.act())
            if terminated or truncated:
                break
        assert info["success"] and env.carrying is target
    assert seen == {0, 1, 2, 3}


def test_the_pointer_marks_the_target_and_the_learner_never_sees_it(tmp_path):
    env = make_env("lift/any", point=True)
    marked = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        target = env.env._target
        mark = np.argwhere(obs["image"][:, :, 2] == lift.POINTER)
        assert len(mark) <= 1 and not (obs["scene"][:, :, 2] == lift.POINTER).any()
        assert (np.delete(obs["image"], 2, axis=2) == np.delete(obs["scene"], 2, axis=2)).all()
        if len(mark):
            marked += 1
            x, y = mark[0]
            assert env.env.relative_coords(*target.cur_pos) == (x, y)
    assert marked >= 10
    r = invoke(["relabel", "collect", "--agent", "bot", "--point", "--episodes", "6",
                "--out-dir", str(tmp_path / "eps"), "-q"])
    assert r.exit_code == 0, r.stderr
    from papertools.cli.relabel.labellers import label_record
    from papertools.cli.relabel.modes import Mode
    from papertools.cli.relabel.pipeline import apply_labels
    from papertools.core.trajectories import TrajectoryDataset

    source = TrajectoryDataset(tmp_path / "eps")
    assert any((source.load(i)["obs/image"][:, :, :, 2] == lift.POINTER).any()
               for i in source.ids)
    labels = {i: label_record(i, Mode("names"), "oracle", "ball") for i in source.ids}
    apply_labels(tmp_path / "eps", labels, tmp_path / "named")
    named = TrajectoryDataset(tmp_path / "named")
    assert "scene" not in named.meta["observation"]
    for i in named.ids:
        arrays = named.load(i)
        assert not (arrays["obs/image"][:, :, :, 2] == lift.POINTER).any()
        assert (arrays["obs/image"] == source.load(i)["obs/scene"]).all()


def test_excluded_pairs_are_never_placed():
    env = make_env("lift/any", exclude=("purple box", "red ball"))
    for seed in range(40):
        env.reset(seed=seed)
        placed = {f"{o.color} {o.type}" for o in env.grid.grid if o is not None
                  and o.type in lift.TYPES}
        assert not placed & {"purple box", "red ball"}


def test_collection_streams_skip_the_evaluation_seeds(tmp_path):
    held_out = evaluation_seeds(0, 200)
    for key in (rollouts.DEMO_KEY, rollouts.LABELLER_KEY, rollouts.COLLECT_KEY):
        seeds = rollouts.stream_seeds(0, key, 3000, held_out)
        assert not set(seeds) & set(held_out) and len(set(seeds)) == 3000
    # a stream forced onto evaluation seeds skips them
    assert rollouts.stream_seeds(0, 0x6576, 5, held_out[:3])[0] not in held_out[:3]
    rollouts.collect(tmp_path / "d", family="any", seeds=[held_out[4], 12345],
                     options=rollouts.env_options(5, 7))
    from papertools.core.learn.evaluate import check_held_out

    with pytest.raises(PapertoolsError, match="played evaluation seeds"):
        check_held_out([tmp_path / "d"], held_out)
    check_held_out([tmp_path / "d"], evaluation_seeds(9, 10))


def test_the_cli_chain_relabels_trains_and_scores_an_agent_bench_plays(tmp_path):
    d = tmp_path
    r = invoke(["relabel", "collect", "--agent", "bot", "--episodes", "24", "--out-dir",
                str(d / "eps"), "-q"])
    assert r.exit_code == 0, r.stderr
    records = [json.loads(x) for x in (d / "eps" / "episodes.jsonl").read_text().splitlines()]
    assert all(x["mission"] == lift.GENERIC and x["lifted"] in lift.PAIRS for x in records)
    r = invoke(["relabel", "label", str(d / "eps"), "--mode", "names", "--labeller", "oracle",
                "--precision", "0.75", "--recall", "0.5", "-o", str(d / "labels.jsonl")])
    assert r.exit_code == 0, r.stderr
    assert "precision 0.750" in r.stderr and "recall" in r.stderr
    labels = [orjson.loads(x) for x in (d / "labels.jsonl").read_bytes().splitlines()]
    assert [x["id"] for x in labels] == [x["id"] for x in records]
    r = invoke(["relabel", "score", str(d / "labels.jsonl"), "--dataset", str(d / "eps")])
    assert r.exit_code == 0 and r.records[0]["mode"] == "names"
    r = invoke(["relabel", "apply", str(d / "eps"), str(d / "labels.jsonl"), "--episodes", "14",
                "--out-dir", str(d / "named"), "-q"])
    assert r.exit_code == 0, r.stderr
    named = [json.loads(x) for x in (d / "named" / "episodes.jsonl").read_text().splitlines()]
    assert len(named) == 14 and all("lifted" not in x for x in named)
    given = {lab["id"]: lab["instruction"] for lab in labels if lab["instruction"]}
    assert [x["id"] for x in named] == list(given)[:14]
    assert all(x["mission"] == given[x["id"]] for x in named)
    assert {x["relabel"]["mission"] for x in named} == {lift.GENERIC}
    r = invoke(["relabel", "apply", str(d / "eps"), str(d / "labels.jsonl"), "--episodes", "99",
                "--out-dir", str(d / "more"), "-q"])
    assert r.exit_code == 1 and "fewer than the 99" in r.stderr
    r = invoke(["relabel", "train", str(d / "named"), "--epochs", "1", "--out-dir",
                str(d / "run"), "-q"])
    assert r.exit_code == 0, r.stderr
    r = invoke(["relabel", "eval", str(d / "run" / "policy"), "--family", "names", "--episodes",
                "4", "--json", "-q"])
    assert r.exit_code == 0, r.stderr
    row = r.records[0]
    assert row["episodes"] == 4 and row["chance"] == 0.2 and 0 <= row["success"] <= 1
    # bench loads the trained agent and plays it in the lift rooms
    r = invoke(["bench", "run", "--env", "lift/names", "--agent", "policy", "--policy",
                str(d / "run" / "policy"), "--episodes", "2", "--out-dir", str(d / "bench"),
                "-q"])
    assert r.exit_code == 0, r.stderr
    episodes = (d / "bench").rglob("episodes.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in episodes) == 2


def test_a_bad_label_line_is_named_and_nothing_is_written(tmp_path):
    invoke(["relabel", "collect", "--agent", "bot", "--episodes", "3", "--out-dir",
            str(tmp_path / "eps"), "-q"])
    (tmp_path / "bad.jsonl").write_text('{"id": "demos/0", "instruction": "pick up a ball"}\n'
                                        '{"id": "demos/1", "instruction": 7}\n')
    r = invoke(["relabel", "apply", str(tmp_path / "eps"), str(tmp_path / "bad.jsonl"),
                "--out-dir", str(tmp_path / "out")])
    assert r.exit_code == 1 and "bad.jsonl:2" in r.stderr
    assert not (tmp_path / "out").exists()


def test_the_learned_labeller_answers_in_the_mode_vocabulary(tmp_path):
    from papertools.cli.relabel.clip import Contrastive
    from papertools.cli.relabel.labellers import few_shot_examples, learned_answers
    from papertools.cli.relabel.modes import Mode
    from papertools.core.trajectories import TrajectoryDataset

    r = invoke(["relabel", "collect", "--agent", "bot", "--stream", "pictures", "--episodes",
                "30", "--out-dir", str(tmp_path / "pics"), "-q"])
    assert r.exit_code == 0, r.stderr
    r = invoke(["relabel", "train-labeller", str(tmp_path / "pics"), "--epochs", "2",
                "--out-dir", str(tmp_path / "lab"), "-q"])
    assert r.exit_code == 0, r.stderr
    history = [orjson.loads(x) for x in r.stdout.splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    labeller = Contrastive.load(tmp_path / "lab")
    data = TrajectoryDataset(tmp_path / "pics")
    frames = np.stack([f for _, f in rollouts.final_frames(data)])
    assert frames.shape[1:] == (56, 112, 3)
    probs = labeller.caption_probs(frames)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    for name in ("names", "colours", "objects"):
        answers, conf = learned_answers(labeller, frames, Mode(name), threshold=0.0)
        assert all(a in Mode(name).vocab for a in answers if a is not None)
        none, _ = learned_answers(labeller, frames, Mode(name), threshold=1.01)
        assert none == [None] * len(frames)  # the threshold turns every answer into nothing
    examples = few_shot_examples(data, Mode("categories"), shots=1)
    answers, _ = learned_answers(labeller, frames, Mode("categories"), examples=examples)
    assert set(answers) <= {"dax", "wug", None}
    r = invoke(["relabel", "label", str(tmp_path / "pics"), "--mode", "categories",
                "--labeller", "learned", "--labeller-dir", str(tmp_path / "lab")])
    assert r.exit_code == 2 and "--examples" in r.stderr
