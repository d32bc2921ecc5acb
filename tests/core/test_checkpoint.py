"""The training loops' shared bookkeeping (core.checkpoint): logs, checkpoints, Ctrl-C."""

from __future__ import annotations

import pytest

from papertools.core.checkpoint import checkpoint_on_interrupt, epoch_done, step_done


def test_epoch_loop_bookkeeping_logs_checkpoints_and_keeps_work_on_ctrl_c():
    events, state = [], {"step": 0, "epoch": 0, "batch": 0}

    class Bar:
        closed = False

        def close(self):
            self.closed = True

    bar = Bar()
    with pytest.raises(KeyboardInterrupt):
        with checkpoint_on_interrupt(lambda: events.append(("ckpt", state["step"])), bar):
            for _ in range(7):
                state["step"] += 1
                state["batch"] += 1
                step_done(state, 7, 3, 5, lambda: events.append(("log", state["step"])),
                          lambda: events.append(("ckpt", state["step"])))
            epoch_done(state, lambda: events.append(("epoch", state["epoch"])))
            raise KeyboardInterrupt
    assert events == [("log", 3), ("ckpt", 5), ("log", 6), ("log", 7), ("epoch", 1),
                      ("ckpt", 7)]
    assert state == {"step": 7, "epoch": 1, "batch": 0} and bar.closed
