"""The sandbox: untrusted layers run in a child process under bwrap, every verdict is reached in the parent.

Submissions that misbehave live in tests/hostile/ (all built on the correct
tests/hostile/_layers.py, which each imports from its own folder: the
sandbox gets a copy of the whole folder).  These tests use the real bwrap
sandbox; they skip only where it cannot run.  Never load the submissions
that attack their grader with ``sandbox="none"`` here: their grader would be
pytest (tests/test_grade.py runs them).
"""
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import reference_layers
from gradcheck import api
from gradcheck.adapters import ImplementationError, LoadError
from gradcheck.config import Config
from gradcheck.grading import bwrap, protocol
from gradcheck.grading.sandbox import Limits, SandboxDied, SandboxImplementation, sandbox_problem

HERE = Path(__file__).parent
EXAMPLES = HERE.parent / "examples"
SMALL = dict(batch=1, channels=2, filters=2, examples=3)
CONFIG = Config.conv(batch=1, channels=2, filters=2, size=4, kernel=3, stride=1, pad=1)

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bwrap sandbox here: {sandbox_problem()}")


@pytest.fixture
def hostile(student):
    """hostile(name) -> FILE:NAME of tests/hostile/<name>.py in its student's folder."""
    return lambda name: f"{student(name) / name}.py:Convolution"


def params(config=CONFIG, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in config.param_shapes.items()}


def x_of(config=CONFIG, seed=1):
    return np.random.default_rng(seed).standard_normal(config.x_shape)


@pytest.fixture
def sandbox():
    """sandbox(spec, layer="conv", **limits) -> a started SandboxImplementation with a copy of the file's folder,
    closed after the test."""
    started = []

    def make(spec, layer="conv", stop_on_death=False, sandbox="bwrap", **limits):
        implementation = SandboxImplementation(spec, layer, limits=Limits(**limits), stop_on_death=stop_on_death,
                                               sandbox=sandbox, folder=os.path.dirname(spec.rpartition(":")[0]))
        started.append(implementation)
        return implementation.start()

    yield make
    for implementation in started:
        implementation.close()


@pytest.mark.slow  # whole checks through the sandbox: the slow suite's
@pytest.mark.parametrize("spec,layer,convention", [
    (f"{EXAMPLES / 'reference_style.py'}:Convolution", "conv", "reference"),
    (f"{EXAMPLES / 'cs231n_style.py'}:conv_forward_naive", "conv", "function"),
    (f"{EXAMPLES / 'reference_style.py'}:Pooling", "maxpool", "reference"),
    (f"{EXAMPLES / 'dive_style.py'}:make_conv", "conv", "reference"),
])
def test_correct_layers_pass_through_the_sandbox(sandbox, spec, layer, convention):
    implementation = sandbox(spec, layer, timeout=30)
    report = api.plan(layer, implementation, seed=0, examples=5).run()
    assert report.passed, [(c.name, c.message) for c in report.checks if c.status != "pass"]
    assert implementation.convention == convention
    assert implementation.fatal is None


@pytest.mark.slow  # whole checks through the sandbox: the slow suite's
def test_same_verdict_as_in_process(hostile):
    """The sandbox changes where the layer runs, not what the engine finds."""
    spec = hostile("wrong_db")
    in_process = api.plan("conv", spec, seed=4, **SMALL).run()
    with SandboxImplementation(spec, "conv", folder=os.path.dirname(spec.rpartition(":")[0])) as implementation:
        sandboxed = api.plan("conv", implementation, seed=4, **SMALL).run()
    assert [(c.name, c.status) for c in sandboxed.checks] == [(c.name, c.status) for c in in_process.checks]
    assert [c.name for c in sandboxed.checks if c.status == "fail"] == ["dB"]
    assert sandboxed.counterexample.config == in_process.counterexample.config
    assert sandboxed.counterexample.triggers == in_process.counterexample.triggers


