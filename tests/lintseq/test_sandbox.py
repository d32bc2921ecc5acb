"""papertools.cli.lintseq.sandbox: programs run, end and fail as they should, and cannot reach out.

The isolation tests need root and working namespaces (skipped otherwise, with the reason); the
limits-only tests run anywhere. No timing is a pass condition: time limits are checked by the
status they produce, leftovers by looking for the processes and files themselves.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from papertools.cli.lintseq import sandbox
from papertools.cli.lintseq.sandbox import SandboxError, SandboxWarning, isolation, run_python

ROOT = Path(__file__).resolve().parents[2]


def run(source: str, **kw):
    kw.setdefault("timeout", 10)
    kw.setdefault("memory_mb", 512)
    return run_python(source, **kw)


def _isolated() -> tuple[bool, str]:
    try:
        mode = isolation()
    except SandboxError as err:
        return False, str(err)
    return mode.isolated, mode.reason or ""


ISOLATED, WHY = _isolated()
needs_isolation = pytest.mark.skipif(not ISOLATED, reason=f"no isolation here: {WHY}")


def processes_named(name: str) -> list[int]:
    """PIDs of live processes (zombies are dead: they only wait to be reaped) whose command
    name (/proc/PID/comm, 15 characters at most) is ``name``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                    stat = fh.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1: stat.rindex(")")]
            state = stat[stat.rindex(")") + 2:].split()[0]
            if comm == name and state != "Z":
                found.append(int(entry))
    return found


def alive(name: str) -> list[int]:
    """Processes named ``name`` that no SIGKILL has reached (see :func:`killed`)."""
    return [pid for pid in processes_named(name) if not killed(pid)]


