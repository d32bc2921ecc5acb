"""The diff-history format (core/history.py, diffhist's library): the paper's diff, encode/decode, windows, prompts."""

from __future__ import annotations

import difflib

import pytest
import unidiff
from hypothesis import given, settings
from hypothesis import strategies as st

from papertools.core.history import (ACTION, INSTRUCTION, OBSERVATION, Decoder, Encoder,
                                             apply_obs_diff, approx_tokens, build_prompt,
                                             fast_diff, history_prompt, obs_diff, split_lines,
                                             window_example)
from papertools.core.diff import DiffError, unified_diff, with_headers
from tests.diffhist.conftest import interleave

PROPERTY = settings(max_examples=150, deadline=None)


def papers_expression(a, b):
    """The released get_diff on line lists, spelled out as the issue does."""
    return "\n".join(list(difflib.unified_diff(a, b, n=0, fromfile="file1", tofile="file2",
                                               lineterm=""))[2:])


def normalized(text: str) -> str:
    """What --paper decoding gives back: the released code's normalisation."""
    return "\n".join(text.strip().splitlines())


# Small alphabets, so that repeated lines (and so several alignments) are common; some lines look
# like diff syntax, some have whitespace at the ends, one has a "\r".
TRICKY = ["a", "b", "c", "", " ", "  x", "x  ", "-", "+", "-a", "+b", "@@ -1 +1 @@",
          "--- file1", "\\ No newline at end of file", "é", "a\r", "tab\there"]
line_lists = st.lists(st.sampled_from(TRICKY), max_size=14)
few_lines = st.lists(st.sampled_from(["a", "b", ""]), max_size=16)
# unidiff splits its input with str.splitlines, which also breaks on "\r": no "\r" for it.
unidiff_lines = st.lists(st.sampled_from([t for t in TRICKY if "\r" not in t]), max_size=14)

# Whole observation texts: blank lines, whitespace at either end, "\r", "\r\n", empty texts.
text_pieces = st.sampled_from(["a", "b", "c d", "", " ", "\t", "\n", "\n", "\n\n", "\r", "\r\n",
                               "  lead", "trail  ", "é", "@@ -1 +1 @@", "-x", "+y"])
texts = st.lists(text_pieces, max_size=10).map("".join)
# Texts on which the two splittings agree: no whitespace at either end, only "\n" breaks.
plain_texts = st.lists(st.sampled_from(["a", "b", "c d", "", "x  y", "-", "+"]), min_size=1,
                       max_size=10).map("\n".join).filter(lambda t: t == t.strip())


# -- fast_diff is the paper's diff -------------------------------------------------------------

@PROPERTY
@given(line_lists, line_lists)
def test_fast_diff_is_the_papers_expression(a, b):
    assert fast_diff(a, b) == papers_expression(a, b)


@PROPERTY
@given(few_lines, few_lines)
def test_fast_diff_is_the_papers_expression_with_many_repeats(a, b):
    assert fast_diff(a, b) == papers_expression(a, b) == unified_diff(a, b)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=200, max_size=240),
       st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=200, max_size=240))
def test_fast_diff_is_the_papers_expression_on_long_texts(a, b):
    """200 lines or more: difflib's autojunk heuristic (popular lines) is in play."""
    assert fast_diff(a, b) == papers_expression(a, b)


def test_fast_diff_edge_cases():
    assert fast_diff([], []) == ""
    assert fast_diff(["a"], ["a"]) == ""  # identical texts: an empty diff
    assert fast_diff([], ["a"]) == "@@ -0,0 +1 @@\n+a"
    assert fast_diff(["a"], []) == "@@ -1 +0,0 @@\n-a"
    assert fast_diff(["a", "b", "c"], ["a", "x", "c"]) == "@@ -2 +2 @@\n-b\n+x"
    for a, b in [([], []), (["a"], []), ([], [""]), (["", ""], [""]), (["a", "b"], ["b", "a"])]:
        assert fast_diff(a, b) == papers_expression(a, b)


def test_fast_diff_on_real_nethack_observations(nle_episodes):
    pairs = 0
    for episode in nle_episodes:
        for prev, cur in zip(episode, episode[1:]):
            for paper in (False, True):
                a, b = split_lines(prev["obs"], paper), split_lines(cur["obs"], paper)
                assert fast_diff(a, b) == papers_expression(a, b)
            pairs += 1
    assert pairs > 100