def test_replies_are_plain_float_arrays_whatever_the_layer_returns(hostile, sandbox):
    implementation = sandbox(hostile("lying_array"))
    subject = implementation.make(CONFIG, params())
    subject.forward(x_of())
    dx = subject.backward(np.ones(CONFIG.out_shape))
    assert type(dx) is np.ndarray and dx.dtype == np.float64
    assert not dx.any()  # the zeros it really holds, however it compares
    assert type(subject.read("dW")) is np.ndarray


@pytest.mark.slow  # whole checks through the sandbox: the slow suite's
def test_hang_is_killed_at_the_time_limit_and_later_calls_fail_fast(hostile, sandbox):
    implementation = sandbox(hostile("hang"), timeout=2)
    subject = implementation.make(CONFIG, params())
    namespace = os.readlink(f"/proc/{child_of(implementation)}/ns/pid")
    started = time.monotonic()
    with pytest.raises(ImplementationError, match="timed out: exceeded the time limit of 2 s during forward"):
        subject.forward(x_of())
    assert 1.5 < time.monotonic() - started < 5
    assert implementation.fatal.startswith("timed out")
    assert gone(namespace)  # the whole sandbox
    started = time.monotonic()
    with pytest.raises(ImplementationError, match="not run: the submission timed out"):
        implementation.make(CONFIG, params())
    assert time.monotonic() - started < 0.1


@pytest.mark.slow  # whole checks through the sandbox: the slow suite's
def test_cpu_limit(hostile, sandbox):
    implementation = sandbox(hostile("hang"), timeout=30, cpu=1)
    subject = implementation.make(CONFIG, params())
    started = time.monotonic()
    with pytest.raises(ImplementationError, match="exceeded the CPU time limit of 1 s during forward"):
        subject.forward(x_of())
    assert time.monotonic() - started < 5


def test_memory_limit_stops_a_numpy_bomb(hostile, sandbox):
    implementation = sandbox(hostile("memory_bomb"), memory=512)
    subject = implementation.make(CONFIG, params())
    with pytest.raises(ImplementationError, match="ran out of memory during forward .*MemoryError.* "
                                                  "under the memory limit of 512 MB"):
        subject.forward(x_of())


def test_memory_limit_stops_a_growing_list(sandbox, tmp_path):
    (tmp_path / "grow.py").write_text(textwrap.dedent("""\
        class Convolution:
            def __init__(self, W, b, stride=1, pad=0):
                self.W, self.b = W, b

            def forward(self, x):
                hog = []
                while True:
                    hog.append(bytearray(10**7))
    """))
    implementation = sandbox(f"{tmp_path / 'grow.py'}:Convolution", memory=400, timeout=20)
    subject = implementation.make(CONFIG, params())
    started = time.monotonic()
    with pytest.raises(ImplementationError, match="memory"):
        subject.forward(x_of())
    assert time.monotonic() - started < 10
    assert "400 MB" in implementation.fatal


def test_exit_mid_check_is_a_death_with_the_status(hostile, sandbox):
    implementation = sandbox(hostile("exit_in_backward"))
    subject = implementation.make(CONFIG, params())
    subject.forward(x_of())  # forward still works
    with pytest.raises(ImplementationError, match="exited with status 3 during backward") as caught:
        subject.backward(np.ones(CONFIG.out_shape))
    assert caught.value.stage == "sandbox" and caught.value.kind == "Exited"


def test_segfault_is_a_crash(hostile, sandbox):
    implementation = sandbox(hostile("segfault"))
    subject = implementation.make(CONFIG, params())
    subject.forward(x_of())
    with pytest.raises(ImplementationError, match=r"crashed during backward \(killed by SIGSEGV\)"):
        subject.backward(np.ones(CONFIG.out_shape))


@pytest.mark.parametrize("name,kind", [("keyboard_interrupt", "KeyboardInterrupt"), ("system_exit", "SystemExit")])
def test_base_exceptions_fail_the_call_and_the_child_lives_on(hostile, sandbox, name, kind):
    implementation = sandbox(hostile(name))
    subject = implementation.make(CONFIG, params())
    with pytest.raises(ImplementationError) as caught:
        subject.forward(x_of())
    assert caught.value.stage == "forward" and caught.value.kind == kind
    assert caught.value.location.startswith(f"{hostile(name).rpartition(':')[0]}:")  # where it is, not the copy
    implementation.make(CONFIG, params())  # still serving
    assert implementation.fatal is None