def killed(pid: int) -> bool:
    """Whether process ``pid`` is gone, a zombie, exiting, or has SIGKILL pending: what a
    SIGKILL leaves, read at once, with no waiting for it to take effect."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            status = dict(line.split(":", 1) for line in fh if ":" in line)
    except FileNotFoundError:
        return True
    pending = int(status["SigPnd"], 16) | int(status["ShdPnd"], 16)
    return fields[0] in "ZXx" or bool(int(fields[6]) & 0x4) or bool(pending & (1 << 8))


def marker() -> str:
    return "pt" + uuid.uuid4().hex[:13]  # 15 characters: fits in comm


SET_NAME = "import ctypes\nctypes.CDLL(None).prctl(15, {name!r}.encode(), 0, 0, 0)\n"


# -- how programs end ------------------------------------------------------------------------

def test_passing_program_and_its_output():
    result = run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert (result.status, result.returncode, result.passed) == ("passed", 0, True)
    assert result.stdout_tail == "out\n" and result.stderr_tail == "err\n"
    assert result.detail == ""


@pytest.mark.parametrize("source,status,returncode,detail", [
    ("assert 1 + 1 == 3", "failed", 1, "AssertionError"),
    ("def f():\n    assert False, 'no'\nf()", "failed", 1, "AssertionError: no"),
    ("raise ValueError('bad value')", "error", 1, "ValueError: bad value"),
    ("x = undefined_name", "error", 1, "NameError: name 'undefined_name' is not defined"),
    ("def f(:\n    pass", "error", 1, "SyntaxError: invalid syntax"),
    ("import sys\nsys.exit(3)", "error", 3, "exit status 3"),
    ("import sys\nsys.exit('message')", "error", 1, "message"),
    ("import sys\nsys.exit(0)", "passed", 0, ""),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "error", -11, "killed by SIGSEGV"),
    ("import os\nos.abort()", "error", -6, "killed by SIGABRT"),
])
def test_exit_statuses(source, status, returncode, detail):
    result = run(source)
    assert (result.status, result.returncode, result.detail) == (status, returncode, detail)


def test_traceback_names_the_program_line():
    result = run("x = 1\ny = 2\nraise RuntimeError('here')\n")
    assert 'program.py", line 3' in result.stderr_tail
    assert "raise RuntimeError('here')" in result.stderr_tail


def test_main_guard_runs_and_argv():
    result = run("import sys\nif __name__ == '__main__':\n    print(sys.argv[0].endswith("
                 "'program.py'))")
    assert result.stdout_tail == "True\n"


def test_infinite_loop_times_out():
    result = run("while True:\n    pass", timeout=1)
    assert result.status == "timeout" and result.returncode == -9
    assert result.detail == "timed out after 1 s"
    assert not result.passed


def test_sleeping_program_times_out():
    result = run("import time\ntime.sleep(60)", timeout=1)
    assert result.status == "timeout"


def test_memory_bomb_is_stopped_and_host_is_fine():
    result = run("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))",
                 memory_mb=256, timeout=20)
    assert result.status == "memory", result.stderr_tail
    assert result.detail == "MemoryError"
    result = run("b = bytearray(8 * 1024 ** 3)", memory_mb=256)
    assert result.status == "memory"
    assert run("print(sum(range(10)))").stdout_tail == "45\n"  # the sandbox still works


def test_big_file_is_refused():
    result = run("with open('big', 'wb') as fh:\n    fh.write(b'x' * (20 * 1024 * 1024))",
                 file_mb=4)
    assert result.status == "error"
    assert "File too large" in result.detail or "No space left" in result.detail


def test_output_tail_is_bounded():
    result = run("for i in range(100000):\n    print(i)")
    assert result.status == "passed"
    assert len(result.stdout_tail) <= sandbox.TAIL_BYTES
    assert result.stdout_tail.endswith("99998\n99999\n")


def test_invalid_arguments():
    with pytest.raises(ValueError):
        run_python("pass", timeout=0, memory_mb=10)
    with pytest.raises(SandboxError, match="sandbox Python not found"):
        run_python("pass", timeout=1, memory_mb=100, python="/nonexistent/python3")


# -- isolation (root) ------------------------------------------------------------------------

@needs_isolation
def test_runs_as_nobody_in_its_own_namespaces():
    result = run("import os, socket\nprint(os.getuid(), os.geteuid(), os.getgid(), "
                 "os.getgroups(), socket.gethostname(), os.getcwd())\n"
                 "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
                 "print(pids == [1, os.getpid()], os.getppid())")
    assert result.stdout_tail.splitlines() == ["65534 65534 65534 [] sandbox /tmp", "True 1"]
    # the only other process it can see is the sandbox's init (root: it cannot signal it)
    result = run("import os\nos.kill(1, 9)")
    assert result.detail == "PermissionError: [Errno 1] Operation not permitted"


@needs_isolation
def test_cannot_read_the_callers_files():
    readme = ROOT / "README.md"
    assert readme.exists()
    for source in (f"print(open({str(readme)!r}).read())", "import os\nprint(os.listdir('/root'))",
                   "import os\nprint(os.listdir('/home'))", "print(open('/etc/shadow').read())",
                   f"import os\nprint(os.listdir({str(ROOT)!r}))"):
        result = run(source)
        assert result.status == "error", source
        assert result.detail.startswith(("FileNotFoundError", "PermissionError")), result.detail
    # what it sees of the file system: system files, its own /tmp with only its program
    result = run("import os\nprint(sorted(os.listdir('/')))\nprint(os.listdir('/tmp'))")
    top, tmp = result.stdout_tail.splitlines()
    assert "work" not in top and "root" not in top and "home" not in top
    assert tmp == "['program.py']"


@needs_isolation
def test_writes_outside_the_sandbox_fail_and_leave_nothing(tmp_path):
    name = f"sandbox-escape-{uuid.uuid4().hex}"
    targets = [str(ROOT / name), str(tmp_path / name), f"/{name}", f"/etc/{name}",
               f"/usr/{name}", f"/var/tmp/{name}"]
    for target in targets:
        result = run(f"open({target!r}, 'w').write('escaped')")
        assert result.status == "error", target
        assert not os.path.exists(target), target
    # /tmp inside is the program's own tmpfs: writing there works and never reaches the host
    result = run(f"open('/tmp/{name}', 'w').write('x')\nprint(open('/tmp/{name}').read())")
    assert result.stdout_tail == "x\n"
    assert not os.path.exists(f"/tmp/{name}")


@needs_isolation
def test_each_program_gets_a_fresh_working_directory():
    assert run("open('left-behind', 'w').write('x')").passed
    result = run("import os\nprint(sorted(os.listdir('.')))")
    assert result.stdout_tail == "['program.py']\n"


@needs_isolation
def test_no_network_even_to_a_server_on_the_host():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0)
    port = server.getsockname()[1]
    try:
        result = run("import socket\ns = socket.create_connection(('127.0.0.1', "
                     f"{port}), timeout=2)\nprint('connected')")
        assert result.status == "error"
        assert "Network is unreachable" in result.detail or "refused" in result.detail
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody knocked
    finally:
        server.close()
    result = run("import socket\nsocket.getaddrinfo('example.com', 80)")
    assert result.status == "error"


@needs_isolation
def test_process_limit_binds_and_children_die_with_the_program():
    name = marker()
    source = (SET_NAME.format(name=name) + "import os, time\nn = 0\nfor _ in range(50):\n"
              "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
              "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\n"
              "print(n)")
    result = run(source, processes=8)
    assert result.status == "passed", result.stderr_tail
    assert 0 <= int(result.stdout_tail) < 8  # RLIMIT_NPROC binds for user nobody
    assert alive(name) == []  # the sleeping children went with the program


@needs_isolation
def test_fork_bomb_is_contained():
    name = marker()
    source = SET_NAME.format(name=name) + ("import os\nwhile True:\n    try:\n        os.fork()\n"
                                           "    except OSError:\n        pass\n")
    try:
        result = run(source, processes=8, timeout=2)
        assert result.status == "timeout"
        assert alive(name) == []
        assert run("print('still fine')").stdout_tail == "still fine\n"
    finally:
        for pid in processes_named(name):  # only if the test failed: leave nothing behind
            try:
                os.kill(pid, 9)
            except OSError:
                pass


@needs_isolation
def test_daemonised_child_does_not_outlive_the_program():
    name = marker()
    child = SET_NAME.format(name=name) + ("import time\nprint('ready', flush=True)\n"
                                          "time.sleep(60)\n")
    source = (f"import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', {child!r}], "
              "start_new_session=True, stdout=subprocess.PIPE)\n"
              "print(p.stdout.readline().decode().strip(), 'parent done')")
    result = run(source)
    assert result.status == "passed", result.stderr_tail
    assert result.stdout_tail == "ready parent done\n"  # the child ran when the program ended
    assert alive(name) == []


@needs_isolation
def test_setuid_programs_do_not_elevate():
    result = run("import subprocess\nr = subprocess.run(['su', '-c', 'id -u', 'root'], "
                 "capture_output=True, text=True, stdin=subprocess.DEVNULL)\n"
                 "print(r.returncode != 0 or r.stdout.strip() != '0')")
    assert result.stdout_tail == "True\n" or result.status == "error"


@needs_isolation
def test_isolate_true_works_here_and_the_mode_is_reported():
    assert run("print(1)", isolate=True).stdout_tail == "1\n"
    mode = isolation()
    assert mode.isolated and mode.reason is None and mode.python


@needs_isolation
def test_interpreter_outside_usr_is_made_visible():
    """The venv's Python lives under /root/.pyenv here: its prefix is bound read-only."""
    result = run("import sys, json\nprint(sys.version_info[:2])", python=sys.executable)
    assert result.status == "passed", result.stderr_tail
    assert result.stdout_tail == f"{tuple(sys.version_info[:2])}\n"


