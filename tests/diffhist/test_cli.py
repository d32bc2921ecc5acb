"""``papertools diffhist``: encode, decode, windows, prompt, stats, and bad input."""

from __future__ import annotations

import gzip

import pytest

from papertools.core.history import ACTION, INSTRUCTION, OBSERVATION, approx_tokens
from papertools.core.diff import unified_diff
from tests.diffhist.conftest import interleave
from tests.helpers import EXAMPLES, invoke, jsonl, shell

EPISODES = EXAMPLES / "diffhist" / "episodes.jsonl.gz"


def diffhist(*args, input=None):
    return invoke(["diffhist", *args], input=input)


def obs_by_id(records):
    return {r["id"]: r["obs"] for r in records}


# -- encode / decode ---------------------------------------------------------------------------

def test_encode_decode_roundtrip_on_interleaved_nle_episodes(interleaved):
    data = jsonl(interleaved)
    encoded = diffhist("encode", "-q", input=data)
    assert encoded.exit_code == 0, encoded.stderr
    decoded = diffhist("decode", "-q", input=encoded.stdout)
    assert decoded.exit_code == 0, decoded.stderr
    assert decoded.records == interleaved
    assert decoded.stdout == data  # same bytes, same key order


def test_encode_replaces_obs_in_place(interleaved):
    records = diffhist("encode", "-q", input=jsonl(interleaved)).records
    assert len(records) == len(interleaved)
    last, firsts = {}, 0
    for raw, enc in zip(interleaved, records):
        keys = list(raw)
        i = keys.index("obs")
        assert list(enc) == keys[:i] + ["obs_diff", "obs_full"] + keys[i + 1:]
        episode = raw["episode"]
        if episode not in last:
            firsts += 1
            assert enc["obs_full"] is True and enc["obs_diff"] == raw["obs"]
        else:
            assert enc["obs_full"] is False
            assert enc["obs_diff"] == unified_diff(last[episode].split("\n"),
                                                   raw["obs"].split("\n"))
        last[episode] = raw["obs"]
    assert firsts == 2
    # diffs are much shorter than the observations they stand for
    assert sum(len(r["obs_diff"]) for r in records) * 2 < sum(len(r["obs"]) for r in interleaved)


def test_encode_drops_bulky_fields_unless_kept():
    records = [{"episode": "e", "step": 0, "obs": "a", "action": "north", "tty": "screen",
                "obs_blocks": {"message": ""}, "extra": 1}]
    assert diffhist("encode", "-q", input=jsonl(records)).records == [
        {"episode": "e", "step": 0, "obs_diff": "a", "obs_full": True, "action": "north",
         "extra": 1}]
    kept = diffhist("encode", "-q", "--keep", "tty", input=jsonl(records)).records[0]
    assert kept["tty"] == "screen" and "obs_blocks" not in kept


def test_an_episode_name_reused_after_done_starts_afresh():
    records = [{"episode": "e", "step": 0, "obs": "a\nb", "action": "north"},
               {"episode": "e", "step": 1, "obs": "a\nc", "action": None, "done": True},
               {"episode": "e", "step": 0, "obs": "x", "action": "east"},
               {"episode": "e", "step": 1, "obs": "x\ny", "action": None}]
    encoded = diffhist("encode", "-q", input=jsonl(records))
    assert [r["obs_full"] for r in encoded.records] == [True, False, True, False]
    decoded = diffhist("decode", "-q", input=encoded.stdout)
    assert decoded.exit_code == 0 and decoded.records == records


def test_roundtrip_of_edge_texts():
    texts = ["", "\n", "  lead\n\ntrail  \n", "a\r\nb\r", "\n\n\n", "x", "", "é\tü", " "]
    records = [{"episode": "t", "step": i, "obs": t, "action": "wait"}
               for i, t in enumerate(texts)]
    encoded = diffhist("encode", "-q", input=jsonl(records))
    decoded = diffhist("decode", "-q", input=encoded.stdout)
    assert decoded.exit_code == 0 and decoded.records == records


def test_paper_mode_decodes_up_to_the_normalisation():
    texts = ["  a\nb\n", "a\r\nc\n\n", "\n c \n", "d"]
    records = [{"episode": "t", "step": i, "obs": t, "action": "wait"}
               for i, t in enumerate(texts)]
    encoded = diffhist("encode", "-q", "--paper", input=jsonl(records))
    assert encoded.records[1]["obs_diff"] == "@@ -2 +2 @@\n-b\n+c"
    decoded = diffhist("decode", "-q", "--paper", input=encoded.stdout).records
    assert encoded.records[0]["obs_diff"] == "a\nb"  # whole, normalised like the rest
    assert [r["obs"] for r in decoded] == ["\n".join(t.strip().splitlines()) for t in texts]


