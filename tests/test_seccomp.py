"""The seccomp filter (gradcheck/grading/seccomp.py) installed for real, in a process of its own.

Each refused system call is made with arguments the kernel itself would
refuse (EINVAL, EFAULT, EOPNOTSUPP), so that it does nothing even unfiltered,
and the same script is run without the filter: a refusal counts only where
the kernel alone answers otherwise.  The numbers of the calls without a C
library wrapper are the kernel's own tables, written here apart from
libseccomp's.  Without libseccomp, ``install`` and the grading that needs it
refuse to run, saying what to install.
"""
import errno
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck.grading import seccomp

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"),
                                reason="gradcheck's seccomp filter knows x86_64 and aarch64")

PROBE = r"""
import ctypes, json, mmap, os, platform, socket, sys, threading
NUMBERS = {"x86_64": dict(clone=56, getpid=39, io_uring_setup=425, clone3=435, setxattrat=463),
           "aarch64": dict(clone=220, getpid=172, io_uring_setup=425, clone3=435, setxattrat=463)}[platform.machine()]
CLONE_NEWUSER, CLONE_NEWNS, CLONE_FS, CLONE_PARENT, X32_SYSCALL_BIT = 0x10000000, 0x20000, 0x200, 0x8000, 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def errno_of(function, *args):
    ctypes.set_errno(0)
    result = function(*(arg if isinstance(arg, bytes) else ctypes.c_long(arg) for arg in args))
    return ctypes.get_errno() if result == -1 else 0

def raw(name, *args, bits=0):
    return errno_of(libc.syscall, NUMBERS[name] | bits, *args)

def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as error:
        return type(error).__name__

def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def thread():
    ran = []
    worker = threading.Thread(target=ran.append, args=(1,))
    worker.start()
    worker.join()
    return ran

def i386_getpid():
    code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (i386's getpid); int 0x80; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()

if sys.argv[1] == "i386":
    print(json.dumps(i386_getpid() == os.getpid()))
    sys.exit()
if sys.argv[1] == "filtered":
    from gradcheck.grading import seccomp
    seccomp.install()
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
print(json.dumps({
    "refused": {
        "memfd_create": errno_of(libc.memfd_create, b"probe", 0xFFFF),  # unknown flags
        "shmget": errno_of(libc.shmget, 0, 0, 0o1000),  # IPC_PRIVATE, IPC_CREAT, a size of 0
        "io_uring_setup": raw("io_uring_setup", 1, 0),  # no parameters
        "socket": errno_of(libc.socket, socket.AF_INET, 0xFFFF, 0),  # no such type
        "socketpair": errno_of(libc.socketpair, socket.AF_INET, socket.SOCK_STREAM, 0, 0),  # not for AF_INET
        "clone": raw("clone", CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0),  # a new user namespace sharing fs
        "unshare": errno_of(libc.unshare, CLONE_NEWUSER | CLONE_PARENT),  # not a flag of unshare
        "clone3": raw("clone3", 0, 0),  # no arguments
        "setxattr": errno_of(libc.setxattr, b"/", b"no-such-namespace.a", b"", 0, 0),  # no such namespace
        "lsetxattr": errno_of(libc.lsetxattr, b"/", b"no-such-namespace.a", b"", 0, 0),
        "fsetxattr": errno_of(libc.fsetxattr, -1, b"user.a", b"", 0, 0),  # no such descriptor
        "setxattrat": raw("setxattrat", -1, b"", 0, b"user.a", 0, 0),  # no such descriptor, no arguments
    },
    "passed on": {  # to the kernel, which refuses them
        "clone": raw("clone", CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0),
        "unshare": errno_of(libc.unshare, CLONE_PARENT),
        "getpid": raw("getpid"),
    },
    "x32 getpid": raw("getpid", bits=X32_SYSCALL_BIT) if platform.machine() == "x86_64" else None,
    "used": {
        "memfd": attempt(lambda: os.memfd_create("probe")),
        "socket": attempt(lambda: socket.socket().close()),
        "socketpair": attempt(socket.socketpair),
        "fork": fork(),
        "thread": thread(),  # glibc's pthread_create: clone3, and clone when clone3 is ENOSYS
        "file": attempt(lambda: open(os.__file__).read()),
    },
    "no_new_privs": status["NoNewPrivs"], "seccomp": status["Seccomp"],
}))
if sys.argv[1:] == ["filtered", "i386"]:
    print(i386_getpid(), flush=True)
"""


def run(script, *arguments):
    """``script`` run by this interpreter in a process of its own, importing gradcheck from this checkout."""
    return subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def probe(*how):
    """What PROBE printed, line by line, run as ``how`` says ("plain", "filtered", "i386")."""
    done = run(PROBE, *how)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def runs():
    """What the probe saw, without the filter and with it."""
    (plain,), (filtered,) = probe("plain"), probe("filtered")
    return plain, filtered


REFUSED = {"memfd_create": errno.EPERM, "shmget": errno.EPERM, "io_uring_setup": errno.EPERM,
           "socket": errno.EPERM, "socketpair": errno.EPERM, "clone": errno.EPERM, "unshare": errno.EPERM,
           "clone3": errno.ENOSYS, "setxattr": errno.EPERM, "lsetxattr": errno.EPERM, "fsetxattr": errno.EPERM,
           "setxattrat": errno.EPERM}