def test_stop_on_death_raises_sandbox_died_with_the_configuration(hostile, sandbox):
    implementation = sandbox(hostile("exit_in_backward"), stop_on_death=True)
    subject = implementation.make(CONFIG, params())
    subject.forward(x_of())
    with pytest.raises(SandboxDied) as caught:
        subject.backward(np.ones(CONFIG.out_shape))
    assert caught.value.kind == "Exited" and caught.value.config == CONFIG
    with pytest.raises(SandboxDied):
        implementation.make(CONFIG, params())


@pytest.mark.parametrize("name,message", [
    ("exit_at_import", "could not be imported: SystemExit: bye from exit_at_import at"),
    ("hard_exit_at_import", "could not be loaded: the submission exited with status 0 during import"),
])
def test_exits_at_import_are_load_errors(hostile, name, message):
    spec = hostile(name)
    implementation = SandboxImplementation(spec, "conv", folder=os.path.dirname(spec.rpartition(":")[0]))
    with pytest.raises(LoadError, match=message):
        implementation.start()
    assert implementation.closed
    if name == "hard_exit_at_import":
        assert "all checks PASSED" in implementation.stdout  # what it printed is kept, and means nothing


def test_load_errors_say_what_the_file_defines():
    spec = f"{EXAMPLES / 'reference_style.py'}:Conv2d"
    with pytest.raises(LoadError, match="defines no 'Conv2d'; it defines: .*Convolution"):
        SandboxImplementation(spec, "conv").start()
    with pytest.raises(LoadError, match="no such file"):
        SandboxImplementation("missing.py:Conv2d", "conv").start()


def test_forged_replies_on_the_channel_are_a_protocol_violation(hostile, sandbox):
    implementation = sandbox(hostile("protocol_writer"))
    subject = implementation.make(CONFIG, params())
    with pytest.raises(ImplementationError, match="broke the sandbox protocol during forward") as caught:
        subject.forward(x_of())
    assert caught.value.kind == "ProtocolError"


def test_printed_fakes_are_only_output(hostile, sandbox):
    implementation = sandbox(hostile("fake_output"))
    report = api.plan("conv", implementation, seed=0, **SMALL).run()
    assert not report.passed
    assert [c.name for c in report.checks if c.status == "fail"] == ["dX"]
    assert "PASSED" in implementation.stdout and "PASSED" in implementation.stderr


def test_chatty_output_is_truncated(hostile, sandbox):
    implementation = sandbox(hostile("chatty"), output=1000)
    report = api.plan("conv", implementation, seed=0, **SMALL).run()
    assert report.passed
    implementation.close()
    assert implementation.stdout_capture.total > 10_000
    assert len(implementation.stdout_capture.head) == 1000
    assert implementation.stdout.startswith("loading my layer ====")
    assert implementation.stdout.endswith("more bytes not shown]")
    assert "debug: forward called" in implementation.stderr


def test_oversized_reply_is_refused(sandbox, tmp_path):
    (tmp_path / "huge.py").write_text(textwrap.dedent("""\
        import numpy as np

        class Convolution:
            def __init__(self, W, b, stride=1, pad=0):
                self.W, self.b = W, b

            def forward(self, x):
                return np.zeros(10**7)  # 80 MB for an output of 32 elements
    """))
    implementation = sandbox(f"{tmp_path / 'huge.py'}:Convolution")
    subject = implementation.make(CONFIG, params())
    with pytest.raises(ImplementationError, match="sent a reply of 80000"):
        subject.forward(x_of())


