"""relabel's labeller plug: answers parsed into a mode's vocabulary, "nothing", the oracle's exact
noise, the remote labeller over real HTTP with pictures (cache, retries of bad answers, costs),
and the lift rooms the labels are about."""

from __future__ import annotations

import base64
import io
import random

import numpy as np
import pytest

from papertools.cli.relabel.labellers import RemoteLabeller, oracle_answers
from papertools.cli.relabel.modes import Mode, score_labels
from papertools.core.envs import lift
from papertools.core.errors import PapertoolsError


@pytest.mark.parametrize("mode, reply, expected", [
    ("names", "A ball.", (True, "ball")),
    ("names", "The agent is holding a KEY", (True, "key")),
    ("names", "Nothing.", (True, None)),
    ("names", "a ball or a key", (False, None)),
    ("names", "I cannot tell", (False, None)),
    ("names", "", (False, None)),
    ("colours", "It is red", (True, "red")),
    ("colours", "grey", (True, "grey")),
    ("objects", "the red ball", (True, "red ball")),
    ("objects", "a ball, and it is red", (True, "red ball")),
    ("objects", "a ball", (False, None)),
    ("categories", "That's a dax.", (True, "dax")),
    ("categories", "none of them", (True, None)),
    ("preferences", "Yes", (True, "yes")),
    ("preferences", "no.", (True, None)),
])
def test_replies_are_parsed_into_the_mode_vocabulary(mode, reply, expected):
    assert Mode(mode).parse(reply) == expected


def test_answers_become_the_lift_families_instructions():
    for mode, family in (("names", "names"), ("colours", "colours"), ("objects", "objects"),
                         ("categories", "categories"), ("preferences", "preferences")):
        m = Mode(mode)
        texts = {text for text, _ in lift.instructions(family)}
        for pair in lift.PAIRS:
            answer = m.answer_of(pair)
            if answer is not None:
                assert m.instruction(answer) in texts
                accepted = dict(lift.instructions(family))[m.instruction(answer)]
                assert pair in accepted  # the right answer's instruction accepts the object
    assert Mode("names").instruction(None) is None
    with pytest.raises(ValueError):
        Mode("names").instruction("plane")


def _records(n, seed=0, empty=0.2):
    rng = random.Random(seed)
    return [{"id": f"ep/{i}", "lifted": None if rng.random() < empty else rng.choice(lift.PAIRS)}
            for i in range(n)]


@pytest.mark.parametrize("precision, recall", [(1.0, 1.0), (0.5, 0.5), (0.75, 0.35),
                                               (1.0, 0.2), (0.9, 0.9)])
def test_the_oracle_hits_its_precision_and_recall_exactly(precision, recall):
    records = _records(5000)
    mode = Mode("objects")
    answers = oracle_answers(records, mode, precision, recall, seed=3)
    score = score_labels(zip(answers, [mode.truth(r) for r in records]))
    assert abs(score["recall"] - recall) <= 1 / score["positives"]
    assert abs(score["precision"] - precision) <= 2 / score["answers"]
    assert all(a is None or a in mode.vocab for a in answers)
    assert answers == oracle_answers(records, mode, precision, recall, seed=3)  # seeded
    assert answers != oracle_answers(records, mode, precision, recall, seed=4) or recall == 1


def test_the_noise_free_oracle_gives_the_true_answers():
    records = _records(300)
    for name in ("names", "colours", "categories", "preferences"):
        mode = Mode(name)
        assert oracle_answers(records, mode) == [mode.truth(r) for r in records]


def test_an_infeasible_precision_and_recall_is_refused():
    with pytest.raises(PapertoolsError, match="wrong answers but only"):
        oracle_answers(_records(1000, empty=0.05), Mode("names"), 0.5, 1.0)


# ---- the remote labeller over HTTP -------------------------------------------------------------


