"""bench convert: a run folder becomes a trajectory dataset whose actions replay the step logs."""

from __future__ import annotations

import numpy as np
import orjson

from papertools.core.trajectories import TrajectoryDataset, decode_text
from tests.helpers import invoke


def test_convert_a_bot_run_and_refuse_other_folders(tmp_path):
    run = tmp_path / "run"
    assert invoke(["bench", "run", "--env", "babyai/goto", "--agent", "bot", "--episodes", "2",
                   "--out-dir", str(run), "-q"]).exit_code == 0
    res = invoke(["bench", "convert", str(run), "--out-dir", str(tmp_path / "traj"), "-q"])
    assert res.exit_code == 0, res.stderr
    data = TrajectoryDataset(tmp_path / "traj")
    assert [e["id"] for e in data.episodes] == ["babyai/goto/0", "babyai/goto/1"]
    words = data.meta["action_words"]
    for episode in data.episodes:
        steps = [orjson.loads(line) for line in
                 (run / episode["steps_file"]).read_bytes().splitlines()]
        arrays = data.load(episode["id"])
        assert [words[a] for a in arrays["actions"].tolist()] == [s["action"] for s in steps]
        assert decode_text(arrays["obs/text"][0]) == steps[0]["obs"]
        assert episode["success"] is True and np.isclose(arrays["rewards"].sum(), episode["return"])
    again = invoke(["bench", "convert", str(run), "--out-dir", str(tmp_path / "traj"), "-q"])
    assert again.exit_code == 1 and "(--resume)" in again.stderr
    bad = invoke(["bench", "convert", str(tmp_path), "--out-dir", str(tmp_path / "x"), "-q"])
    assert bad.exit_code == 1
    assert "neither an nhrecord dataset" in bad.stderr
