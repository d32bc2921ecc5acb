"""Training runs: the run folder, atomic checkpoints, random states, AdamW, schedules, progress.

Every trainer (lintseq finetune, distill train, compose-sample train, and the agent-learning
layer's learners) runs inside one :class:`RunDir`, in the order it runs::

    settings = {...}  # what the run is; --resume must give the same (but for ``mutable`` keys)
    with RunDir(out_dir, settings, resume=resume, mutable=("log_every",), echo=out.write) as run:
        if run.finished:  # a finished run: nothing left to do
            return run.finished
        model = ...
        optimizer = adamw(model, lr, weight_decay)
        scheduler = warmup_schedule(optimizer, total_steps, warmup_ratio=0.01)
        state = {"step": 0, "epoch": 0, "batch": 0}  # where the loop is
        saved = run.load_checkpoint()
        if saved is not None:
            saved.restore(optimizer=optimizer, scheduler=scheduler, modules={"model": model})
            state = saved.state

        def checkpoint():
            run.save_checkpoint(state=state, optimizer=optimizer, scheduler=scheduler,
                                modules={"model": model})

        with checkpoint_on_interrupt(checkpoint, bar):  # Ctrl-C keeps what was learned
            ...  # each step: run.log({...}) via step_done; each epoch: epoch_done
        run.finish(summary)

The folder::

    DIR/settings.json   the settings: written at the start, compared on --resume
    DIR/log.jsonl       the log records (each also goes to ``echo``: standard output); on
                        --resume it is cut back to what it held at the checkpoint
    DIR/checkpoint/     the latest checkpoint: state.pt (optimiser, scheduler, the modules'
                        state dicts, every random state, the loop's state) and the model
                        folders a trainer writes beside it; replaced atomically
    DIR/finished.json   the finished marker: the run's summary, written last
    DIR/.lock           locked (fcntl) while a process runs in the folder

Without --resume the folder must be new or empty; with it, a new or empty folder starts a run
and one holding a run continues it. A run that fails before its first checkpoint leaves the
folder as it found it, so the same command can simply run again. Under torchrun only the
primary process (rank 0) locks, checks and writes; the others read checkpoints.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import orjson

from .errors import PapertoolsError
from .jsonl import atomic_path, dumps, write_json

SETTINGS, LOG, FINISHED, LOCK, CHECKPOINT = ("settings.json", "log.jsonl", "finished.json",
                                             ".lock", "checkpoint")


# ---------------------------------------------------------------------------------------------
# The run folder


class RunDir:
    """A training run's folder, held for the duration of a ``with`` block.

    ``settings`` (JSON-able) say what the run is; on ``resume`` they must equal the recorded
    ones, except the keys in ``mutable`` (a log interval, a device, a longer step budget),
    whose new values are recorded. ``echo(record)`` receives every log record too (the front
    end's standard output writer; default: JSON lines on standard output). ``primary=False``
    (torchrun's other ranks) opens nothing and writes nothing.
    """

    def __init__(self, path, settings: dict, *, resume: bool = False, mutable: Iterable[str] = (),
                 echo: Callable[[dict], None] | None = None, primary: bool = True):
        self.path = Path(path)
        self.settings = _plain(settings)
        self.resume = resume
        self.mutable = set(mutable)
        self.echo = echo if echo is not None else _stdout
        self.primary = primary
        self.resumed = False  # the folder held a run that this one continues
        self.finished: dict | None = None  # the finished marker's summary, when there is one
        self._lock_fd: int | None = None
        self._lock_created = False
        self._log = None
        self._fresh = False  # the folder was new or empty: a failure before a checkpoint undoes
        self._created = False
        self._kept = False  # a checkpoint or the finished marker exists: keep the folder

    # -- opening and closing

    def __enter__(self) -> RunDir:
        if not self.primary:  # reads only: the primary process checks and writes
            if self.resume and (self.path / FINISHED).exists():
                self.finished = orjson.loads((self.path / FINISHED).read_bytes())
            return self
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PapertoolsError(f"cannot create the run folder: {exc.strerror}",
                                  str(self.path)) from None
        self._acquire_lock()
        try:
            self._open()
        except BaseException:  # refused: leave the folder as it was (an empty one included)
            self._release(undo=self._fresh, drop_lock=self._lock_created)
            raise
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if self.primary:
            self._release(undo=kind is not None and self._fresh and not self._kept)

    def _open(self) -> None:
        held = [p.name for p in self.path.iterdir() if p.name != LOCK]
        settings_path = self.path / SETTINGS
        if not held:
            self._fresh = True
        elif not self.resume:
            if settings_path.exists():
                raise PapertoolsError(f"{self.path} already holds a run: --resume continues it, "
                                      "or choose another --out-dir")
            raise PapertoolsError(f"{self.path} is not empty: choose a new or empty --out-dir")
        elif not settings_path.exists():
            raise PapertoolsError(f"{self.path} holds no run to resume (no {SETTINGS}): choose a "
                                  "new or empty --out-dir")
        else:
            self._check_settings(orjson.loads(settings_path.read_bytes()))
            self.resumed = True
            self._kept = True
            if (self.path / FINISHED).exists():
                self.finished = orjson.loads((self.path / FINISHED).read_bytes())
        write_json(settings_path, self.settings)

    def _check_settings(self, recorded: dict) -> None:
        keys = [k for k in dict.fromkeys([*recorded, *self.settings]) if k not in self.mutable
                and recorded.get(k, _ABSENT) != self.settings.get(k, _ABSENT)]
        if keys:
            said = ", ".join(f"{k} {_show(recorded.get(k, _ABSENT))} (now "
                             f"{_show(self.settings.get(k, _ABSENT))})" for k in keys)
            raise PapertoolsError(f"--resume: {self.path} was started with other settings: "
                                  f"{said}; give the same, or choose another --out-dir")

    def _acquire_lock(self) -> None:
        import fcntl

        path = self.path / LOCK
        while True:
            created = False
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                created = True
            except FileExistsError:
                try:
                    fd = os.open(path, os.O_RDWR)
                except FileNotFoundError:  # removed meanwhile: try again
                    continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                if created:  # cannot happen with flock semantics, but never leave ours behind
                    _unlink(path)
                raise PapertoolsError(f"{self.path} is in use by another run"
                                      + (f" (process {holder})" if holder else "")) from None
            try:  # the file we locked must still be the folder's lock file
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._lock_fd, self._lock_created = fd, created
                return
            os.close(fd)

    def _release(self, undo: bool, drop_lock: bool = False) -> None:
        """Unlock; with ``undo`` (the folder was new or empty and nothing worth keeping was
        made) empty it again, and remove it if this run created it."""
        if self._log is not None:
            self._log.close()
            self._log = None
        if undo:
            for child in self.path.iterdir():
                if child.name == LOCK:
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    _unlink(child)
        if undo or drop_lock:
            _unlink(self.path / LOCK)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None
        if undo and self._created:
            try:
                self.path.rmdir()
            except OSError:
                pass

    # -- during the run

    def log(self, record: dict) -> None:
        """Append ``record`` to DIR/log.jsonl (flushed), then pass it to ``echo``."""
        if not self.primary:
            return
        if self._log is None:
            self._log = open(self.path / LOG, "ab")
        self._log.write(dumps(record))
        self._log.flush()
        self.echo(record)

    def save_checkpoint(self, **parts) -> None:
        """:func:`save_checkpoint` into this folder (keyword arguments as there); it also
        records how much of the log the checkpoint has seen."""
        if not self.primary:
            return
        log_path = self.path / LOG
        extra = dict(parts.pop("extra", None) or {},
                     log_bytes=log_path.stat().st_size if log_path.exists() else 0)
        save_checkpoint(self.path, extra=extra, **parts)
        self._kept = True

    def load_checkpoint(self) -> Checkpoint | None:
        """The folder's checkpoint (None without one); the log is cut back to its length, so
        steps that are done again are logged once."""
        saved = load_checkpoint(self.path)
        if saved is not None and self.primary:
            size = saved.data.get("extra", {}).get("log_bytes")
            log_path = self.path / LOG
            if size is not None and log_path.exists() and log_path.stat().st_size > size:
                os.truncate(log_path, size)
        return saved

    def finish(self, summary: dict, keep_checkpoint: bool = False) -> None:
        """Write the finished marker (the summary); then drop the checkpoint unless kept (a
        trainer that can extend a finished run keeps it)."""
        if not self.primary:
            return
        write_json(self.path / FINISHED, summary)
        self.finished = _plain(summary)
        self._kept = True
        if not keep_checkpoint:
            shutil.rmtree(self.path / CHECKPOINT, ignore_errors=True)

    def reopen(self) -> None:
        """Continue a finished run (a larger step budget): the marker goes until finish()."""
        if self.primary:
            _unlink(self.path / FINISHED)
        self.finished = None


def digest(items: Iterable) -> str:
    """A SHA-256 of ``items`` (JSON-able values, hashed one by one) for a run's settings, so
    that --resume on other data is refused."""
    h = hashlib.sha256()
    for item in items:
        h.update(orjson.dumps(item, option=orjson.OPT_SERIALIZE_NUMPY))
        h.update(b"\n")
    return h.hexdigest()


_ABSENT = object()


def _show(value) -> str:
    if value is _ABSENT:
        return "absent"
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(obj):
    """JSON's view of ``obj`` (tuples become lists), so recorded and given settings compare."""
    return orjson.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))