def test_obs_diff_is_the_released_get_diff_in_paper_mode(nle_episodes):
    from papertools.core.diff import paper_diff

    episode = nle_episodes[0]
    for prev, cur in zip(episode, episode[1:]):
        assert obs_diff(prev["obs"], cur["obs"], paper=True) == paper_diff(prev["obs"], cur["obs"])
    assert obs_diff(None, "whole\ntext") == "whole\ntext"  # no previous observation


def apply_with_unidiff(source: list[str], diff: str) -> list[str]:
    """Rebuild the target from unidiff's reading of HEADER + diff (its hunk numbers and lines)."""
    patch = unidiff.PatchSet(with_headers(diff))
    assert len(patch) == 1
    if not diff:
        assert len(patch[0]) == 0  # the header alone: a file with no hunks
        return list(source)
    out, pos = [], 0
    for hunk in patch[0]:
        start = hunk.source_start if hunk.source_length == 0 else hunk.source_start - 1
        assert start >= pos
        out.extend(source[pos:start])
        pos = start
        assert not [ln for ln in hunk if ln.is_context]  # zero context lines
        for line in hunk:
            value = line.value[:-1] if line.value.endswith("\n") else line.value
            if line.is_removed:
                assert source[pos] == value
                pos += 1
            elif line.is_added:
                out.append(value)
        assert hunk.source_length == sum(1 for ln in hunk if ln.is_removed)
        assert hunk.target_length == sum(1 for ln in hunk if ln.is_added)
    out.extend(source[pos:])
    return out


@PROPERTY
@given(unidiff_lines, unidiff_lines)
def test_diff_parses_and_applies_with_unidiff(a, b):
    assert apply_with_unidiff(a, fast_diff(a, b)) == b


def test_real_nethack_diffs_apply_with_unidiff(nle_episodes):
    for episode in nle_episodes:
        for prev, cur in zip(episode, episode[1:]):
            a, b = split_lines(prev["obs"]), split_lines(cur["obs"])
            assert apply_with_unidiff(a, fast_diff(a, b)) == b


# -- encode and decode -------------------------------------------------------------------------

def roundtrip(records: list[dict], paper: bool = False) -> list[str]:
    """Encode then decode a stream of (episode, obs) records with the library's classes."""
    encoder, decoder = Encoder(paper), Decoder(paper)
    out = []
    for r in records:
        diff, full = encoder.encode(r["episode"], r["obs"])
        out.append(decoder.decode(r["episode"], diff, full))
        if r.get("done"):
            encoder.end(r["episode"])
            decoder.end(r["episode"])
    return out


def test_roundtrip_on_real_nle_episodes_interleaved(nle_episodes, interleaved):
    assert roundtrip(interleaved) == [r["obs"] for r in interleaved]
    stream = interleave(*nle_episodes)
    assert roundtrip(stream) == [r["obs"] for r in stream]


def test_encoder_marks_each_episodes_first_step_full(interleaved):
    encoder = Encoder()
    seen = set()
    for r in interleaved:
        diff, full = encoder.encode(r["episode"], r["obs"])
        assert full == (r["episode"] not in seen)
        if full:
            assert diff == r["obs"]
        seen.add(r["episode"])


@st.composite
def episode_streams(draw, text_strategy=texts):
    """Two or three interleaved episodes of generated texts, in a random interleaving."""
    n = draw(st.integers(1, 3))
    episodes = [draw(st.lists(text_strategy, min_size=1, max_size=6)) for _ in range(n)]
    order = []
    for e, obs in enumerate(episodes):
        order.extend([e] * len(obs))
    order = draw(st.permutations(order))
    position = [0] * n
    records = []
    for e in order:
        records.append({"episode": f"ep{e}", "obs": episodes[e][position[e]]})
        position[e] += 1
    return records


@PROPERTY
@given(episode_streams())
def test_roundtrip_exact_on_generated_text(records):
    assert roundtrip(records) == [r["obs"] for r in records]


@PROPERTY
@given(texts, texts)
def test_apply_obs_diff_inverts_obs_diff_exactly(a, b):
    assert apply_obs_diff(a, obs_diff(a, b)) == b


@PROPERTY
@given(episode_streams())
def test_roundtrip_paper_gives_the_normalised_text(records):
    decoded = roundtrip(records, paper=True)
    for r, got in zip(records, decoded):  # every step, an episode's first (obs_full) included
        assert got == normalized(r["obs"])


@PROPERTY
@given(texts, texts)
def test_apply_obs_diff_paper(a, b):
    assert apply_obs_diff(a, obs_diff(a, b, paper=True), paper=True) == normalized(b)