class PixelVLM:
    """A stand-in for a vision-language model behind the server: it decodes the last picture of
    the request and names the colour of the cell in front of the agent in the left view (the
    object about to be lifted), so an answer is right only if the picture arrived intact."""

    def __init__(self, replies=()):
        self.replies = list(replies)  # scripted replies first (bad answers)
        self.pictures = 0

    def complete(self, messages, seed=0, max_tokens=None, temperature=None):
        from PIL import Image

        from papertools.core.models.clients import Reply

        if self.replies:
            return Reply(self.replies.pop(0), 10, 2)
        parts = messages[-1]["content"]
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        self.pictures += 1
        side = image.shape[0] // 7
        cell = image[5 * side:6 * side, 3 * side:4 * side].reshape(-1, 3).astype(float)
        cell = (cell - 0.3 * 255) / 0.7  # minigrid lightens the visible cells by 30%
        from minigrid.core.constants import COLORS

        colours = {name: np.asarray(rgb) for name, rgb in COLORS.items() if name in lift.COLORS}
        names = [n for n in colours if n not in ("red", "grey")]  # the agent, the grid lines
        coloured = cell[np.abs(cell - cell.mean(1, keepdims=True)).max(1) > 40]  # not grey
        votes = dict.fromkeys(names, 0)
        for pixel in coloured:
            votes[min(names, key=lambda n: np.abs(pixel - colours[n]).sum())] += 1
        best = max(votes, key=votes.get)
        return Reply(best if votes[best] else "nothing", 12, 1)


def _frame_of(pair):
    """A lift room's view with the agent carrying ``pair``."""
    from papertools.core.envs import make_env

    env = make_env("lift/objects", rgb=True, tile_size=8, targets=[f"pick up the {pair}"])
    obs, _ = env.reset(seed=1)
    from papertools.core.envs.babyai import Bot

    bot = Bot(env)
    for _ in range(60):
        before = obs["rgb"]
        obs, reward, terminated, truncated, info = env.step(bot.act())
        if terminated or truncated:
            break
    assert info["lifted"] == pair
    from papertools.cli.relabel.rollouts import picture

    return picture(np.stack([before, obs["rgb"]]))


def test_the_remote_labeller_sends_pictures_over_http_and_caches_answers(tmp_path):
    from papertools.core.models.clients import OpenAIClient
    from papertools.core.models.server import ChatServer

    frames = {"blue key": _frame_of("blue key"), "green box": _frame_of("green box")}
    vlm = PixelVLM()
    with ChatServer(client=vlm).start() as server:
        client = OpenAIClient(server.url, "pixel", max_retries=0, temperature=0.0)
        labeller = RemoteLabeller(client, Mode("colours"), cache_path=tmp_path / "cache.jsonl")
        rows = [labeller.label(pair, frame) for pair, frame in frames.items()]
        assert [r["answer"] for r in rows] == ["blue", "green"]
        assert [r["instruction"] for r in rows] == ["pick up a blue object",
                                                    "pick up a green object"]
        assert labeller.costs["calls"] == 2 and labeller.costs["prompt_tokens"] == 24
        assert vlm.pictures == 2
        # a second run over the same pictures is answered from the cache file
        again = RemoteLabeller(client, Mode("colours"), cache_path=tmp_path / "cache.jsonl")
        rows2 = [again.label(pair, frame) for pair, frame in frames.items()]
        assert [r["answer"] for r in rows2] == ["blue", "green"]
        assert again.costs["calls"] == 0 and again.costs["cached"] == 2
        assert all(r["cached"] for r in rows2)
        assert vlm.pictures == 2


def test_a_bad_answer_is_asked_again_then_counted_as_none():
    from papertools.core.models.clients import OpenAIClient
    from papertools.core.models.server import ChatServer

    frame = _frame_of("blue key")
    vlm = PixelVLM(replies=["blue or green, hard to say", "it is purple-ish? or red"])
    with ChatServer(client=vlm).start() as server:
        client = OpenAIClient(server.url, "pixel", max_retries=0, temperature=0.0)
        labeller = RemoteLabeller(client, Mode("colours"), attempts=3)
        row = labeller.label("ep", frame)  # two bad answers, then the picture is read
        assert row["parsed"] and row["answer"] == "blue"
        assert labeller.costs["calls"] == 3 and labeller.costs["unparsed"] == 0
        vlm.replies = ["maybe", "no idea"]
        row = RemoteLabeller(client, Mode("colours"), attempts=2).label("ep2", frame)
        assert not row["parsed"] and row["answer"] is None and row["instruction"] is None


