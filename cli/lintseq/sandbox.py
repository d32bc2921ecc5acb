"""Run untrusted Python programs, one process each, in a sandbox (``lintseq eval`` runs
model-written code with it).

    from papertools.cli.lintseq.sandbox import run_python
    result = run_python("assert 1 + 1 == 2", timeout=10, memory_mb=1024)
    result.status   # "passed" | "failed" | "timeout" | "memory" | "error"

How it runs
-----------
Each calling process starts one small helper interpreter, the *zygote* (this file run as a
script by the sandbox's Python, as root when the caller is root), and sends it programs over a
pipe, one at a time. The zygote is PID 1 (init) of its own PID namespace, in its own mount,
network and UTS namespaces, with a new root file system. For each program it forks one process,
which makes its own mount and IPC namespaces and /tmp, sets its limits, drops to user nobody and
runs the program as ``__main__`` (compiled from ``/tmp/program.py``, exit status and traceback as
``python program.py`` gives them). When that process ends (or is killed at the time limit), the
zygote, as init, kills every other process left in its namespace and reaps them before it
answers, so nothing of one program is alive when the next starts. Forking a warm interpreter
instead of starting one per program is what keeps the isolation cheap (a few milliseconds a
program; see benchmarks/lintseq_eval_bench.py).

What the sandbox stops (isolated mode: the caller is root and namespaces work, as here)
-------------------------------------------------------------------------------------------
- The caller's and other users' files: the program sees a root file system (``pivot_root``; the
  old root is unmounted) that holds only read-only, nosuid bind mounts of /usr, /etc and the
  /bin, /sbin, /lib* links (plus the interpreter's own prefix when it lives elsewhere, e.g.
  pyenv), the device nodes null, zero, full, random and urandom (/dev/shm is a link to /tmp),
  the sandbox's /proc, and a fresh tmpfs at /tmp that is its working directory, HOME and TMPDIR
  (``file_mb`` MiB, mode 700, gone when the program ends). /work, /root, /home, the caller's
  /tmp, /var, /run, /mnt, /opt, /srv and /sys do not exist inside; the root is read-only.
- Privilege: the program runs as uid/gid 65534 (nobody) with no supplementary groups, no
  capabilities and ``no_new_privs`` (setuid binaries do not elevate; /usr is nosuid as well).
- Network: the zygote's network namespace has only a loopback device, which is down: connecting
  anywhere, 127.0.0.1 included, fails (ENETUNREACH); nothing on the host is reachable. Its
  programs share it one after another, never at the same time (all of a program's processes,
  so all its sockets, are gone before the next program starts).
- Other processes: in the PID namespace a program sees only its own processes and the zygote
  (PID 1, root, so it cannot be signalled or traced); its own IPC namespace (no shared SysV or
  POSIX IPC) and hostname "sandbox". Whatever it starts, daemonised or not, dies with it.
- Time: a wall-clock limit (``timeout`` seconds from the start of the program, enforced from
  outside with SIGKILL), and RLIMIT_CPU (timeout + 2 s) as a backstop.
- Resources: RLIMIT_AS (``memory_mb`` MiB of address space per process: allocation fails with
  MemoryError), RLIMIT_NPROC (``processes``, counted per user over the whole machine for uid
  65534), RLIMIT_FSIZE (``file_mb`` MiB per file, stdout and stderr included), RLIMIT_NOFILE
  (256), RLIMIT_CORE 0.
- Determinism: a clean environment (PATH, HOME, TMPDIR, LANG=C.UTF-8) and PYTHONHASHSEED=0 in
  the zygote, so a program's set and dict orders do not vary from run to run.

What it does not stop
---------------------
- Kernel exploits: there is no seccomp filter; a program can make any system call a nobody
  process can, including creating user namespaces where the kernel allows unprivileged ones (it
  gains no access by that, but it reaches more kernel code). Namespaces and an unprivileged uid
  are the barrier, as in unprivileged containers.
- Reading world-readable system files: whatever under /usr and /etc is readable by "other"
  (/etc/passwd, installed packages), /proc's system-wide files (cpuinfo, meminfo, loadavg,
  mounts of the sandbox), the zygote's command line (/proc/1/cmdline), the kernel's uname.
- Total memory: the limit is per process (``processes`` processes can each use ``memory_mb``)
  and the tmpfs at /tmp adds up to ``file_mb``; there is no cgroup limit on the sum. CPU is not
  partitioned either: a program can keep every core busy until its time is up, and programs run
  concurrently (``--workers``) compete for the same cores, so a time limit close to a program's
  real run time makes results depend on load.
- Interference among sandboxed programs: RLIMIT_NPROC is per user, so a fork bomb in one
  program can make fork() fail in another program running at the same moment as uid 65534.
- The interpreter: programs run under the sandbox's Python (default /usr/bin/python3, the
  system's; ``python=`` to choose) with its standard library and the site-packages under its
  prefix, not the caller's virtual environment. A program's process is forked from the zygote,
  so the modules the zygote imported (its own and :data:`PRELOAD`: typing, re, math,
  collections, random, ...) are already in ``sys.modules``; ``random`` is reseeded at fork.

Limits-only mode (not root, or namespaces unavailable)
-------------------------------------------------------
Without root there are no namespaces and no change of user: the program runs as the calling
user, in its own session, in a fresh temporary directory under $TMPDIR or /tmp (removed
afterwards), with the same time and rlimit limits. It can then read and write whatever the
calling user can, use the network, and leave processes behind that leave its session (they are
killed with the session, not hunted down). As root where namespaces cannot be made (or with
``isolate=False``), the same, but the program runs as nobody. A :class:`SandboxWarning` says so (``isolation()`` reports the mode and the reason), and
``lintseq eval`` prints one warning line. ``isolate=True`` refuses to run without isolation.
"""