@PROPERTY
@given(plain_texts, plain_texts)
def test_exact_and_paper_diffs_agree_without_edge_whitespace(a, b):
    assert obs_diff(a, b) == obs_diff(a, b, paper=True)


def test_exact_and_paper_diffs_agree_on_nethack(nle_episodes):
    for episode in nle_episodes:
        for prev, cur in zip(episode, episode[1:]):
            assert prev["obs"] == prev["obs"].strip()
            assert obs_diff(prev["obs"], cur["obs"]) == \
                obs_diff(prev["obs"], cur["obs"], paper=True)


def test_exact_mode_keeps_what_paper_mode_loses():
    a, b = "x\n", "  x\n\n"
    assert obs_diff(a, b) != obs_diff(a, b, paper=True) == ""
    assert apply_obs_diff(a, obs_diff(a, b)) == b
    assert apply_obs_diff("a\r\nb", obs_diff("a\r\nb", "a\r\nc")) == "a\r\nc"


def test_diff_that_does_not_apply():
    with pytest.raises(DiffError):
        apply_obs_diff("a\nb", "@@ -1 +1 @@\n-x\n+y")
    with pytest.raises(DiffError):
        apply_obs_diff("a", "not a diff")
    decoder = Decoder()
    with pytest.raises(DiffError, match="no earlier observation"):
        decoder.decode("e", "@@ -1 +1 @@\n-a\n+b", full=False)
    decoder.decode("e", "a", full=True)
    assert decoder.decode("e", "@@ -1 +1 @@\n-a\n+b", full=False) == "b"
    decoder.end("e")
    with pytest.raises(DiffError):
        decoder.decode("e", "@@ -1 +1 @@\n-b\n+c", full=False)


def test_identical_observations_give_an_empty_diff_that_decodes():
    encoder, decoder = Encoder(), Decoder()
    assert encoder.encode("e", "same\ntext") == ("same\ntext", True)
    assert encoder.encode("e", "same\ntext") == ("", False)
    decoder.decode("e", "same\ntext", True)
    assert decoder.decode("e", "", False) == "same\ntext"


# -- training windows --------------------------------------------------------------------------

def expected_completion(observations, actions, full=False):
    """The reference's completion, built independently from its description."""
    k = len(actions)
    out = ""
    for t in range(k - 1):
        body = observations[t + 1] if full else papers_expression(
            observations[t].split("\n"), observations[t + 1].split("\n"))
        out += f"<|action|>{actions[t]}\n<|observation|>\n{body}\n"
    return out + f"<|action|>{actions[k - 1]}"


@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_window_example_format(nle_episodes, k):
    episode = nle_episodes[1][3:3 + k]
    obs = [r["obs"] for r in episode]
    actions = [r["action"] for r in episode]
    example = window_example(obs, actions)
    assert example["prompt"] == INSTRUCTION + "\n\n" + obs[0] + "\n\n"
    completion = example["completion"]
    assert completion == expected_completion(obs, actions)
    if k > 1:
        assert completion.startswith(f"<|action|>{actions[0]}\n<|observation|>\n")
    assert completion.endswith(f"\n<|action|>{actions[-1]}" if k > 1 else f"<|action|>{actions[0]}")
    assert completion.count(ACTION) == k
    assert completion.count(OBSERVATION) == k - 1

    twin = window_example(obs, actions, full=True)
    assert twin["prompt"] == example["prompt"]
    assert twin["completion"] == expected_completion(obs, actions, full=True)
    for t in range(1, k):
        assert f"<|observation|>\n{obs[t]}\n<|action|>" in twin["completion"]


def test_window_label_spans_cover_exactly_the_action_markup(nle_episodes):
    episode = nle_episodes[0][:9]
    obs, actions = [r["obs"] for r in episode], [r["action"] for r in episode]
    for full in (False, True):
        example = window_example(obs, actions, full=full)
        completion, spans = example["completion"], example["label_spans"]
        assert len(spans) == len(actions)
        for t, (start, end) in enumerate(spans):
            want = f"{ACTION}{actions[t]}" + ("" if t == len(actions) - 1 else
                                               f"\n{OBSERVATION}")
            assert completion[start:end] == want
        # outside the spans: only observation text (diffs) and newlines, no markup
        rest, pos = "", 0
        for start, end in spans:
            assert start >= pos
            rest += completion[pos:start]
            pos = end
        rest += completion[pos:]
        assert ACTION not in rest and OBSERVATION not in rest
        assert pos == len(completion)