def test_a_dead_server_is_one_clean_error():
    from papertools.core.models.clients import OpenAIClient

    client = OpenAIClient("http://127.0.0.1:9/v1", "none", max_retries=0, timeout=2)
    with pytest.raises(PapertoolsError, match="failed on episode 'ep'"):
        RemoteLabeller(client, Mode("names")).label("ep", np.zeros((56, 112, 3), np.uint8))


def test_few_shot_prompts_show_example_pictures_with_their_answers():
    labeller = RemoteLabeller(None, Mode("categories"),
                              examples=(np.zeros((2, 56, 56, 3), np.uint8), ["dax", None]))
    messages = labeller.messages(np.zeros((56, 56, 3), np.uint8))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant",
                                             "user"]
    assert [messages[2]["content"], messages[4]["content"]] == ["dax", "nothing"]
    assert "dax, wug" in messages[-1]["content"][0]["text"]
    assert messages[-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_label_remote_from_the_command_line(tmp_path):
    from papertools.core.models.server import ChatServer
    from tests.helpers import invoke

    r = invoke(["relabel", "collect", "--agent", "bot", "--episodes", "3", "--out-dir",
                str(tmp_path / "eps"), "-q"])
    assert r.exit_code == 0, r.stderr
    with ChatServer(script=["A ball.", "hmm, a key or a box", "nothing", "the key"]).start() \
            as server:
        r = invoke(["relabel", "label", str(tmp_path / "eps"), "--mode", "names", "--labeller",
                    "remote", "--base-url", server.url, "--model", "vlm", "--cache",
                    str(tmp_path / "cache.jsonl")])
        assert r.exit_code == 0, r.stderr
        assert [x["answer"] for x in r.records] == ["ball", None, "key"]
        assert [x["parsed"] for x in r.records] == [True, True, True]
        assert "'calls': 4" in r.stderr and "'unparsed': 0" in r.stderr
        images = [p for req in server.requests for m in req["messages"]
                  if isinstance(m["content"], list) for p in m["content"]
                  if p["type"] == "image_url"]
        assert len(images) == 4
        again = invoke(["relabel", "label", str(tmp_path / "eps"), "--mode", "names",
                        "--labeller", "remote", "--base-url", server.url, "--model", "vlm",
                        "--cache", str(tmp_path / "cache.jsonl")])
        assert again.records == [{**x, "cached": True} for x in r.records]
        assert "'calls': 0" in again.stderr


def test_a_text_labeller_is_told_the_end_in_words_without_the_answer(tmp_path):
    from papertools.core.models.server import ChatServer
    from papertools.core.trajectories import TrajectoryDataset
    from tests.helpers import invoke

    r = invoke(["relabel", "collect", "--agent", "bot", "--episodes", "2", "--out-dir",
                str(tmp_path / "eps"), "-q"])
    assert r.exit_code == 0, r.stderr
    data = TrajectoryDataset(tmp_path / "eps")
    with ChatServer(script=["a box", "It picked up the key."]).start() as server:
        r = invoke(["relabel", "label", str(tmp_path / "eps"), "--mode", "names", "--labeller",
                    "text", "--base-url", server.url, "--model", "llm", "--cache",
                    str(tmp_path / "c.jsonl")])
        assert r.exit_code == 0, r.stderr
        assert [x["answer"] for x in r.records] == ["box", "key"]
        assert {x["labeller"] for x in r.records} == {"text"}
        told = [req["messages"][-1]["content"] for req in server.requests]
    assert all(isinstance(t, str) and "Its last action was: pick up." in t for t in told)
    for text, episode in zip(told, data.ids):
        lifted = data.record(episode)["lifted"]
        before, after = text.split("Afterwards it saw:")
        assert f"a {lifted} 1 step forward" in before  # what was lifted stood in front
        assert "carry" not in text.lower()  # the line that would give the answer away