from __future__ import annotations

import json
import os
import sys
import threading as _threading
import time

try:  # when this file runs as the zygote script, it is not inside the papertools package
    from papertools.core.errors import PapertoolsError
except ImportError:  # pragma: no cover - zygote side
    PapertoolsError = Exception

STATUSES = ("passed", "failed", "timeout", "memory", "error")
NOBODY = 65534
DEFAULT_PROCESSES = 32  # RLIMIT_NPROC for uid 65534 while a program runs
DEFAULT_FILE_MB = 64  # RLIMIT_FSIZE and the size of the program's /tmp
OPEN_FILES = 256  # RLIMIT_NOFILE
TAIL_BYTES = 4096  # how much of stdout and stderr comes back
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


class SandboxError(PapertoolsError):
    """The sandbox itself failed (could not start, did not answer): not a program's result."""


class SandboxWarning(UserWarning):
    """Programs run without isolation (limits only); see the module docstring."""


# ============================================================================================
# Caller side


class SandboxResult:
    """One program's outcome.

    status: "passed" (exit status 0), "failed" (ended by an AssertionError), "timeout",
    "memory" (MemoryError, or killed by the kernel for memory), "error" (anything else: another
    exception, a syntax error, a non-zero exit, a fatal signal). returncode: the exit status,
    or minus the signal that killed it (-9 after a timeout). detail: a short text, the last line
    of stderr (e.g. "AssertionError", "NameError: name 'x' is not defined") or what happened.
    """

    __slots__ = ("status", "returncode", "stdout_tail", "stderr_tail", "seconds", "detail")

    def __init__(self, status: str, returncode: int | None, stdout_tail: str, stderr_tail: str,
                 seconds: float, detail: str = ""):
        self.status = status
        self.returncode = returncode
        self.stdout_tail = stdout_tail
        self.stderr_tail = stderr_tail
        self.seconds = seconds
        self.detail = detail

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def _key(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return isinstance(other, SandboxResult) and self._key() == other._key()

    def __repr__(self) -> str:
        return (f"SandboxResult(status={self.status!r}, returncode={self.returncode!r}, "
                f"detail={self.detail!r}, seconds={self.seconds:.3f})")


class Isolation:
    """What the sandbox can do here: ``mode`` "isolated" or "limits", and why not isolated."""

    __slots__ = ("mode", "reason", "python", "python_version")

    def __init__(self, mode: str, reason: str | None, python: str, python_version: str):
        self.mode, self.reason, self.python, self.python_version = \
            mode, reason, python, python_version

    @property
    def isolated(self) -> bool:
        return self.mode == "isolated"

    def __repr__(self) -> str:
        return f"Isolation(mode={self.mode!r}, reason={self.reason!r}, python={self.python!r})"


def default_python() -> str:
    """The interpreter programs run under: /usr/bin/python3 when present (a system Python whose
    files every user can read), else this interpreter."""
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def run_python(source: str, *, timeout: float, memory_mb: int, python: str | None = None,
               processes: int = DEFAULT_PROCESSES, file_mb: int = DEFAULT_FILE_MB,
               isolate: bool | None = None) -> SandboxResult:
    """Run ``source`` as a Python program in the sandbox and say how it ended.

    timeout: wall-clock seconds; memory_mb: RLIMIT_AS per process; python: the interpreter
    (default :func:`default_python`); processes: RLIMIT_NPROC; file_mb: RLIMIT_FSIZE and the
    size of the program's /tmp; isolate: None isolates when possible (warning once when not),
    True requires isolation (:class:`SandboxError` otherwise), False uses limits only.
    Raises :class:`SandboxError` when the sandbox itself fails, never for a program's failure.
    """
    if timeout <= 0 or memory_mb <= 0 or processes <= 0 or file_mb <= 0:
        raise ValueError("timeout, memory_mb, processes and file_mb must be positive")
    request = {"source": source, "timeout": float(timeout), "memory_mb": int(memory_mb),
               "processes": int(processes), "file_mb": int(file_mb)}
    zygote = _zygote(python, isolate)
    try:
        reply = zygote.ask(request, wait=timeout + 60)
    except _ZygoteDied:
        zygote = _zygote(python, isolate, restart=True)  # one retry on a fresh zygote
        try:
            reply = zygote.ask(request, wait=timeout + 60)
        except _ZygoteDied as err:
            raise SandboxError(f"the sandbox stopped: {err}") from None
    return _result(reply, timeout)


# One zygote per (interpreter, isolate) and calling process; threads of a process share it and
# take turns (for parallel programs, use processes: ``ordered_map``'s process or Ray engine).


def isolation(python: str | None = None, isolate: bool | None = None) -> Isolation:
    """Start (or reuse) this process's sandbox for ``python`` and report its mode."""
    z = _zygote(python, isolate, warn=False)
    return Isolation(z.mode, z.reason, z.python, z.version)


def close() -> None:
    """Stop this process's sandboxes (also done at exit; a forked child leaves its parent's
    alone)."""
    with _LOCK:
        for key, z in list(_ZYGOTES.items()):
            if key[2] == os.getpid():
                z.stop()
        _ZYGOTES.clear()


def _result(reply: dict, timeout: float) -> SandboxResult:
    if reply.get("setup_error"):
        raise SandboxError(f"sandbox setup failed: {reply['setup_error']}")
    stdout, stderr = reply["stdout"], reply["stderr"]
    seconds = float(reply["seconds"])
    last = _last_line(stderr)
    if reply["timeout"]:
        return SandboxResult("timeout", -9, stdout, stderr, seconds,
                             f"timed out after {timeout:g} s")
    signal_number, code = reply["signal"], reply["exit"]
    if signal_number is not None:
        returncode = -signal_number
        name = _signal_name(signal_number)
        if signal_number == 9:  # not ours (that is a timeout): the kernel's OOM killer
            return SandboxResult("memory", returncode, stdout, stderr, seconds,
                                 f"killed by {name} (out of memory?)")
        if signal_number == 24:  # SIGXCPU: the CPU-time backstop
            return SandboxResult("timeout", returncode, stdout, stderr, seconds,
                                 f"CPU time limit ({name})")
        return SandboxResult("error", returncode, stdout, stderr, seconds,
                             last or f"killed by {name}")
    if code == 0:
        return SandboxResult("passed", 0, stdout, stderr, seconds, "")
    exception = last.split(":", 1)[0].strip()
    if exception == "MemoryError" or exception.endswith(".MemoryError"):
        status = "memory"
    elif exception == "AssertionError":
        status = "failed"
    else:
        status = "error"
    return SandboxResult(status, code, stdout, stderr, seconds, last or f"exit status {code}")


def _last_line(text: str, limit: int = 200) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _ZygoteDied(Exception):
    pass


class _Zygote:
    """One helper interpreter, its pipes, and what it said about itself."""

    def __init__(self, python: str, isolate: bool | None):
        import subprocess
        import tempfile

        self.python, self.isolate = python, isolate
        self.turn = _threading.Lock()
        if not os.path.exists(python):
            raise SandboxError(f"sandbox Python not found: {python}")
        config = json.dumps({"isolate": isolate})
        self.errors = tempfile.TemporaryFile()  # the zygote's own stderr (only on a crash)
        try:
            self.proc = subprocess.Popen(
                [python, "-s", "-B", os.path.abspath(__file__), "--zygote", config],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                env=dict(SANDBOX_ENV), cwd="/", close_fds=True, start_new_session=True)
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox Python {python}: {exc}") from None
        try:
            hello = self._read(30)
        except _ZygoteDied as err:
            raise SandboxError(f"the sandbox did not start: {err}") from None
        if hello.get("error"):
            self.stop()
            raise SandboxError(hello["error"])
        self.mode, self.reason, self.version = hello["mode"], hello["reason"], hello["python"]

    def _read(self, wait: float) -> dict:
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        if not ready:
            self.stop()
            raise _ZygoteDied(f"no answer within {wait:g} s")
        line = self.proc.stdout.readline()
        if not line:
            raise _ZygoteDied(self._crash_text())
        return json.loads(line)

    def _crash_text(self) -> str:
        self.stop()
        try:
            self.errors.seek(0)
            text = self.errors.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            text = ""
        return _last_line(text) or f"exit status {self.proc.returncode}"

    def ask(self, request: dict, wait: float) -> dict:
        data = (json.dumps(request) + "\n").encode("utf-8")
        with self.turn:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise _ZygoteDied(self._crash_text()) from None
            return self._read(wait)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)  # EOF on its stdin ends it
        except Exception:  # noqa: BLE001 - stuck: kill it (its children follow by PDEATHSIG)
            proc.kill()
            proc.wait()


