"""The training-run layer (core.training): the run folder, checkpoints, random states, AdamW,
schedules and the epoch loop's bookkeeping."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from papertools.core.errors import PapertoolsError
from papertools.core.training import (RunDir, adamw, checkpoint_on_interrupt, epoch_done,
                                      load_checkpoint, rng_state, save_checkpoint,
                                      set_rng_state, step_done, warmup_schedule)
from tests.helpers import ROOT

SETTINGS = {"lr": 0.1, "epochs": 2, "log_every": 5, "sizes": (3, 4)}


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the run folder ----------------------------------------------------------------------------


def test_a_fresh_run_records_settings_tees_the_log_and_marks_the_end(tmp_path):
    echoed = []
    with RunDir(tmp_path / "run", SETTINGS, echo=echoed.append) as run:
        assert not run.resumed and run.finished is None
        run.log({"step": 1, "loss": 0.5})
        run.log({"step": 2, "loss": 0.25})
        run.finish({"steps": 2})
    folder = tmp_path / "run"
    assert json.loads((folder / "settings.json").read_text()) == dict(SETTINGS, sizes=[3, 4])
    assert _lines(folder / "log.jsonl") == echoed == [{"step": 1, "loss": 0.5},
                                                      {"step": 2, "loss": 0.25}]
    with RunDir(folder, SETTINGS, resume=True) as run:
        assert run.resumed and run.finished == {"steps": 2}


def test_a_non_empty_folder_is_refused_without_resume_and_left_as_it_was(tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("mine")
    with pytest.raises(PapertoolsError, match="is not empty: choose a new or empty --out-dir"):
        RunDir(tmp_path, SETTINGS).__enter__()
    with pytest.raises(PapertoolsError, match=r"holds no run to resume \(no settings.json\)"):
        RunDir(tmp_path, SETTINGS, resume=True).__enter__()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # no lock file left behind
    with RunDir(tmp_path / "run", SETTINGS) as run:
        run.finish({})
    with pytest.raises(PapertoolsError, match="already holds a run: --resume continues it"):
        RunDir(tmp_path / "run", SETTINGS).__enter__()


def test_resume_with_other_settings_names_the_keys_in_one_line(tmp_path):
    with RunDir(tmp_path, SETTINGS) as run:
        run.save_checkpoint(state={"step": 1})
    other = dict(SETTINGS, lr=0.2, log_every=10, sizes=(3, 5), seed=1)
    with pytest.raises(PapertoolsError) as err:
        RunDir(tmp_path, other, resume=True, mutable=("log_every",)).__enter__()
    assert str(err.value) == (f"--resume: {tmp_path} was started with other settings: lr 0.1 "
                              "(now 0.2), sizes [3,4] (now [3,5]), seed absent (now 1); give the "
                              "same, or choose another --out-dir")
    # a mutable key may change, and its new value is recorded
    with RunDir(tmp_path, dict(SETTINGS, log_every=10), resume=True, mutable=("log_every",)):
        pass
    assert json.loads((tmp_path / "settings.json").read_text())["log_every"] == 10


def test_the_lock_refuses_a_second_concurrent_run(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from papertools.core.training import RunDir
            with RunDir({str(tmp_path)!r}, {{"lr": 0.1}}) as run:
                run.log({{"step": 1}})
                print("ready", flush=True)
                sys.stdin.readline()
            """)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == '{"step":1}\n'  # the log goes to stdout too
        assert holder.stdout.readline() == "ready\n"
        with pytest.raises(PapertoolsError) as err:
            RunDir(tmp_path, {"lr": 0.1}, resume=True).__enter__()
        assert str(err.value) == f"{tmp_path} is in use by another run (process {holder.pid})"
    finally:
        holder.communicate("\n")
    assert holder.returncode == 0
    with RunDir(tmp_path, {"lr": 0.1}, resume=True):  # free once the holder has ended
        pass


def test_a_failure_before_the_first_checkpoint_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with RunDir(tmp_path / "new", SETTINGS) as run:
            run.log({"step": 1})
            (tmp_path / "new" / "tokenizer.json").write_text("{}")
            raise RuntimeError("model failed to load")
    assert not (tmp_path / "new").exists()  # the same command can simply run again
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError):
        with RunDir(tmp_path / "empty", SETTINGS, resume=True) as run:
            raise RuntimeError
    assert list((tmp_path / "empty").iterdir()) == []
    with pytest.raises(KeyboardInterrupt):  # with a checkpoint the run is kept
        with RunDir(tmp_path / "kept", SETTINGS) as run:
            run.save_checkpoint(state={"step": 1})
            raise KeyboardInterrupt
    assert load_checkpoint(tmp_path / "kept").state == {"step": 1}