def _stdout(record: dict) -> None:
    sys.stdout.buffer.write(dumps(record))
    sys.stdout.buffer.flush()


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------------------------------
# Checkpoints: DIR/checkpoint, replaced atomically


def save_checkpoint(folder, *, state: dict, optimizer=None, scheduler=None,
                    modules: dict | None = None, write: Callable[[Path], None] | None = None,
                    generators: Iterable = (), env=None, extra: dict | None = None) -> None:
    """Write ``folder/checkpoint``: ``state.pt`` holds the loop's ``state``, the optimiser's
    and scheduler's state dicts, each of ``modules`` (name -> torch module) as a state dict,
    and every random state (:func:`rng_state` with ``generators`` and ``env``); ``write(path)``
    may save more beside it (a Hugging Face model folder). It is written to
    ``checkpoint.tmp`` and renamed into place; the previous one is kept as ``checkpoint.old``
    until the rename is done, so a crash between the two renames still leaves one to resume
    from."""
    import torch

    folder = Path(folder)
    tmp, final, old = (folder / f"{CHECKPOINT}{s}" for s in (".tmp", "", ".old"))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if write is not None:
        write(tmp)
    torch.save({"state": state,
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "modules": {k: m.state_dict() for k, m in (modules or {}).items()},
                "rng": rng_state(generators, env), "extra": extra or {}}, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class Checkpoint:
    """A saved checkpoint: ``path`` (its folder, with what ``write`` put there) and ``data``
    (state.pt's contents)."""

    path: Path
    data: dict

    @property
    def state(self) -> dict:
        """The loop's state as it was saved."""
        return self.data["state"]

    def restore(self, *, optimizer=None, scheduler=None, modules: dict | None = None,
                generators: Iterable = (), env=None) -> None:
        """Load the state dicts into ``optimizer``, ``scheduler`` and ``modules`` and set every
        random state (``generators`` and ``env`` as they were given to the save)."""
        if optimizer is not None:
            optimizer.load_state_dict(self.data["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(self.data["scheduler"])
        for name, module in (modules or {}).items():
            module.load_state_dict(self.data["modules"][name])
        set_rng_state(self.data["rng"], generators, env)


def load_checkpoint(folder) -> Checkpoint | None:
    """``folder``'s checkpoint, or None when there is none (``checkpoint.old`` after a crash
    between the two renames)."""
    import torch

    folder = Path(folder)
    for path in (folder / CHECKPOINT, folder / f"{CHECKPOINT}.old"):
        if (path / "state.pt").exists():
            return Checkpoint(path, torch.load(path / "state.pt", map_location="cpu",
                                               weights_only=False))
    return None


def torch_save_atomic(obj, path) -> None:
    """``torch.save`` to a temporary file beside ``path``, renamed into place."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


# ---------------------------------------------------------------------------------------------
# Random states


def rng_state(generators: Iterable = (), env=None) -> dict:
    """Every random state: Python's, numpy's global, torch's (and CUDA's once CUDA is in use),
    each of ``generators`` (numpy Generators or RandomStates, random.Random, torch.Generator)
    and, given an ``env``, the environment's (:func:`env_rng_state`)."""
    import numpy as np

    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "generators": [_get(g) for g in generators]}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
    if env is not None:
        state["env"] = env_rng_state(env)
    return state


def set_rng_state(state: dict, generators: Iterable = (), env=None) -> None:
    """Set what :func:`rng_state` captured; ``generators`` in the same order as then."""
    import numpy as np

    random.setstate(_python_state(state["python"]))
    np.random.set_state(state["numpy"])
    generators = list(generators)
    if len(generators) != len(state["generators"]):
        raise PapertoolsError(f"the checkpoint holds {len(state['generators'])} generator "
                              f"states, {len(generators)} generators were given")
    for g, s in zip(generators, state["generators"]):
        _set(g, s)
    if "torch" in state:
        import torch

        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available() and \
                len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
    if env is not None and "env" in state:
        set_env_rng_state(env, state["env"])


def _python_state(s):
    """random.setstate wants tuples; a state that went through JSON has lists."""
    return (s[0], tuple(s[1]), s[2]) if isinstance(s, list) else s


def _get(g):
    import numpy as np

    if isinstance(g, np.random.Generator):
        return g.bit_generator.state
    if isinstance(g, np.random.RandomState):
        return g.get_state()
    if isinstance(g, random.Random):
        return g.getstate()
    if hasattr(g, "get_state"):  # torch.Generator
        return g.get_state()
    raise TypeError(f"not a random generator: {type(g).__name__}")


def _set(g, s) -> None:
    import numpy as np

    if isinstance(g, np.random.Generator):
        g.bit_generator.state = s
    elif isinstance(g, np.random.RandomState):
        g.set_state(s)
    elif isinstance(g, random.Random):
        g.setstate(_python_state(s))
    else:
        g.set_state(s)


def env_rng_state(env):
    """An environment's random state: its own ``get_rng_state()`` when it has one; each
    sub-environment's for a vector environment (``envs``); else gymnasium's generators (the
    environment's ``np_random`` and its action and observation spaces')."""
    if hasattr(env, "get_rng_state"):
        return env.get_rng_state()
    if hasattr(env, "envs"):
        return [env_rng_state(e) for e in env.envs]
    state = {"np_random": getattr(env, "unwrapped", env).np_random.bit_generator.state}
    for name in ("action_space", "observation_space"):
        space = getattr(env, name, None)
        if space is not None and hasattr(space, "np_random"):
            state[name] = space.np_random.bit_generator.state
    return state


def set_env_rng_state(env, state) -> None:
    if hasattr(env, "set_rng_state"):
        env.set_rng_state(state)
    elif hasattr(env, "envs"):
        for e, s in zip(env.envs, state, strict=True):
            set_env_rng_state(e, s)
    else:
        getattr(env, "unwrapped", env).np_random.bit_generator.state = state["np_random"]
        for name in ("action_space", "observation_space"):
            if name in state:
                getattr(env, name).np_random.bit_generator.state = state[name]


# ---------------------------------------------------------------------------------------------
# Optimiser and schedule


def adamw(model, lr: float, weight_decay: float = 0.01, *, betas=(0.9, 0.999), eps: float = 1e-8,
          decay_embeddings: bool = True):
    """AdamW with the usual two groups: weight decay on weight matrices (linear layers and, as
    GPT-2's and BERT's recipes do, embeddings unless ``decay_embeddings`` is False), none on
    biases and normalisation weights (every parameter of fewer than two dimensions).

    ``model``: a torch module, or an iterable of modules and parameters (several parts trained
    together). Frozen parameters (``requires_grad`` False) are left out; shared ones count once.
    """
    import torch

    parts = [model] if isinstance(model, torch.nn.Module) else list(model)
    params, embeddings, seen = [], set(), set()
    for part in parts:
        if isinstance(part, torch.nn.Module):
            embeddings |= {id(m.weight) for m in part.modules()
                           if isinstance(m, torch.nn.Embedding)}
            found = part.parameters()
        else:
            found = [part]
        for p in found:
            if id(p) not in seen and p.requires_grad:
                seen.add(id(p))
                params.append(p)
    decay = [p for p in params if p.ndim >= 2 and (decay_embeddings or id(p) not in embeddings)]
    chosen = {id(p) for p in decay}
    no_decay = [p for p in params if id(p) not in chosen]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas,
                             eps=eps)


