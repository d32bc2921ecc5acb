"""Training checkpoints that survive a crash at any moment: OUT/checkpoint, replaced atomically.

A checkpoint is a folder: the model (written by the caller into ``<checkpoint>/<name>``) and
``state.pt`` (optimizer, scheduler, torch's RNG state and the loop's own state). It is written
to ``checkpoint.tmp`` and renamed into place; the previous one is kept as ``checkpoint.old``
until the rename is done, so a crash between the two renames still leaves one to resume from.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable


def save_checkpoint(out: Path, write_model: Callable[[Path], None], name: str, optimizer,
                    scheduler, state: dict) -> None:
    """Write a checkpoint; ``write_model(folder)`` saves the model (and tokenizer) there."""
    import torch

    tmp, final, old = out / "checkpoint.tmp", out / "checkpoint", out / "checkpoint.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_model(tmp / name)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(), "state": state}, tmp / "state.pt")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(out: Path, name: str):
    """(model folder, saved state dict), or (None, None) when there is no checkpoint."""
    import torch

    path = out / "checkpoint"
    if not (path / "state.pt").exists() and (out / "checkpoint.old" / "state.pt").exists():
        path = out / "checkpoint.old"  # a crash between the two renames
    if not (path / "state.pt").exists():
        return None, None
    return path / name, torch.load(path / "state.pt", weights_only=False)


# ---------------------------------------------------------------------------------------------
# The epoch loop's bookkeeping, shared by the training loops (distill, lintseq finetune). The
# loop's ``state`` holds at least "step", "epoch" and "batch" (the next batch of the epoch), so
# a checkpoint records exactly where to resume.


def step_done(state: dict, total_steps: int, log_every: int, save_every: int,
              emit_log: Callable[[], None], checkpoint: Callable[[], None]) -> None:
    """After an optimiser step: ``emit_log()`` every ``log_every`` steps and at the last step,
    a checkpoint every ``save_every`` steps (0: only at epoch ends)."""
    if state["step"] % log_every == 0 or state["step"] == total_steps:
        emit_log()
    if save_every and state["step"] % save_every == 0:
        checkpoint()


def epoch_done(state: dict, checkpoint: Callable[[], None]) -> None:
    """At an epoch's end: move to the next epoch's first batch and checkpoint."""
    state["epoch"] += 1
    state["batch"] = 0
    checkpoint()


@contextmanager
def checkpoint_on_interrupt(checkpoint: Callable[[], None], bar=None):
    """Ctrl-C inside saves a checkpoint (what was learned so far is kept; resume continues) and
    re-raises; the progress ``bar`` is closed either way."""
    try:
        yield
    except KeyboardInterrupt:
        checkpoint()
        raise
    finally:
        if bar is not None:
            bar.close()