def test_paper_and_exact_encodings_agree_on_nethack(interleaved):
    exact = diffhist("encode", "-q", input=jsonl(interleaved)).stdout
    paper = diffhist("encode", "-q", "--paper", input=jsonl(interleaved)).stdout
    assert exact == paper


def test_example_pipeline_is_byte_identical(tmp_path):
    done = shell(f"papertools diffhist encode -q {EPISODES} | papertools diffhist decode -q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == gzip.decompress(EPISODES.read_bytes())


def test_windows_prompt_stats_read_encoded_streams(interleaved):
    raw = jsonl(interleaved)
    encoded = diffhist("encode", "-q", input=raw).stdout
    for command in (["windows", "--steps", "8"], ["prompt", "--history", "3"], ["stats", "--json"]):
        assert diffhist(*command, "-q", input=raw).stdout == \
            diffhist(*command, "-q", input=encoded).stdout


# -- windows -----------------------------------------------------------------------------------

def test_windows_format_and_full_twin(nle_episodes, interleaved):
    k = 8
    run = diffhist("windows", "--steps", str(k), "-q", input=jsonl(interleaved))
    assert run.exit_code == 0, run.stderr
    twin = diffhist("windows", "--steps", str(k), "--full", "-q", input=jsonl(interleaved))
    windows, full = run.records, twin.records
    assert windows and len(windows) == len(full)
    steps = {(r["episode"], r["step"]): r for e in nle_episodes for r in e}
    for w, f in zip(windows, full):
        assert (w["id"], w["episode"], w["start"], w["steps"]) == \
            (f["id"], f["episode"], f["start"], f["steps"])
        assert w["id"] == f"{w['episode']}:{w['start']}" and w["steps"] == k
        chunk = [steps[(w["episode"], w["start"] + t)] for t in range(k)]
        obs, actions = [c["obs"] for c in chunk], [c["action"] for c in chunk]
        assert w["prompt"] == f["prompt"] == f"{INSTRUCTION}\n\n{obs[0]}\n\n"
        c = w["completion"]
        assert c.startswith(f"{ACTION}{actions[0]}\n{OBSERVATION}\n")
        assert c.endswith(f"\n{ACTION}{actions[-1]}")
        assert c.count(ACTION) == k and c.count(OBSERVATION) == k - 1
        diffs = [unified_diff(obs[t].split("\n"), obs[t + 1].split("\n")) for t in range(k - 1)]
        assert c == "".join(f"{ACTION}{actions[t]}\n{OBSERVATION}\n{diffs[t]}\n"
                            for t in range(k - 1)) + f"{ACTION}{actions[-1]}"
        assert f["completion"] == "".join(f"{ACTION}{actions[t]}\n{OBSERVATION}\n{obs[t + 1]}\n"
                                          for t in range(k - 1)) + f"{ACTION}{actions[-1]}"
        for t, (start, end) in enumerate(w["label_spans"]):
            assert c[start:end] == f"{ACTION}{actions[t]}" + (f"\n{OBSERVATION}" if t < k - 1
                                                                else "")
        for t, (start, end) in enumerate(f["label_spans"]):
            assert f["completion"][start:end].startswith(f"{ACTION}{actions[t]}")


def window_starts(records):
    starts = {}
    for r in records:
        starts.setdefault(r["episode"], []).append(r["start"])
    return starts


def test_windows_do_not_overlap_by_default_and_stride_overlaps(interleaved):
    k = 7
    for starts in window_starts(diffhist("windows", "--steps", str(k), "-q",
                                         input=jsonl(interleaved)).records).values():
        assert all(b - a >= k for a, b in zip(starts, starts[1:]))
        assert starts[0] < k  # windows tile the episode from an offset below k
    strided = diffhist("windows", "--steps", str(k), "--stride", "2", "-q", input=jsonl(interleaved))
    for starts in window_starts(strided.records).values():
        assert all(b - a == 2 for a, b in zip(starts, starts[1:]))


def test_windows_seed_changes_offsets_deterministically(interleaved):
    def run(seed):
        return diffhist("windows", "--steps", "9", "--seed", str(seed), "-q", input=jsonl(interleaved))

    assert run(3).stdout == run(3).stdout
    offsets = {tuple(s[0] for s in window_starts(run(seed).records).values())
               for seed in range(8)}
    assert len(offsets) > 1
    full = diffhist("windows", "--steps", "9", "--seed", "5", "--full", "-q", input=jsonl(interleaved))
    assert [r["id"] for r in full.records] == [r["id"] for r in run(5).records]


def test_windows_max_per_episode(interleaved):
    run = diffhist("windows", "--steps", "4", "--max-per-episode", "2", "-q", input=jsonl(interleaved))
    starts = window_starts(run.records)
    assert len(starts) == 2 and all(len(s) == 2 and s == sorted(s) for s in starts.values())


def test_windows_short_episode_is_a_reject():
    records = [{"episode": "s", "step": i, "obs": str(i), "action": "north"} for i in range(3)]
    run = diffhist("windows", "--steps", "5", input=jsonl(records))
    assert run.exit_code == 0 and run.records == []
    assert "reject" in run.stderr and "<stdin>:1" in run.stderr
    strict = diffhist("windows", "--steps", "5", "--strict", input=jsonl(records))
    assert strict.exit_code == 1


# -- prompt ------------------------------------------------------------------------------------

def test_prompt_fits_max_tokens(interleaved):
    for budget in (1500, 3000, 6000):
        run = diffhist("prompt", "--max-prompt-tokens", str(budget), "-q", input=jsonl(interleaved))
        assert run.exit_code == 0, run.stderr
        assert len(run.records) == 2
        for r in run.records:
            assert r["prompt"].endswith(ACTION)
            assert r["tokens"] == approx_tokens(r["prompt"]) <= budget
            assert r["prompt"].count(ACTION) == r["history"] + 1
            assert r["id"] == f"{r['episode']}:{r['step']}"
    small = diffhist("prompt", "--max-prompt-tokens", "1500", "-q", input=jsonl(interleaved)).records
    large = diffhist("prompt", "--max-prompt-tokens", "6000", "-q", input=jsonl(interleaved)).records
    assert all(s["history"] < g["history"] for s, g in zip(small, large))


def test_prompt_history_caps_steps_and_all_steps(interleaved):
    run = diffhist("prompt", "--history", "2", "--all-steps", "-q", input=jsonl(interleaved))
    records = run.records
    assert len(records) == len(interleaved)
    assert [r["id"] for r in records] == [r["id"] for r in interleaved]
    seen: dict[str, list[str]] = {}
    for raw, r in zip(interleaved, records):
        past = seen.setdefault(raw["episode"], [])
        past.append(raw["obs"])
        assert r["history"] == min(2, len(past) - 1)
        oldest = past[-1 - r["history"]]
        assert r["prompt"].startswith(f"{INSTRUCTION}\n\n{oldest}\n\n")
        assert r["prompt"].count(ACTION) == r["history"] + 1 and r["prompt"].endswith(ACTION)
    whole = diffhist("prompt", "-q", input=jsonl(interleaved)).records
    first = interleaved[0]
    assert whole[0]["prompt"].startswith(f"{INSTRUCTION}\n\n{first['obs']}\n\n{ACTION}")


def test_prompt_instruction_option():
    records = [{"episode": "e", "step": 0, "obs": "o0", "action": "north"},
               {"episode": "e", "step": 1, "obs": "o1", "action": None}]
    run = diffhist("prompt", "--instruction", "Play.", "-q", input=jsonl(records))
    assert run.records[0]["prompt"] == \
        "Play.\n\no0\n\n<|action|>north\n<|observation|>\n@@ -1 +1 @@\n-o0\n+o1\n<|action|>"


# -- stats -------------------------------------------------------------------------------------

def test_stats_json_totals_are_consistent(interleaved, nle_episodes):
    run = diffhist("stats", "--json", "-q", input=jsonl(interleaved))
    assert run.exit_code == 0, run.stderr
    *rows, summary = run.records
    assert summary["id"] == "summary" and summary["episodes"] == len(rows) == 2
    for key in ("steps", "chars_full", "chars_diff", "tokens_full", "tokens_diff"):
        assert summary[key] == sum(r[key] for r in rows)
    assert summary["steps"] == len(interleaved)
    for r, episode in zip(rows, nle_episodes[:2]):
        assert r["episode"] == episode[0]["episode"] and r["steps"] == len(episode)
        assert r["chars_full"] == sum(len(s["obs"]) for s in episode)
        assert r["tokens_full"] == sum(approx_tokens(s["obs"]) for s in episode)
        assert r["ratio"] == round(r["tokens_full"] / r["tokens_diff"], 4)
    assert summary["ratio"] == round(summary["tokens_full"] / summary["tokens_diff"], 4) > 1.5
    assert summary["tokenizer"].startswith("approx")


def test_stats_table_matches_json(interleaved):
    table = diffhist("stats", "-q", input=jsonl(interleaved))
    assert table.exit_code == 0
    lines = table.stdout.decode().splitlines()
    assert lines[0].split() == ["episode", "steps", "tokens", "full", "tokens", "diff", "ratio"]
    *rows, summary = diffhist("stats", "--json", "-q", input=jsonl(interleaved)).records
    for line, r in zip(lines[1:3], rows):
        assert line.split() == [r["episode"], str(r["steps"]), f"{r['tokens_full']:,}",
                                f"{r['tokens_diff']:,}", f"{r['ratio']:.2f}"]
    assert lines[3].split() == ["all", str(summary["steps"]), f"{summary['tokens_full']:,}",
                                f"{summary['tokens_diff']:,}", f"{summary['ratio']:.2f}"]
    assert f"ratio {summary['chars_ratio']:.2f}" in lines[4]


def test_stats_plot_writes_a_png(interleaved, tmp_path):
    png = tmp_path / "ratio.png"
    run = diffhist("stats", "--plot", str(png), "-q", input=jsonl(interleaved))
    assert run.exit_code == 0, run.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_with_a_local_tokenizer(interleaved, tmp_path):
    from papertools.core.models.tokenizer import train_bpe

    tok = train_bpe([r["obs"] for r in interleaved[:40]], vocab_size=400)
    tok.save_pretrained(tmp_path / "tok")
    run = diffhist("stats", "--json", "--tokenizer", str(tmp_path / "tok"), "-q",
                   input=jsonl(interleaved))
    assert run.exit_code == 0, run.stderr
    summary = run.records[-1]
    assert summary["tokenizer"] == str(tmp_path / "tok")
    first = interleaved[0]["obs"]
    assert run.records[0]["tokens_full"] >= len(tok(first, add_special_tokens=False)["input_ids"])
    assert summary["ratio"] > 1.5


def test_stats_of_nothing_is_a_table_of_zeros():
    """Empty input is not an error (papertools-jsonl(7)): the table, or the summary record."""
    run = diffhist("stats", input=b"")
    assert run.exit_code == 0 and run.stderr == ""
    assert run.stdout.decode().splitlines()[1].split()[:4] == ["all", "0", "0", "0"]
    run = diffhist("stats", "--json", input=b"")
    assert run.exit_code == 0
    assert run.records == [{"id": "summary", "episodes": 0, "steps": 0, "chars_full": 0,
                            "chars_diff": 0, "tokens_full": 0, "tokens_diff": 0, "ratio": None,
                            "chars_ratio": None, "median_episode_ratio": None,
                            "tokenizer": "approx (UTF-8 bytes / 4)"}]


# -- bad input ---------------------------------------------------------------------------------

GOOD = [{"episode": "e", "step": 0, "obs": "a\nb", "action": "north"},
        {"episode": "e", "step": 1, "obs": "a\nc", "action": "east"}]

BAD = [
    ("encode", jsonl([GOOD[0], {**GOOD[1], "step": 0}]),
     "<stdin>:2: field 'step': episode 'e': step 0 out of order (after step 0)"),
    ("encode", jsonl([GOOD[0], {k: v for k, v in GOOD[1].items() if k != "obs"}]),
     "<stdin>:2: field 'obs': missing field"),
    ("encode", jsonl([{k: v for k, v in GOOD[0].items() if k != "episode"}]),
     "<stdin>:1: field 'episode': missing field"),
    ("encode", jsonl([{k: v for k, v in GOOD[0].items() if k != "step"}]),
     "<stdin>:1: field 'step': missing field"),
    ("encode", jsonl([{**GOOD[0], "step": "0"}]),
     "<stdin>:1: field 'step': expected an integer, got a string"),
    ("encode", jsonl([{**GOOD[0], "obs": 3}]),
     "<stdin>:1: field 'obs': expected a string, got a number"),
    ("decode", jsonl([{"episode": "e", "step": 0, "obs_diff": "a\nb", "obs_full": True},
                      {"episode": "e", "step": 1, "obs_diff": "@@ -2 +2 @@\n-x\n+c",
                       "obs_full": False}]),
     "<stdin>:2: field 'obs_diff': does not apply to the episode's previous observation: "
     "hunk 1: line 2 is 'b', the diff expects 'x'"),
    ("decode", jsonl([{"episode": "e", "step": 4, "obs_diff": "@@ -2 +2 @@\n-b\n+c",
                       "obs_full": False}]),
     "<stdin>:1: field 'obs_full': episode 'e' starts with a diff (obs_full false): its first "
     "step is missing"),
    ("decode", jsonl([{"episode": "e", "step": 0, "obs_diff": "a", "obs_full": True},
                      {"episode": "e", "step": 1, "obs_diff": "a", "obs_full": True},
                      {"episode": "e", "step": 1, "obs_diff": "", "obs_full": False}]),
     "<stdin>:3: field 'step': episode 'e': step 1 out of order (after step 1)"),
    ("decode", jsonl([{"episode": "e", "step": 0, "obs_diff": "a"}]),
     "<stdin>:1: field 'obs_full': missing field"),
    ("decode", jsonl([{"episode": "e", "step": 0, "action": "north"}]),
     "<stdin>:1: field 'obs': missing field (a step needs 'obs', or 'obs_diff' and 'obs_full')"),
    ("windows", jsonl([GOOD[1], GOOD[0]]),
     "<stdin>:2: field 'step': episode 'e': step 0 out of order (after step 1)"),
    ("prompt", jsonl([GOOD[0], {k: v for k, v in GOOD[1].items() if k != "obs"}]),
     "<stdin>:2: field 'obs': missing field (a step needs 'obs', or 'obs_diff' and 'obs_full')"),
    ("stats", jsonl([GOOD[0], {**GOOD[1], "episode": 7}]),
     "<stdin>:2: field 'episode': expected a string, got a number"),
]


@pytest.mark.parametrize("command,data,message", BAD)
def test_bad_input_is_one_clean_line_and_exit_1(command, data, message):
    run = diffhist(command, input=data)
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines() == [f"papertools diffhist: error: {message}"]


def test_bad_input_names_the_file(tmp_path):
    path = tmp_path / "steps.jsonl"
    path.write_bytes(jsonl([{**GOOD[0], "step": 5}, GOOD[1]]))
    run = diffhist("encode", str(path))
    assert run.exit_code == 1
    assert run.stderr.strip() == (f"papertools diffhist: error: {path}:2: field 'step': episode "
                                  "'e': step 1 out of order (after step 5)")


def test_on_error_skip_encodes_the_rest_and_exits_1(interleaved):
    bad = dict(interleaved[5])
    del bad["obs"]
    records = interleaved[:5] + [bad] + interleaved[6:]
    run = diffhist("encode", "--on-error", "skip", input=jsonl(records))
    assert run.exit_code == 1
    assert "<stdin>:6: field 'obs': missing field" in run.stderr
    assert len(run.records) == len(interleaved) - 1
    # the later steps of that episode are diffs against the last step kept, so the stream (with
    # its gap) decodes to every other step exactly
    decoded = diffhist("decode", "-q", input=run.stdout)
    assert decoded.exit_code == 0
    assert decoded.records == interleaved[:5] + interleaved[6:]


def test_on_error_skip_decodes_the_other_episodes(interleaved):
    encoded = diffhist("encode", "-q", input=jsonl(interleaved)).records
    broken = [dict(r) for r in encoded]
    target = next(i for i, r in enumerate(broken) if not r["obs_full"] and r["obs_diff"])
    broken[target]["obs_diff"] = "@@ -1 +1 @@\n-no such line\n+x"
    run = diffhist("decode", "--on-error", "skip", input=jsonl(broken))
    assert run.exit_code == 1
    assert f"<stdin>:{target + 1}: field 'obs_diff': does not apply" in run.stderr
    bad_episode = broken[target]["episode"]
    got = obs_by_id(run.records)
    want = obs_by_id(interleaved)
    # every record decoded is right; the other episode is whole; the broken one stops at the diff
    assert all(want[i] == obs for i, obs in got.items())
    other = [r["id"] for r in interleaved if r["episode"] != bad_episode]
    assert all(i in got for i in other)
    assert interleaved[target]["id"] not in got
    later = [i for i, r in enumerate(broken) if i > target and r["episode"] == bad_episode]
    if later:  # the rest of that episode says why it cannot be decoded
        assert (f"<stdin>:{later[0] + 1}: field 'obs_diff': episode {bad_episode!r}: cannot "
                f"decode after the diff at <stdin>:{target + 1} that did not apply") in run.stderr


def test_on_error_skip_with_a_bad_json_line(interleaved):
    data = jsonl(interleaved[:3]) + b"not json\n" + jsonl(interleaved[3:])
    run = diffhist("encode", "--on-error", "skip", input=data)
    assert run.exit_code == 1 and "<stdin>:4: not valid JSON" in run.stderr
    assert len(run.records) == len(interleaved)


def test_interleave_helper():
    a = [{"episode": "a", "step": i} for i in range(3)]
    b = [{"episode": "b", "step": i} for i in range(1)]
    assert [(r["episode"], r["step"]) for r in interleave(a, b)] == \
        [("a", 0), ("b", 0), ("a", 1), ("a", 2)]