def test_resume_cuts_the_log_back_to_the_checkpoint(tmp_path):
    with pytest.raises(RuntimeError):
        with RunDir(tmp_path, SETTINGS, echo=lambda r: None) as run:
            for step in (1, 2, 3):
                run.log({"step": step})
                if step == 2:
                    run.save_checkpoint(state={"step": step})
            raise RuntimeError("killed at step 3")
    assert [r["step"] for r in _lines(tmp_path / "log.jsonl")] == [1, 2, 3]
    with RunDir(tmp_path, SETTINGS, resume=True, echo=lambda r: None) as run:
        assert run.load_checkpoint().state == {"step": 2}
        run.log({"step": 3})
    assert [r["step"] for r in _lines(tmp_path / "log.jsonl")] == [1, 2, 3]  # step 3 once


def test_a_finished_run_can_be_reopened(tmp_path):
    with RunDir(tmp_path, SETTINGS) as run:
        run.save_checkpoint(state={"step": 4})
        run.finish({"steps": 4}, keep_checkpoint=True)
    with RunDir(tmp_path, SETTINGS, resume=True) as run:
        assert run.finished == {"steps": 4}
        run.reopen()
        assert run.finished is None and not (tmp_path / "finished.json").exists()
        assert run.load_checkpoint().state == {"step": 4}
        run.finish({"steps": 8})
    assert not (tmp_path / "checkpoint").exists()  # dropped unless kept


# -- checkpoints -------------------------------------------------------------------------------


@pytest.mark.parametrize("when,left", [
    ("between", ["checkpoint.old", "checkpoint.tmp"]),  # the old one is what there is
    ("after", ["checkpoint", "checkpoint.old"]),  # the new one is in place, the old one stayed
])
def test_a_crash_while_a_checkpoint_is_replaced_still_resumes(tmp_path, when, left):
    """The process is killed (SIGKILL) right before the second rename of a checkpoint save, or
    right after it (before the old checkpoint is removed); the next run resumes and saves."""
    child = textwrap.dedent(f"""
        import os, signal, sys
        from papertools.core.training import RunDir
        renames = []

        def kill(frame, event, arg):
            if event != "call":
                return
            name, file = frame.f_code.co_name, frame.f_code.co_filename
            if name == "rename" and file.endswith("pathlib.py"):
                renames.append(1)
                if len(renames) == 2 and {when!r} == "between":
                    os.kill(os.getpid(), signal.SIGKILL)
            if name == "rmtree" and len(renames) == 2 and {when!r} == "after":
                os.kill(os.getpid(), signal.SIGKILL)

        with RunDir({str(tmp_path)!r}, {{"lr": 0.1}}) as run:
            run.save_checkpoint(state={{"step": 1}})
            sys.setprofile(kill)
            run.save_checkpoint(state={{"step": 2}})
        """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT)
    assert proc.returncode == -9
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("checkpoint")) == left
    with RunDir(tmp_path, {"lr": 0.1}, resume=True) as run:  # the lock died with the process
        assert run.load_checkpoint().state == {"step": 1 if when == "between" else 2}
        run.save_checkpoint(state={"step": 3})
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("checkpoint")) == \
        ["checkpoint"]
    assert load_checkpoint(tmp_path).state == {"step": 3}


def _net():
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.5),
                               torch.nn.LayerNorm(8), torch.nn.Linear(8, 1))