_ZYGOTES: dict = {}
_WARNED: set = set()
_LOCK = _threading.RLock()


def _zygote(python: str | None, isolate: bool | None, restart: bool = False,
            warn: bool = True) -> _Zygote:
    python = python or default_python()
    key = (python, isolate, os.getpid())  # a forked child starts its own
    with _LOCK:
        z = _ZYGOTES.get(key)
        if z is not None and (restart or not z.alive()):
            z.stop()
            z = None
        if z is None:
            if not _ZYGOTES:
                import atexit

                atexit.register(close)
            z = _ZYGOTES[key] = _Zygote(python, isolate)
        if warn and z.mode != "isolated" and key not in _WARNED:
            _WARNED.add(key)
            import warnings

            warnings.warn(f"programs run without isolation ({z.reason}): as the current user, "
                          "with time, memory, process and file-size limits only; no network or "
                          "file-system isolation", SandboxWarning, stacklevel=3)
        return z


# ============================================================================================
# Zygote side: this file run as a script by the sandbox's Python (stdlib only, Python >= 3.8).

CLONE_NEWNS, CLONE_NEWUTS = 0x00020000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
ROOT_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Made once per zygote: PID (the zygote is its init), mount (the new root), network (a loopback
# only, down) and UTS (hostname "sandbox"). Made per program: mount (its own /tmp) and IPC.
ZYGOTE_NS = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS
PROGRAM_NS = CLONE_NEWNS | CLONE_NEWIPC


class _Libc:
    """The few system calls Python 3.11's os module lacks (unshare, mount, pivot_root, prctl)."""

    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        self.lib = ctypes.CDLL(None, use_errno=True)
        self.lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                   ctypes.c_ulong, ctypes.c_char_p]
        self.lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                                   ctypes.c_ulong]

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(flags), "unshare")

    def mount(self, source, target: str, fstype, flags: int, data=None) -> None:
        enc = (lambda s: None if s is None else s.encode())
        self._check(self.lib.mount(enc(source), enc(target), enc(fstype), flags, enc(data)),
                    f"mount {target}")

    def umount2(self, target: str, flags: int) -> None:
        self._check(self.lib.umount2(target.encode(), flags), f"umount {target}")

    def pivot_root(self, new: str, old: str) -> None:
        number = SYS_PIVOT_ROOT.get(os.uname().machine)
        if number is None:
            raise OSError(38, "pivot_root: unknown system call number on this machine")
        self._check(self.lib.syscall(number, new.encode(), old.encode()), "pivot_root")

    def prctl(self, option: int, value: int) -> None:
        self._check(self.lib.prctl(option, value, 0, 0, 0), "prctl")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self.lib.setns(fd, nstype), "setns")

    def sethostname(self, name: str) -> None:
        data = name.encode()
        self._check(self.lib.sethostname(data, len(data)), "sethostname")