@pytest.mark.parametrize("name", REFUSED)
def test_each_call_of_the_policy_is_refused_with_its_errno(runs, name):
    plain, filtered = runs
    if plain["refused"][name] == REFUSED[name]:  # io_uring_setup, where sysctl kernel.io_uring_disabled is 2
        pytest.skip(f"this kernel refuses {name} with the same errno unfiltered: the filter's refusal is not seen")
    assert plain["refused"][name] != 0  # done with arguments that do nothing
    assert filtered["refused"][name] == REFUSED[name]


def test_the_rest_reaches_the_kernel(runs):
    """clone and unshare without CLONE_NEWUSER pass on (the kernel answers as it would), a fork, a thread (its
    clone3 refused as ENOSYS, glibc falls back to clone) and a read work."""
    plain, filtered = runs
    assert filtered["passed on"] == plain["passed on"] == {"clone": errno.EINVAL, "unshare": errno.EINVAL,
                                                          "getpid": 0}
    assert plain["used"] == {"memfd": "allowed", "socket": "allowed", "socketpair": "allowed", "fork": 7,
                             "thread": [1], "file": "allowed"}
    assert filtered["used"] == {"memfd": "PermissionError", "socket": "PermissionError",
                                "socketpair": "PermissionError", "fork": 7, "thread": [1], "file": "allowed"}


def test_install_sets_no_new_privs_and_a_filter(runs):
    plain, filtered = runs
    assert (filtered["no_new_privs"], filtered["seccomp"]) == ("1", "2")  # SECCOMP_MODE_FILTER
    assert plain["seccomp"] == "0"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x32 is an ABI of x86_64")
def test_a_system_call_of_the_x32_abi_is_refused(runs):
    plain, filtered = runs
    assert filtered["x32 getpid"] == errno.EPERM
    assert plain["x32 getpid"] in (0, errno.ENOSYS)  # a kernel with x32, or without it


@pytest.mark.skipif(platform.machine() != "x86_64", reason="int 0x80 is i386's ABI on x86_64")
def test_a_system_call_of_the_i386_abi_is_refused():
    unfiltered = run(PROBE, "i386")
    if unfiltered.returncode != 0:
        pytest.skip(f"this kernel runs no i386 system call (no IA32 emulation): {unfiltered.returncode}")
    assert json.loads(unfiltered.stdout) is True  # unfiltered, int 0x80's getpid is this process's
    *_, refused = probe("filtered", "i386")
    assert refused == -errno.EPERM


INSTALL_WITHOUT_LIBSECCOMP = """
import os
from gradcheck.grading import seccomp
seccomp.LIBRARY = "libseccomp-gradcheck-test-missing.so.2"
try:
    seccomp.install()
except OSError as error:
    print(error)
os.close(os.memfd_create("unfiltered"))
"""


def test_without_libseccomp_install_fails_saying_what_to_install():
    done = run(INSTALL_WITHOUT_LIBSECCOMP)
    assert done.returncode == 0, done.stderr
    said = done.stdout.strip()
    assert said.startswith("[Errno 2] gradcheck's seccomp filter needs libseccomp, and "
                           "libseccomp-gradcheck-test-missing.so.2 could not be loaded (")
    assert said.endswith("): install it with apt-get install libseccomp2 (Fedora: dnf install libseccomp; "
                         "Alpine: apk add libseccomp)")


CONTAINER = ROOT / "tests" / "container.sh"
HIDE_AND_RUN = 'mount --bind /dev/null "$1" && shift && exec bash "$@"'


@pytest.mark.slow  # a simulated container
@pytest.mark.skipif(os.geteuid() != 0, reason="the simulated Gradescope container needs root")
def test_where_libseccomp_is_missing_grading_refuses_to_run_and_says_what_to_install():
    """In the simulated Gradescope container (bwrap cannot run there) with libseccomp's file hidden: a child as
    a user of its own cannot install the filter, and gradcheck grade exits 2 naming the package, grading
    nothing."""
    seccomp.library()  # loaded here, unfiltered, to find the file the children would load
    (path,) = {os.path.realpath(line.split()[-1]) for line in Path("/proc/self/maps").read_text().splitlines()
               if os.path.basename(line.split()[-1]).startswith("libseccomp.so")}
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", "-c", HIDE_AND_RUN, "_",
                           path, str(CONTAINER), "--", sys.executable, "-m", "gradcheck", "grade",
                           str(ROOT / "examples" / "class" / "alice.py"), "--layer", "conv", "--impl", "Conv2d",
                           "--sandbox", "auto"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert "bwrap cannot run here: its sandbox exited with status 1: bwrap: Can't mount proc" in done.stderr
    assert (f"a child running as an unprivileged user exited with status 1: FileNotFoundError: [Errno 2] "
            f"gradcheck's seccomp filter needs libseccomp, and {seccomp.LIBRARY} could not be loaded (") in done.stderr
    assert "): install it with apt-get install libseccomp2 (Fedora: " in done.stderr