def _steps(net, optimizer, scheduler, n):
    for _ in range(n):
        x = torch.as_tensor(np.random.standard_normal((4, 3)), dtype=torch.float32)
        x = x + random.random()
        loss = net(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def test_a_checkpoint_restores_model_optimiser_schedule_and_random_streams(tmp_path):
    """Three steps, a checkpoint, three more steps == restore the checkpoint, three steps (the
    steps draw from Python's, numpy's and torch's global generators: dropout, data)."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    net = _net()
    opt = adamw(net, 0.01)
    sched = warmup_schedule(opt, 6, warmup_steps=2)
    _steps(net, opt, sched, 3)
    save_checkpoint(tmp_path, state={"step": 3}, optimizer=opt, scheduler=sched,
                    modules={"net": net})
    _steps(net, opt, sched, 3)
    torch.manual_seed(1)  # a fresh process: other weights, other random states
    np.random.seed(1)
    random.seed(1)
    again = _net()
    opt2 = adamw(again, 0.01)
    sched2 = warmup_schedule(opt2, 6, warmup_steps=2)
    saved = load_checkpoint(tmp_path)
    saved.restore(optimizer=opt2, scheduler=sched2, modules={"net": again})
    assert saved.state == {"step": 3}
    _steps(again, opt2, sched2, 3)
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_rng_states_round_trip_with_generators():
    gens = [np.random.default_rng(3), random.Random(4), torch.Generator().manual_seed(5),
            np.random.RandomState(6)]

    def draw():
        return (random.random(), float(np.random.random()), float(torch.rand(1)),
                float(gens[0].random()), gens[1].random(), float(torch.rand(1, generator=gens[2])),
                float(gens[3].random_sample()))

    state = rng_state(gens)
    first = draw()
    assert draw() != first
    set_rng_state(state, gens)
    assert draw() == first
    with pytest.raises(PapertoolsError, match="holds 4 generator states, 1 generators"):
        set_rng_state(state, gens[:1])


def test_an_environments_random_state_round_trips():
    gymnasium = pytest.importorskip("gymnasium")
    env = gymnasium.make("CartPole-v1")
    env.reset(seed=1)
    env.action_space.seed(2)

    def play():
        obs, _ = env.reset()  # unseeded: drawn from the environment's generator
        return obs.tolist(), [int(env.action_space.sample()) for _ in range(8)]

    state = rng_state(env=env)
    first = play()
    assert play() != first
    set_rng_state(state, env=env)
    assert play() == first


# -- optimiser and schedule --------------------------------------------------------------------


def test_adamw_decays_weight_matrices_only():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.norm = torch.nn.LayerNorm(4)
            self.proj = torch.nn.Linear(4, 4)
            self.head = torch.nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight  # tied: one parameter
            self.frozen = torch.nn.Linear(4, 4)
            self.frozen.requires_grad_(False)

    model = Model()
    names = {id(p): n for n, p in model.named_parameters()}

    def groups(opt):
        return [(g["weight_decay"], sorted(names[id(p)] for p in g["params"]))
                for g in opt.param_groups]

    opt = adamw(model, 1e-3, 0.1)
    assert groups(opt) == [(0.1, ["embed.weight", "proj.weight"]),
                           (0.0, ["norm.bias", "norm.weight", "proj.bias"])]
    assert all(g["lr"] == 1e-3 for g in opt.param_groups)
    assert groups(adamw(model, 1e-3, 0.1, decay_embeddings=False)) == [
        (0.1, ["proj.weight"]), (0.0, ["embed.weight", "norm.bias", "norm.weight", "proj.bias"])]
    # parts given as modules and parameters: each parameter once
    mixed = adamw([model.proj, model.norm.weight, model.proj.weight], 1e-3, 0.1)
    assert groups(mixed) == [(0.1, ["proj.weight"]), (0.0, ["norm.weight", "proj.bias"])]


def test_warmup_schedule_linear_and_cosine():
    def factors(**kw):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = warmup_schedule(opt, 10, **kw)
        out = []
        for _ in range(11):
            out.append(round(sched.get_last_lr()[0], 6))
            opt.step()
            sched.step()
        return out

    assert factors(warmup_steps=2) == [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25,
                                       0.125, 0.0]
    assert factors(warmup_ratio=0.2) == factors(warmup_steps=2)
    cosine = factors(warmup_steps=2, decay="cosine", min_ratio=0.1)
    assert cosine[:3] == [0.5, 1.0, 1.0] and cosine[6] == 0.55 and cosine[10] == 0.1
    assert factors(warmup_steps=4, decay="constant") == [0.25, 0.5, 0.75] + [1.0] * 8
    with pytest.raises(PapertoolsError, match="unknown decay 'step'"):
        factors(decay="step")


# -- the epoch loop ----------------------------------------------------------------------------


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