def _z_build_root(libc: _Libc) -> None:
    """Give the zygote (PID 1 of its own PID namespace) private mount, network and UTS
    namespaces, a root that holds only the system's read-only files (see the module
    docstring) and its PID namespace's /proc, and ``pivot_root`` into it."""
    libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS)
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount reaches the host
    libc.sethostname("sandbox")
    root = "/tmp"  # any directory will do: in this namespace we mount a tmpfs over it
    libc.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    bound = []

    def bind_ro(host: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
        target = root + host
        os.makedirs(target, mode=0o755, exist_ok=True)
        libc.mount(host, target, None, MS_BIND | MS_REC)
        libc.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        bound.append(host.rstrip("/") + "/")

    for name in ROOT_DIRS:
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            bind_ro(host)
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}:
        if os.path.isdir(prefix) and not any((prefix + "/").startswith(b) for b in bound):
            bind_ro(prefix)  # an interpreter outside /usr (pyenv, conda): its prefix only
    os.mkdir(root + "/dev", 0o755)
    for name in DEVICES:
        target = f"{root}/dev/{name}"
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
        libc.mount("/dev/" + name, target, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                         ("shm", "/tmp")):  # POSIX shared memory lives in the program's /tmp
        os.symlink(target, f"{root}/dev/{name}")
    for path in ("/proc", "/tmp"):
        os.mkdir(root + path, 0o755)
    libc.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    try:
        libc.pivot_root(".", ".")
        libc.umount2(".", MNT_DETACH)  # the old root, now stacked on top: gone from view
    except OSError:
        os.chroot(".")  # e.g. a root file system that cannot be pivoted (initramfs)
    os.chdir("/")
    libc.mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _zygote_main(config: dict) -> None:
    """Set up (isolated: become PID 1 of a new PID namespace, build the root), say hello,
    then run programs one at a time as the caller asks, until its pipe closes."""
    import signal

    isolate = config["isolate"]
    mode, reason = "limits", None
    libc = _Libc()
    libc.prctl(PR_SET_PDEATHSIG, 9)  # our caller's death ends us (and so every program)
    if isolate is not False:
        if os.geteuid() != 0:
            reason = "not running as root"
        else:
            try:
                _z_probe(libc)
                libc.unshare(CLONE_NEWPID)
                zygote = os.fork()
                if zygote:  # stay outside as its parent: it is PID 1 in there
                    _z_starter(zygote, config)
                libc.prctl(PR_SET_PDEATHSIG, 9)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # programs may signal their init
                _z_build_root(libc)
                mode = "isolated"
            except OSError as exc:
                reason = f"namespaces unavailable: {exc.strerror or exc}"
    else:
        reason = "isolation turned off"
    hello = {"mode": mode, "reason": reason, "python": sys.version.split()[0]}
    if isolate is True and mode != "isolated":
        hello["error"] = f"the sandbox cannot isolate programs here ({reason})"
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this script's folder is not the programs' business
    out = sys.stdout.buffer
    _z_write(out, hello)
    if "error" in hello:
        return
    tmp_base = os.environ.get("TMPDIR") or "/tmp"
    if mode == "isolated":  # every program's HOME and TMPDIR is its /tmp
        os.environ.update(HOME="/tmp", TMPDIR="/tmp")
    counter = 0
    _z_preload()
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return
        counter += 1
        request = json.loads(line)
        tmpdir = f"{tmp_base}/papertools-sandbox-{os.getpid()}-{counter}"
        _z_write(out, _z_run(request, mode == "isolated", libc, tmpdir))