SPY = """\
import json, os, resource, socket, sys

def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as error:
        return type(error).__name__

def imports(name):
    __import__(name)

def fork():
    if os.fork() == 0:
        os._exit(0)

limits = {name: resource.getrlimit(getattr(resource, name))
          for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC")}
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(json.dumps({
    "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path, "limits": limits,
    "ids": [os.getresuid(), os.getresgid(), os.getgroups()], "caps": status["CapEff"],
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "pids": sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit()),
    "signal init": attempt(lambda: os.kill(1, 0)),
    "interfaces": [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]],
    "connect": attempt(lambda: socket.create_connection(("127.0.0.1", 9), timeout=2)),
    "unix socket": attempt(lambda: socket.socketpair()),
    "memfd": attempt(lambda: os.memfd_create("spy")),
    "thread": attempt(lambda: __import__("threading").Thread(target=int).start()),
    "fork": attempt(fork),
    "imports": {name: attempt(lambda: imports(name))
                for name in ("numpy", "gradcheck.adapters", "gradcheck.checks", "reference_layers", "hypothesis")},
    "reads": {path: attempt(lambda: open(path).read()) for path in ("/etc/passwd", "/proc/1/environ")},
    "parent": [attempt(lambda: os.kill(os.getppid(), 0)),
               attempt(lambda: open(f"/proc/{os.getppid()}/environ").read())],
    "oracle": attempt(lambda: open(ORACLE).read()),
    "writes": {path: attempt(lambda: open(path, "a").close())
               for path in ("/tmp/x", "/gradcheck/submission/spy.py", numpy_file(), "/x", "/dev/shm/x")},
}))

class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        pass
"""


def spy(numpy_file="__import__('numpy').__file__"):
    """SPY, reading the oracle's file (reference_layers) as it is on this machine."""
    return SPY.replace("numpy_file()", numpy_file).replace("ORACLE", repr(reference_layers.__file__))


