"""Part O's test data: small real demonstrations played by the BabyAI bot through bench collect."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import invoke

LEVEL = "babyai/KeyCorridorS3R3"  # bot episodes of about 40 to 100 steps
OTHER = "babyai/GoTo"


def bot_dataset(folder: Path, env: str = LEVEL, episodes: int = 24, seed: int = 0) -> Path:
    """``bench collect --agent bot`` into ``folder`` (made once per folder)."""
    if not (folder / "episodes.jsonl").exists():
        run = invoke(["bench", "collect", "--env", env, "--episodes", str(episodes),
                      "--out-dir", str(folder), "--seed", str(seed), "-q"])
        assert run.exit_code == 0, run.stderr
    return folder