def _z_probe(libc: _Libc) -> None:
    """Fail early, in a throw-away child, if any namespace we need cannot be made."""
    probe = os.fork()
    if probe == 0:
        try:
            libc.unshare(ZYGOTE_NS | PROGRAM_NS)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(probe, 0)
    if status != 0:
        raise OSError(1, "cannot create PID, mount, network, IPC and UTS namespaces")


def _z_starter(zygote: int, config: dict) -> None:
    """The process that made the zygote's PID namespace: wait for it, then leave."""
    os.closerange(0, 1 << 16)  # the pipes are the zygote's; holding them would hide its end
    _, status = os.waitpid(zygote, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF if hasattr(os, "waitstatus_to_exitcode")
             else 1)


# Imported by the zygote once, so that no forked program process pays for importing them (the
# zygote's modules are in every program's sys.modules; importing them again is free). The first
# line is the sandbox's own needs; the rest are what HumanEval and MBPP programs and tests
# import most (``from typing import List`` alone costs a fresh interpreter about 2 ms).
PRELOAD = ("atexit builtins io types resource select signal shutil traceback linecache "
           "typing re math collections itertools functools heapq bisect string random "
           "hashlib operator copy").split()


def _z_preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - a stripped-down Python
            pass


def _z_write(out, obj: dict) -> None:
    out.write((json.dumps(obj) + "\n").encode("utf-8"))
    out.flush()


