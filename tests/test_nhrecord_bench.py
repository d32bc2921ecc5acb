"""nhrecord's benchmark plays the agent before issue 22 from git: its crash fixes must still
apply to that code, or its games would end in an exception instead of as NetHack ends them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_the_old_agent_is_unpacked_with_its_crash_fixes_applied(tmp_path):
    import nhrecord_bench as bench

    have = subprocess.run(["git", "cat-file", "-e", f"{bench.OLD_REV}^{{commit}}"], cwd=ROOT,
                          capture_output=True).returncode == 0
    if not have:
        pytest.skip("a shallow clone: the old agent's commit is not here")
    command, env, applied = bench.old_agent_command(bench.OLD_REV, tmp_path)
    assert applied == [why for *_, why in bench.OLD_AGENT_FIXES]
    code = (tmp_path / "old-agent" / "core" / "nethack" / "agent.py").read_text()
    assert "glyph_is_monster" in code
    run = subprocess.run([*command, "nhrecord", "record", "--max-steps", "50", "--json",
                          "--no-screens", "-q"], env=env, cwd=tmp_path, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert len(run.stdout.splitlines()) == 50


def test_the_development_loop_plays_resumes_and_compares(tmp_path, capsys):
    import nhrecord_dev as dev

    out = tmp_path / "dev"
    dev.main(["play", str(out), "--seeds", "5", "--episodes", "2", "--max-steps", "150",
              "--workers", "1"])
    first = sorted(p.name for p in (out / "seed-5").iterdir())
    assert "done" in first and sum(n.startswith("game-") for n in first) == 2
    marker = (out / "seed-5" / "done").stat().st_mtime_ns
    dev.main(["play", str(out), "--seeds", "5", "--episodes", "2", "--max-steps", "150"])
    assert (out / "seed-5" / "done").stat().st_mtime_ns == marker  # finished: not played again
    capsys.readouterr()
    dev.main(["compare", str(out), str(out)])
    text = capsys.readouterr().out
    assert "2 games, median" in text and "0 better, 0 worse, 2 the same" in text
    assert "mean score gained per game: +0 [+0, +0]" in text and "died while fainted" in text
    assert "by role, better/worse (median): " in text
    dev.main(["odds", str(out), "--goal", "1e9", "--games", "3"])
    text = capsys.readouterr().out
    assert text.startswith("2 games, median ") and "0% at 1,000,000,000 or more" in text
    assert "the median of 3 such games reaches 1,000,000,000: 0.0% of draws" in text
    for bad in (["odds", str(tmp_path / "none")], ["odds", str(out), "--games", "0"]):
        with pytest.raises(SystemExit):  # no games there; an empty set
            dev.main(bad)
    with pytest.raises(SystemExit):
        dev.main(["play", str(out), "--seeds", "31337"])  # the evaluation games: never


def test_the_paired_mean_gain_is_new_minus_base_game_by_game():
    import nhrecord_dev as dev

    base = {(1, 0): (100, 3, "newt", ""), (1, 1): (500, 4, "rothe", "praying")}
    new = {(1, 0): (400, 5, "jackal", ""), (1, 1): (500, 4, "rothe", "praying"),
           (2, 0): (9_999, 9, "", "")}  # played by one side only: not paired
    gain, lo, hi = dev.paired_mean_gain(base, new, sorted(set(base) & set(new)))
    assert gain == 150 and lo <= gain <= hi and hi <= 300 and lo >= 0


def test_by_role_counts_each_roles_better_and_worse_games():
    import nhrecord_dev as dev

    base = {(1, 0): (100, 3, "newt", "", "Hea"), (1, 1): (500, 4, "rothe", "", "Hea"),
            (1, 2): (900, 5, "rothe", "", "Val")}
    new = {(1, 0): (300, 3, "newt", "", "Hea"), (1, 1): (200, 4, "rothe", "", "Hea"),
           (1, 2): (900, 5, "rothe", "", "Val")}
    text = dev.by_role(base, new, sorted(base))
    assert text == "Hea 1/1 (300 -> 250), Val 0/0 (900 -> 900)"


def test_goal_odds_is_the_share_of_drawn_medians_at_the_goal():
    import nhrecord_dev as dev

    assert dev.goal_odds([1_000] * 10, 2_000, games=5, scales=(1.0, 2.0), reps=50) == \
        [(1.0, 0.0), (2.0, 1.0)]
    # two scores, half each: the median of 3 draws reaches 3,000 when 2 or 3 of them do (1/2)
    (_, p), = dev.goal_odds([0, 3_000], 3_000, games=3, scales=(1.0,), reps=20_000)
    assert abs(p - 0.5) < 0.02
    shares = [q for _, q in dev.goal_odds(list(range(0, 4_000, 10)), 2_200, games=51)]
    assert shares == sorted(shares) and shares[0] < 0.5 < shares[-1]