DECAYS = ("linear", "cosine", "constant")


def warmup_schedule(optimizer, total_steps: int, *, warmup_ratio: float = 0.0,
                    warmup_steps: int | None = None, decay: str = "linear",
                    min_ratio: float = 0.0):
    """A LambdaLR: linear warm-up over ``warmup_steps`` (default ``ceil(total_steps *
    warmup_ratio)``, at least 1; step s gets (s + 1) / warm-up), then a linear or cosine decay
    from the peak to ``min_ratio`` of it at ``total_steps``, or a constant rate."""
    import torch

    if decay not in DECAYS:
        raise PapertoolsError(f"unknown decay {decay!r} (known: {', '.join(DECAYS)})")
    warmup = max(1, warmup_steps if warmup_steps is not None
                 else math.ceil(total_steps * warmup_ratio))
    span = max(1, total_steps - warmup)

    def factor(s: int) -> float:
        if decay == "linear":
            d = max(0.0, (total_steps - s) / span)
        elif decay == "cosine":
            d = 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, (s - warmup) / span))))
        else:
            d = 1.0
        return min((s + 1) / warmup, min_ratio + (1 - min_ratio) * d)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---------------------------------------------------------------------------------------------
# Several processes (torchrun)


def distributed_setup() -> tuple[int, int]:
    """(rank, world size): torchrun's environment (the process group initialised: NCCL on
    GPUs, Gloo on CPUs), or (0, 1) for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if (backend == "gloo" and "GLOO_SOCKET_IFNAME" not in os.environ
            and os.environ.get("MASTER_ADDR", "") in ("127.0.0.1", "localhost", "::1")):
        # A single-machine run: bind Gloo to the loopback interface rather than to
        # whatever address the hostname resolves to (in containers, often none usable).
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), world


# ---------------------------------------------------------------------------------------------
# Progress


class Progress:
    """A step bar on standard error (tqdm) that shows the latest figures; the trainers make
    one only when progress is enabled (a terminal, no --quiet)."""

    def __init__(self, total: int, done: int = 0, desc: str = ""):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=done, unit="step", file=sys.stderr,
                        dynamic_ncols=True, desc=desc, leave=False)

    def update(self, n: int = 1, **figures) -> None:
        if figures:
            self.bar.set_postfix(figures, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------------------------
# The epoch loop's bookkeeping. The loop's ``state`` holds at least "step", "epoch" and
# "batch" (the next batch of the epoch), so a checkpoint records exactly where to resume.


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


class StopRequest:
    """SIGINT during a loop that can only stop at a boundary (an RL update): the first Ctrl-C
    sets ``requested``, so the loop checkpoints and stops there; the second raises
    KeyboardInterrupt at once. Outside the main thread SIGINT is left alone."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave SIGINT alone
            self._old = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


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


__all__ = ["Checkpoint", "DECAYS", "Progress", "RunDir", "StopRequest", "adamw",
           "checkpoint_on_interrupt", "digest", "distributed_setup", "env_rng_state",
           "epoch_done", "load_checkpoint", "rng_state", "save_checkpoint", "set_env_rng_state",
           "set_rng_state", "step_done", "torch_save_atomic", "warmup_schedule"]