def _z_tail(fd: int) -> str:
    size = os.fstat(fd).st_size
    data = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    return data.decode("utf-8", "replace")


def _z_run(request: dict, isolated: bool, libc, tmpdir: str) -> dict:
    """Run one program and report how it ended, with the tails of its output.

    The program's process is the zygote's child. The zygote waits for it up to the time
    limit (then kills it), and then removes whatever it left behind: isolated, as init of the
    PID namespace, it kills every other process there (``kill(-1)``) and reaps them, so all
    of a program's processes are gone before the next program starts; limits only, it kills
    the program's session and removes its directory.
    """
    out_fd, err_fd = os.memfd_create("stdout"), os.memfd_create("stderr")
    pipe_r, pipe_w = os.pipe()
    workdir = "/tmp" if isolated else tmpdir
    if not isolated:
        os.mkdir(tmpdir, 0o700)
        if os.geteuid() == 0:  # root without namespaces: the program still runs as nobody
            os.chown(tmpdir, NOBODY, NOBODY)
    child = os.fork()
    if child == 0:
        _z_program(request, isolated, libc, workdir, out_fd, err_fd, pipe_w)  # never returns
    os.close(pipe_w)
    report = {"timeout": False, "seconds": 0.0, "exit": None, "signal": None,
              "setup_error": None}
    status = None
    try:
        ready = os.read(pipe_r, 1)
        if ready != b"R":
            _z_kill(child)
            rest = os.read(pipe_r, 4096) if ready else b""
            report["setup_error"] = rest.split(b"\0")[0].decode("utf-8", "replace") \
                if ready == b"E" else "the program's process ended during setup"
            return report
        started = time.monotonic()
        if not _z_wait(child, request["timeout"]):
            report["timeout"] = True
            _z_kill(child)
        _, status = os.waitpid(child, 0)
        report["seconds"] = time.monotonic() - started
        if os.WIFSIGNALED(status):
            report["signal"] = os.WTERMSIG(status)
        else:
            report["exit"] = os.WEXITSTATUS(status)
        return report
    finally:
        os.close(pipe_r)
        _z_sweep(isolated, child, tmpdir, reaped=status is not None)
        report["stdout"], report["stderr"] = _z_tail(out_fd), _z_tail(err_fd)
        os.close(out_fd)
        os.close(err_fd)


def _z_sweep(isolated: bool, child: int, tmpdir: str, reaped: bool) -> None:
    """Kill and reap everything the program left (see :func:`_z_run`)."""
    import shutil
    import signal

    if isolated:
        try:
            os.kill(-1, signal.SIGKILL)  # from init: every process of the namespace but us
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        return
    try:
        os.killpg(child, signal.SIGKILL)  # whatever stayed in the program's session
    except (ProcessLookupError, PermissionError):
        pass
    if not reaped:
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
    shutil.rmtree(tmpdir, ignore_errors=True)