def test_child_is_isolated_limited_and_unprivileged(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCHECK_TEST_SECRET", "s3cret")
    (tmp_path / "spy.py").write_text(spy())
    implementation = sandbox(f"{tmp_path / 'spy.py'}:Convolution", timeout=7, memory=300)
    implementation.close()
    seen = json.loads(implementation.stdout)
    assert seen["limits"] == {"RLIMIT_AS": [300 << 20] * 2, "RLIMIT_CPU": [8, 9],  # a second of grace over 7 s
                              "RLIMIT_FSIZE": [64 << 20] * 2, "RLIMIT_NOFILE": [64, 64], "RLIMIT_CORE": [0, 0],
                              "RLIMIT_NPROC": [1, 1]}
    assert "GRADCHECK_TEST_SECRET" not in seen["env"] and "GRADCHECK_TEST_SECRET" not in implementation.stdout
    assert seen["env"]["OPENBLAS_NUM_THREADS"] == "1" and seen["env"]["OMP_NUM_THREADS"] == "1"
    assert seen["cwd"] == seen["env"]["HOME"] == seen["env"]["TMPDIR"] == "/tmp"
    assert "/gradcheck/submission" in seen["path"]  # the copy of the submission's folder, for its helper modules
    assert seen["fds"][:3] == [0, 1, 2] and len(seen["fds"]) == 6  # the two pipes of its channel, and listdir's
    assert seen["pids"] == [1, 2] and seen["signal init"] == "PermissionError"  # bwrap's init, and itself
    assert seen["interfaces"] == ["lo"] and seen["connect"] == "PermissionError"  # seccomp: no socket
    assert seen["unix socket"] == "PermissionError" and seen["memfd"] == "PermissionError"
    assert seen["thread"] == "RuntimeError" and seen["fork"] == "BlockingIOError"  # one task: itself
    assert seen["imports"] == {"numpy": "allowed", "gradcheck.adapters": "allowed", "gradcheck.checks":
                               "ModuleNotFoundError", "reference_layers": "ModuleNotFoundError",
                               "hypothesis": "ModuleNotFoundError"}
    assert seen["reads"] == {"/etc/passwd": "FileNotFoundError", "/proc/1/environ": "PermissionError"}
    assert seen["oracle"] == "FileNotFoundError" and seen["parent"][0] == "PermissionError"  # bwrap's init
    assert seen["writes"].pop("/tmp/x") == "allowed"  # its working directory, and nothing else
    assert set(seen["writes"].values()) <= {"PermissionError", "OSError"}  # EACCES, or EROFS (/dev, /dev/shm)
    if bwrap.as_root():  # nobody inside, and nobody outside too
        assert seen["ids"] == [[65534] * 3, [65534] * 3, []] and int(seen["caps"], 16) == 0


CONTAINER = HERE / "container.sh"
AS_A_USER = """
import json, os, sys
from gradcheck.grading.sandbox import Limits, SandboxImplementation
implementation = SandboxImplementation("/tmp/private/in/spy.py:Convolution", "conv", sandbox="user",
                                       limits=Limits(timeout=7, memory=300), folder="/tmp/private/in")
implementation.start()
child = int(open(f"/proc/{implementation._process.pid}/status").read().split("NoNewPrivs:")[1].split()[0])
implementation.close()
print(json.dumps({"seen": json.loads(implementation.stdout), "uid": implementation.uid, "no_new_privs": child}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the simulated Gradescope container needs root")
def test_as_a_user_of_its_own_the_child_is_limited_and_reaches_nothing_of_the_grader(tmp_path):
    """In the simulated Gradescope container (container.sh), where bwrap cannot run: the limits and the filter
    are bwrap's, the grader's processes and files are out of reach, and what every user may read it reads."""
    (tmp_path / "spy.py").write_text(spy())
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", str(CONTAINER),
                           "--bind", str(tmp_path), "/tmp/private/in", "--", sys.executable, "-c", AS_A_USER],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    seen, uid = report["seen"], report["uid"]
    assert seen["ids"] == [[uid] * 3, [uid] * 3, []] and int(seen["caps"], 16) == 0 and report["no_new_privs"] == 1
    assert seen["limits"] == {"RLIMIT_AS": [300 << 20] * 2, "RLIMIT_CPU": [8, 9], "RLIMIT_FSIZE": [64 << 20] * 2,
                              "RLIMIT_NOFILE": [64, 64], "RLIMIT_CORE": [0, 0], "RLIMIT_NPROC": [1, 1]}
    assert seen["env"]["HOME"] == seen["cwd"] and "GRADCHECK" not in json.dumps(seen["env"])
    assert (seen["memfd"], seen["thread"], seen["fork"]) == ("PermissionError", "RuntimeError", "BlockingIOError")
    assert seen["connect"] == seen["unix socket"] == "PermissionError"  # the machine's network: no
    assert seen["parent"] == ["PermissionError", "PermissionError"] and seen["signal init"] == "PermissionError"
    assert seen["oracle"] == "PermissionError" and seen["imports"] == {
        "numpy": "allowed", "gradcheck.adapters": "allowed", "gradcheck.checks": "ModuleNotFoundError",
        "reference_layers": "ModuleNotFoundError", "hypothesis": "ModuleNotFoundError"}
    assert seen["reads"] == {"/etc/passwd": "allowed", "/proc/1/environ": "PermissionError"}  # what all may read
    (numpy_file,) = [path for path in seen["writes"] if path.endswith("/numpy/__init__.py")]
    assert seen["writes"][numpy_file] == "PermissionError" and numpy_file.endswith("/child/site/numpy/__init__.py")
    assert seen["writes"]["/x"] == "PermissionError" and seen["writes"]["/tmp/x"] == "allowed"  # as all users may


def test_the_kernel_sees_the_child_as_nobody_without_capabilities(sandbox, tmp_path):
    """From outside the namespace, where the kernel checks files and signals: its uid and gid, and those of
    the file it makes."""
    (tmp_path / "maker.py").write_text(textwrap.dedent("""\
        open("/tmp/made-here", "w").close()

        class Convolution:
            def __init__(self, W, b, stride=1, pad=0):
                pass
    """))
    implementation = sandbox(f"{tmp_path / 'maker.py'}:Convolution")
    child = child_of(implementation)
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{child}/status").read_text().splitlines()
                  if ":\t" in line)
    uid, gid = (bwrap.UNPRIVILEGED, bwrap.UNPRIVILEGED) if bwrap.as_root() else (os.getuid(), os.getgid())
    assert status["Uid"].split() == [str(uid)] * 4 and status["Gid"].split() == [str(gid)] * 4
    assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == 0 and status["NoNewPrivs"] == "1"
    made = os.stat(f"/proc/{child}/root/tmp/made-here")
    assert (made.st_uid, made.st_gid) == (uid, gid)


def test_without_the_sandbox_the_child_keeps_its_limits_but_is_not_isolated(sandbox, tmp_path):
    (tmp_path / "spy.py").write_text(spy("'/nonexistent/numpy.py'"))
    implementation = sandbox(f"{tmp_path / 'spy.py'}:Convolution", sandbox="none", timeout=7, memory=300)
    implementation.close()
    seen = json.loads(implementation.stdout)
    assert seen["limits"]["RLIMIT_AS"] == [300 << 20] * 2 and seen["limits"]["RLIMIT_CPU"] == [8, 9]
    assert seen["ids"][0] == [os.getuid()] * 3  # the grader's own user
    assert seen["imports"]["reference_layers"] == "allowed" and len(seen["pids"]) > 2


def test_the_file_must_be_in_the_folder_that_is_copied(tmp_path):
    with pytest.raises(ValueError, match="reference_style.py is not in the submission's folder"):
        SandboxImplementation(f"{EXAMPLES / 'reference_style.py'}:Convolution", "conv", folder=tmp_path)


LISTS_ITS_FOLDER = """\
from __future__ import annotations
import os
print(sorted(os.listdir(os.path.dirname(__file__))))

class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        pass
"""


def test_a_file_comes_alone(tmp_path):
    """Its neighbours are classmates' files, even those whose names start with an underscore (a classmate's
    __future__.py would run in every `from __future__ import annotations`)."""
    for name in ("_helpers.py", "__future__.py", "numpy.py", "bob.py"):
        (tmp_path / name).write_text("raise SystemExit('a classmate ran')\n")
    (tmp_path / "_utils").mkdir()
    (tmp_path / "_utils" / "__init__.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "alice.cpython-311.pyc").write_bytes(b"poison")
    (tmp_path / "alice.py").write_text(LISTS_ITS_FOLDER)
    with SandboxImplementation(f"{tmp_path / 'alice.py'}:Convolution", "conv") as implementation:
        pass
    assert implementation.stdout == "['alice.py']\n" and implementation.left_out == []


def test_a_folder_comes_whole_but_for_what_would_hide_the_standard_library_numpy_or_gradcheck(tmp_path):
    (tmp_path / "layers.py").write_text(LISTS_ITS_FOLDER)
    for name in ("__future__.py", "numpy.py", "random.py", "gradcheck.py", "helpers.py", "json.txt", "copy"):
        (tmp_path / name).write_text("raise SystemExit('the student shadowed a module')\n")
    for package in ("json", "utils"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "utils" / "random.py").write_text("")  # utils.random: it hides nothing
    with SandboxImplementation(f"{tmp_path / 'layers.py'}:Convolution", "conv", folder=tmp_path) as implementation:
        pass
    assert implementation.stdout == "['helpers.py', 'layers.py', 'utils']\n"
    assert implementation.left_out == [
        "__future__.py was left out: it would hide the standard library's __future__",
        "gradcheck.py was left out: it would hide gradcheck",
        "json was left out: it would hide the standard library's json",
        "numpy.py was left out: it would hide numpy",
        "random.py was left out: it would hide the standard library's random"]


def test_patching_numpy_or_gradcheck_in_the_child_changes_nothing_here(hostile, sandbox):
    before = (np.allclose, np.abs)
    for name, failing in (("patch_numpy", ["dW"]), ("patch_gradcheck", None)):
        implementation = sandbox(hostile(name))
        report = api.plan("conv", implementation, seed=0, **SMALL).run()
        assert not report.passed
        if failing:
            assert [c.name for c in report.checks if c.status == "fail"] == failing
    assert (np.allclose, np.abs) == before


# -- the wire format ----------------------------------------------------------

def frame_payload(header, blobs):
    head = json.dumps(dict(header, arrays=[len(blob) for blob in blobs])).encode()
    return struct.pack(">I", len(head)) + head + b"".join(blobs)


def npy(array, allow_pickle=False):
    stream = io.BytesIO()
    np.lib.format.write_array(stream, array, allow_pickle=allow_pickle)
    return stream.getvalue()


def test_round_trip_keeps_dtypes_and_shapes():
    arrays = [np.arange(6.0).reshape(2, 3), np.ones(3, np.float32), np.arange(4), np.array([True]),
              np.array(2.5), np.arange(6.0).reshape(2, 3).T]  # a loss is 0-d; a transposed array is not C-ordered
    header, decoded = protocol.decode(protocol.encode({"id": 7}, arrays)[4:])
    assert header["id"] == 7
    for original, copy in zip(arrays, decoded):
        assert copy.dtype == original.dtype and copy.shape == original.shape and np.array_equal(copy, original)


@pytest.mark.parametrize("payload,message", [
    (frame_payload({}, [npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)]), "malformed frame"),
    (frame_payload({}, [npy(np.zeros(2, dtype=[("a", "f8")]))]), "not a plain numeric array"),
    (frame_payload({}, [npy(np.array(["text"]))]), "not a plain numeric array"),
    (frame_payload({}, [npy(np.zeros(2, complex))]), "not a plain numeric array"),
    (frame_payload({}, [npy(np.zeros(3))])[:-8], "do not add up"),
    (struct.pack(">I", 10**9) + b"{}", "does not fit"),
    (struct.pack(">I", 2) + b"[]", "not a JSON object"),
    (struct.pack(">I", 15) + b'{"arrays": "x"}', "array sizes are malformed"),
    (struct.pack(">I", 16) + b'{"arrays": [-1]}', "array sizes are malformed"),
    (b"PASSED" * 10, "does not fit"),
])
def test_decode_refuses_anything_but_plain_numeric_arrays(payload, message):
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.decode(payload)


def test_a_submission_is_one_task_and_closing_leaves_no_process_behind(tmp_path):
    """A grandchild in a session of its own would outlive its parent: the child may start no process or thread
    (so that its memory limit is all the memory it has), and its sandbox ends whole."""
    (tmp_path / "forker.py").write_text(textwrap.dedent("""\
        import os, threading, time

        def fork():
            if os.fork() == 0:
                os.setsid()
                time.sleep(600)

        for start in (fork, threading.Thread(target=time.sleep, args=(600,)).start):
            try:
                start()
                print("started")
            except Exception as error:
                print(type(error).__name__)

        class Convolution:
            def __init__(self, W, b, stride=1, pad=0):
                pass
    """))
    implementation = SandboxImplementation(f"{tmp_path / 'forker.py'}:Convolution", "conv", folder=tmp_path).start()
    namespace = os.readlink(f"/proc/{child_of(implementation)}/ns/pid")
    assert len(living_in(namespace)) == 2  # bwrap's init and the child
    implementation.close()
    assert implementation.stdout == "BlockingIOError\nRuntimeError\n" and gone(namespace)


def child_of(implementation):
    """The pid of the sandboxed Python, as the host sees it: the child of the child of bwrap (Linux /proc)."""
    pid = implementation._process.pid
    for _ in range(2):
        pid = int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    return pid


def gone(namespace, within=5.0):
    """Whether every process of pid namespace ``namespace`` has ended within ``within`` seconds."""
    deadline = time.monotonic() + within
    while living_in(namespace) and time.monotonic() < deadline:
        time.sleep(0.05)
    return living_in(namespace) == []


def living_in(namespace):
    """Pids of the processes in pid namespace ``namespace`` (a /proc/PID/ns/pid link) that are not zombies."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") == namespace and \
                    Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
                found.append(int(entry))
        except OSError:
            continue
    return found