def test_window_example_paper_and_instruction():
    obs = ["  a\nb  ", "a\nc", "a\nc\n"]
    example = window_example(obs, ["north", "east", "wait"], paper=True, instruction="Go.")
    assert example["prompt"] == "Go.\n\n  a\nb  \n\n"
    assert example["completion"] == ("<|action|>north\n<|observation|>\n@@ -2 +2 @@\n-b\n+c\n"
                                     "<|action|>east\n<|observation|>\n\n<|action|>wait")


def test_window_example_needs_matching_lengths():
    with pytest.raises(ValueError):
        window_example(["a", "b"], ["north"])
    with pytest.raises(ValueError):
        window_example([], [])


# -- prompts -----------------------------------------------------------------------------------

def test_history_prompt_format(nle_episodes):
    episode = nle_episodes[2][:6]
    obs, actions = [r["obs"] for r in episode], [r["action"] for r in episode[:-1]]
    prompt = history_prompt(INSTRUCTION, obs, actions)
    want = f"{INSTRUCTION}\n\n{obs[0]}\n\n"
    for t in range(5):
        want += f"<|action|>{actions[t]}\n<|observation|>\n{obs_diff(obs[t], obs[t + 1])}\n"
    assert prompt == want + "<|action|>"
    assert prompt.endswith(ACTION)
    assert build_prompt(INSTRUCTION, obs, actions)[1:] == (5, None)


def test_history_caps_steps(nle_episodes):
    episode = nle_episodes[2][:10]
    obs, actions = [r["obs"] for r in episode], [r["action"] for r in episode[:-1]]
    for h in (0, 1, 2, 9, 50):
        prompt, kept, _ = build_prompt(INSTRUCTION, obs, actions, max_history=h)
        assert kept == min(h, 9)
        first = 9 - kept
        assert prompt.startswith(f"{INSTRUCTION}\n\n{obs[first]}\n\n")
        assert prompt.count(ACTION) == kept + 1 and prompt.endswith(ACTION)
    assert build_prompt(INSTRUCTION, obs, actions, max_history=0)[0] == \
        f"{INSTRUCTION}\n\n{obs[9]}\n\n{ACTION}"


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("count", [None, words])
def test_prompt_fits_the_budget_with_the_longest_history(nle_episodes, count):
    episode = nle_episodes[0][:25]
    obs, actions = [r["obs"] for r in episode], [r["action"] for r in episode[:-1]]
    counter = count or approx_tokens
    t = len(obs) - 1
    sizes = [counter(build_prompt(INSTRUCTION, obs, actions, max_history=h)[0])
             for h in range(t + 1)]
    assert sizes == sorted(sizes)  # monotone here: more history, more tokens
    for budget in sorted({sizes[0], sizes[0] + 1, sizes[3] - 1, sizes[3], sizes[10],
                          sizes[-1] - 1, sizes[-1], sizes[-1] + 100}):
        prompt, kept, tokens = build_prompt(INSTRUCTION, obs, actions, max_tokens=budget,
                                            count_tokens=count)
        assert prompt.endswith(ACTION)
        assert tokens == counter(prompt) <= budget
        assert prompt == build_prompt(INSTRUCTION, obs, actions, max_history=kept)[0]
        if kept < t:
            assert sizes[kept + 1] > budget  # one more step would not fit
        assert history_prompt(INSTRUCTION, obs, actions, budget, count) == prompt


def test_prompt_keeps_the_current_observation_when_nothing_fits():
    obs = ["a long first observation " * 10, "the current one " * 10]
    prompt, kept, tokens = build_prompt(INSTRUCTION, obs, ["north"], max_tokens=3)
    assert kept == 0 and prompt == f"{INSTRUCTION}\n\n{obs[1]}\n\n{ACTION}"
    assert tokens == approx_tokens(prompt) > 3


def test_prompt_with_max_history_and_budget_together(nle_episodes):
    episode = nle_episodes[1][:12]
    obs, actions = [r["obs"] for r in episode], [r["action"] for r in episode[:-1]]
    prompt, kept, tokens = build_prompt(INSTRUCTION, obs, actions, max_tokens=10**6,
                                        max_history=3)
    assert kept == 3 and tokens == approx_tokens(prompt)


def test_prompt_checks_its_arguments():
    with pytest.raises(ValueError):
        build_prompt(INSTRUCTION, [], [])
    with pytest.raises(ValueError):
        build_prompt(INSTRUCTION, ["a", "b"], [])


def test_approx_tokens_counts_utf8_bytes_over_four():
    assert approx_tokens("") == 0
    assert approx_tokens("abcd") == 1
    assert approx_tokens("abcde") == 2
    assert approx_tokens("é" * 2) == 1  # 4 bytes