def _z_kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _z_wait(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end; True when it did."""
    import select

    deadline = time.monotonic() + timeout
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if select.select([fd], [], [], left)[0]:
                    return True
        finally:
            os.close(fd)
    delay = 0.0005
    while time.monotonic() < deadline:  # no pidfd (old kernel or Python): poll, not reaping
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return False


def _z_program(request, isolated, libc, workdir, out_fd, err_fd, pipe_w) -> None:
    """The program's process: (isolated) its own mount and IPC namespaces and /tmp; limits,
    descriptors, user, environment and working directory; then the program. Never returns."""
    import resource
    import signal

    try:
        processes, file_mb = request["processes"], request["file_mb"]
        if isolated:  # root here, in the zygote's PID namespace (its end is ours too)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # the zygote ignores it
            libc.unshare(PROGRAM_NS)
            libc.mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={file_mb}m,nr_inodes=16384,mode=700,uid={NOBODY},gid={NOBODY}")
        else:
            libc.prctl(PR_SET_PDEATHSIG, 9)  # the zygote's death ends us
            os.setsid()
            os.environ.update(HOME=workdir, TMPDIR=workdir)
        os.chdir(workdir)
        limit = request["memory_mb"] * 1024 * 1024
        cpu = int(request["timeout"]) + 2
        for which, value in ((resource.RLIMIT_AS, limit), (resource.RLIMIT_NPROC, processes),
                             (resource.RLIMIT_FSIZE, file_mb * 1024 * 1024),
                             (resource.RLIMIT_NOFILE, OPEN_FILES), (resource.RLIMIT_CORE, 0),
                             (resource.RLIMIT_CPU, cpu)):
            resource.setrlimit(which, (value, value))
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.closerange(3, pipe_w)
        os.closerange(pipe_w + 1, 1 << 16)
        if os.geteuid() == 0:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            if not isolated:
                libc.prctl(PR_SET_PDEATHSIG, 9)  # a change of user clears it: again
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.umask(0o077)
        path = workdir + "/program.py"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, request["source"].encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
    except BaseException as exc:  # noqa: BLE001 - a setup failure, not the program's
        try:
            os.write(pipe_w, f"E{type(exc).__name__}: {exc}\0".encode("utf-8", "replace"))
        finally:
            os._exit(125)
    os.write(pipe_w, b"R")
    os.close(pipe_w)
    _z_exec_program(request["source"], path)


def _z_exec_program(source: str, path: str) -> None:
    """Run ``source`` as ``__main__`` as ``python path`` would, then exit (never returns)."""
    import atexit
    import builtins
    import io
    import types

    atexit._clear()  # the zygote's handlers are not the program's
    # stdout and stderr stay the interpreter's own objects (fds 1 and 2 now lead to the
    # program's output files; the zygote flushed them before forking); stdin is new, on
    # /dev/null, so that nothing the zygote's reader might have buffered can leak in
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False),
                                                 encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None)
    sys.modules["__main__"] = main
    sys.argv = [path]
    code = 0
    try:
        exec(compile(source, path, "exec"), main.__dict__)  # noqa: S102 - that is the point
    except SystemExit as exc:
        code = _z_exit_code(exc)
    except BaseException:  # noqa: BLE001 - report it as the interpreter would
        try:
            sys.excepthook(*sys.exc_info())
        except BaseException:  # noqa: BLE001
            pass
        code = 1
    try:
        threading = sys.modules.get("threading")
        if threading is not None and hasattr(threading, "_shutdown"):
            threading._shutdown()  # join the program's non-daemon threads, as at exit
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        code = code or 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            code = code or 120
    os._exit(code)


def _z_exit_code(exc: SystemExit) -> int:
    value = exc.code
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value & 0xFF
    try:
        print(value, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    return 1


if __name__ == "__main__" and sys.argv[1:2] == ["--zygote"]:
    _zygote_main(json.loads(sys.argv[2]))