# -- limits only (no root, or isolate=False) -------------------------------------------------

def test_limits_only_mode_warns_once_and_runs():
    sandbox._WARNED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run("import os\nprint(os.getcwd())\nprint(os.getuid())", isolate=False)
        second = run("print(2)", isolate=False)
    assert [w.category for w in caught] == [SandboxWarning]
    assert "without isolation" in str(caught[0].message)
    assert first.passed and second.stdout_tail == "2\n"
    workdir, uid = first.stdout_tail.split()
    assert int(uid) == (65534 if os.geteuid() == 0 else os.getuid())  # root: still nobody
    assert "papertools-sandbox-" in workdir and not os.path.exists(workdir)  # removed after
    assert isolation(isolate=False).mode == "limits"


def test_limits_only_mode_enforces_time_and_memory():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        assert run("while True:\n    pass", timeout=1, isolate=False).status == "timeout"
        assert run("b = bytearray(8 * 1024 ** 3)", memory_mb=256, isolate=False).status == \
            "memory"


def test_limits_only_mode_kills_the_process_group_on_timeout():
    """The child is known to run (it said so through a pipe) when the time limit ends the
    program, and is known dead or dying after: no timing decides the result. A machine too slow
    to start the child within the limit only makes the test try again with twice the limit."""
    name = marker()
    child = SET_NAME.format(name=name) + ("import time\nprint('ready', flush=True)\n"
                                          "while True:\n    time.sleep(1)\n")
    source = (f"import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', "
              f"{child!r}], stdout=subprocess.PIPE)\np.stdout.readline()\n"
              "print(p.pid, flush=True)\nwhile True:\n    time.sleep(1)")
    timeout = 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWarning)
        while True:
            result = run(source, timeout=timeout, isolate=False)
            assert result.status == "timeout"
            if result.stdout_tail.strip():
                break
            timeout *= 2
    pid = int(result.stdout_tail)
    try:
        assert killed(pid)
    finally:
        if not killed(pid):  # only if the test failed: leave nothing behind
            os.kill(pid, 9)
    assert not killed(os.getpid())  # the check can tell


def test_a_dead_sandbox_is_restarted():
    run("pass")
    for zygote in list(sandbox._ZYGOTES.values()):
        zygote.proc.kill()
        zygote.proc.wait()
    assert run("print('back')").stdout_tail == "back\n"


def test_threads_share_a_sandbox_and_take_turns():
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        return run(f"print({i} * {i})").stdout_tail

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, range(12))) == [f"{i * i}\n" for i in range(12)]
