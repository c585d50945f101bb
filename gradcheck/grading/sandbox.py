"""Check untrusted code: the submission runs in a sandboxed child process, every verdict is reached in the parent.

``SandboxImplementation("student.py:Convolution", "conv")`` is an
``Implementation`` (see ``gradcheck.adapters``) whose subjects live in one
child process (``gradcheck.grading.child``), isolated by bwrap (``bwrap``:
its own namespaces, a read-only view of the interpreter and numpy only, a
private copy of the submission, no network; as an unprivileged user when the
grader is root) or, with ``sandbox="user"``, run as an unprivileged user of
its own (``users``: where bwrap cannot run and the grader is root).  The
parent never imports the student's file; it sends the child inputs and gets
back plain numeric arrays (``.npy`` bytes read with pickle disabled,
validated, converted as ``adapters.as_float_array`` does), so nothing the
submission does in its own process (patching numpy or gradcheck, returning
ndarray subclasses that lie about comparisons, printing "PASSED") reaches
the comparisons.

The child runs with

* a time limit (``Limits.timeout``, default 60 s): wall-clock seconds the
  submission's code may take in total, import and every call included.  The
  parent waits on every reply with ``select`` and kills the child's whole
  process group when the budget is spent.  Time the parent spends computing
  finite differences and comparisons is not charged to the submission.
* a CPU limit (``Limits.cpu``, default: the timeout) via RLIMIT_CPU;
* a memory limit (``Limits.memory`` MB, default 2048) via RLIMIT_AS, with
  BLAS and OpenMP pinned to one thread so the limit means what it says;
* a fresh working directory (also HOME and TMPDIR; in the bwrap sandbox a
  tmpfs of ``bwrap.WORKDIR_LIMIT`` bytes, and as root of
  ``bwrap.WORKDIR_ENTRIES`` entries), a minimal environment, no stdin,
  files of at most ``FILE_LIMIT`` bytes, at most ``FILE_DESCRIPTORS`` open
  descriptors, no core dumps;
* isolated (bwrap or user), ``PROCESS_LIMIT`` tasks, that is itself alone
  (so that RLIMIT_AS bounds all it holds, and it uses one CPU at most), and
  the seccomp filter of ``seccomp`` (no memfd, no System V shared memory, no
  user namespace, no io_uring, no socket);
* its standard output and error captured through pipes, the first
  ``Limits.output`` bytes of each kept (``stdout`` / ``stderr``).

Anything that goes wrong in user code reaches the engine as an
``ImplementationError``, as it would in process, so the running check fails.
When the child dies (exits, is killed, crashes, times out, runs out of
memory or breaks the protocol) the implementation records why in ``fatal``
(one line, e.g. "timed out: exceeded the time limit of 60 s during
forward") and the configuration being checked in ``fatal_config``.  Then
either every call fails at once with that reason (an ImplementationError of
stage "sandbox"), or, with ``stop_on_death=True`` (what ``gradcheck grade``
uses), ``SandboxDied`` is raised: a BaseException, which the engine and
Hypothesis let through, so the search stops instead of measuring trigger
facts and hints on a layer that no longer runs.

With ``sandbox="none"`` the child is a plain process of the grader's user,
with the same limits (but the process count and the filter) and the same
copy: not isolated.  POSIX only (resource limits, process groups, select on
pipes).
"""
import errno
import functools
import itertools
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass

import numpy as np

from . import bwrap, protocol, users
from .child import STAGES
from ..adapters import (CONVENTIONS, IN_PLACE, REBINDING, Hyperparameters, Implementation, ImplementationError,
                        LoadError, Subject)
from ..forms import Pair, UserError, own_weights_note

DEFAULT_TIMEOUT = 60.0  # seconds of wall-clock time for the submission's code, in total
DEFAULT_MEMORY = 2048  # MB of address space
OUTPUT_LIMIT = 4096  # bytes of stdout and of stderr kept for the report
FILE_LIMIT = 64 << 20  # bytes: the largest file the submission may write
PROCESS_LIMIT = 1  # tasks (processes and threads) an isolated submission may run: RLIMIT_AS then bounds them all
FILE_DESCRIPTORS = 64  # descriptors the submission may hold open: they bound what its pipes buffer
COPY_FILES, COPY_BYTES = 1000, 32 << 20  # the most .py files, and bytes of them, a submission may come with
PROBE_TIMEOUT = 60.0  # seconds the probe of the bwrap sandbox may take
SANDBOXES = ("bwrap", "user", "none")
MIN_FRAME_LIMIT = 64 << 20  # a reply may always be this large ...
FRAME_SLACK = 4  # ... or this many times the size of the arrays it should hold
TEXT_LIMIT = 2000  # characters of any message from the child
NOTE_LIMIT, NOTES = 300, 20  # characters per note, notes per subject
CHUNK = 1 << 16
POLL = 0.25  # seconds between checks that the child is still alive while waiting
EXIT_GRACE = 1.0  # seconds a child that closed its channel gets to finish exiting
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "GOTO_NUM_THREADS")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the folder holding gradcheck/
LAUNCH = ("import os, sys; sys.path[:0] = sys.argv[1].split(os.pathsep); "
          "from gradcheck.grading.child import main; main()")
FIX = ("gradcheck grade isolates submissions with bwrap, which needs Linux with unprivileged user namespaces "
       "(sysctl user.max_user_namespaces > 0 and kernel.unprivileged_userns_clone=1; under AppArmor also "
       "kernel.apparmor_restrict_unprivileged_userns=0); run as root, --sandbox user isolates each submission as "
       "an unprivileged user of its own instead; or pass --sandbox none to grade without isolation")


@dataclass(frozen=True)
class Limits:
    """What one submission may use.  ``cpu`` None means as many CPU seconds as ``timeout``."""

    timeout: float = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY
    cpu: float = None
    output: int = OUTPUT_LIMIT

    def __post_init__(self):
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if not self.memory >= 64:
            raise ValueError(f"memory must be at least 64 MB, got {self.memory!r}")
        if self.cpu is not None and not self.cpu > 0:
            raise ValueError(f"cpu must be > 0 seconds, got {self.cpu!r}")

    @property
    def cpu_seconds(self):
        return self.timeout if self.cpu is None else self.cpu


class Capture:
    """The first ``limit`` bytes of a stream, and how many bytes it had in all."""

    def __init__(self, limit):
        self.limit = limit
        self.head = bytearray()
        self.total = 0

    def feed(self, chunk):
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]

    @property
    def truncated(self):
        return self.total > len(self.head)

    def text(self):
        text = clean(bytes(self.head).decode("utf-8", "replace"), None)
        if self.truncated:
            text += f"\n[... {self.total - len(self.head)} more bytes not shown]"
        return text


def clean(text, limit=TEXT_LIMIT):
    """Text from the child made safe for reports: printable (plus newline and tab), at most ``limit`` chars."""
    text = "".join(c if c.isprintable() or c in "\n\t" else "\N{REPLACEMENT CHARACTER}" for c in str(text))
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" [... {len(text) - limit} more characters]"
    return text


class SandboxUnavailable(RuntimeError):
    """The isolation asked for cannot run here; the message (one line) says why and what to do."""


@functools.lru_cache(maxsize=None)
def sandbox_problem():
    """Why the bwrap sandbox cannot run here, or None.

    Tried once per process, for real: a child is started in the sandbox as
    for grading (namespaces, mounts, limits, dropped privileges, numpy and
    the adapters imported) and must then exit cleanly when its channel closes.
    """
    try:
        bwrap.executable()
    except bwrap.Unavailable as error:
        return str(error)
    failed = _probe("bwrap")
    return None if failed is None else f"bwrap cannot run here: its sandbox {failed}"


def user_problem(paths=(), scratch=None):
    """Why submissions cannot be isolated here as users of their own (``users``), or None.

    Tried for real, as a uid a submission would get: it must run the
    interpreter and a child as for grading (``_probe`` in ``scratch``), and
    read none of gradcheck's oracle, the grader's environment and ``paths``
    (the submissions as given; their copies are its own).
    """
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return ("without bwrap, submissions are isolated each as an unprivileged user of its own, which needs "
                "Linux and a grader running as root")
    (uid,) = users.free_uids(1)
    import reference_layers

    guarded = [reference_layers.__file__, *(folder for folder in bwrap.hidden() if folder.startswith(sys.prefix)),
               *map(os.path.abspath, paths)]
    try:
        readable = users.readable_by(uid, guarded)
    except OSError as error:
        return str(error)
    if readable:
        return (f"an unprivileged user could read {readable[0]}: isolating submissions as users of their own needs "
                "the grader's installation and the submissions closed to other users (install gradcheck in a "
                "venv only root can enter, chmod go-rwx the submissions)")
    failed = _probe("user", uid, scratch)
    return None if failed is None else (f"a child running as an unprivileged user {failed} (every folder down to "
                                        f"{scratch or tempfile.gettempdir()} must be open to all users)")


def _probe(sandbox, uid=None, scratch=None):
    """Start a child in ``sandbox`` on an empty submission; None when it exits cleanly once its channel closes,
    else how it failed ("exited with status 1: " and bwrap's complaint, or the last line of its stderr)."""
    with tempfile.TemporaryDirectory(prefix="gradcheck-probe-", dir=scratch) as workdir:
        for folder in ("submission", "home"):
            _make_folder(os.path.join(workdir, folder))
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        os.close(request_w)  # the child reads end of file as soon as it is ready, and exits
        try:
            process = launch(sandbox, workdir, _settings(sandbox, Limits(), request_r, reply_w, uid),
                             subprocess.DEVNULL, subprocess.PIPE, time.monotonic() + PROBE_TIMEOUT,
                             scratch or workdir)
        finally:
            for fd in (request_r, reply_r, reply_w):
                os.close(fd)
        try:
            _, errors = process.communicate(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return f"did not start within {PROBE_TIMEOUT:g} s"
        finally:
            if uid is not None:
                users.sweep(uid)
    if process.returncode == 0:
        return None
    lines = [line.strip() for line in errors.decode("utf-8", "replace").splitlines() if line.strip()]
    said = next((line for line in lines if line.startswith("bwrap:")), lines[-1] if lines else "")
    return f"exited with status {process.returncode}" + (f": {said}" if said else "")


def launch(sandbox, workdir, settings, stdout, stderr, deadline, tree=None):
    """Start a child on the copy of a submission in ``workdir``/submission; return its Popen (a new session).

    ``sandbox`` "bwrap" runs it under bwrap (see ``bwrap``; as root, its uid
    and gid maps are written before ``deadline``, or bwrap is killed: then,
    as when bwrap fails, the process ends at once and its stderr says why);
    "user" as a plain child process that drops to ``settings["user"]``
    (see ``users``), importing from ``users.tree(tree)``; "none" as a plain
    child process.  Outside bwrap it works in ``workdir``/home.
    ``settings`` are the child's (see ``gradcheck.grading.child``).
    """
    submission, home = os.path.join(workdir, "submission"), os.path.join(workdir, "home")
    paths = {"bwrap": [bwrap.LIB, bwrap.SITE], "none": [ROOT]}.get(sandbox)
    if sandbox == "user":
        users.prepare(workdir, settings["user"][0])
        paths = users.tree(tree)
    arguments = ["-c", LAUNCH, os.pathsep.join(paths), json.dumps(settings)]
    channel = (settings["request"], settings["reply"])
    options = dict(stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True,
                   env=_environment(bwrap.WORKDIR if sandbox == "bwrap" else home))
    if sandbox == "none":
        return subprocess.Popen([sys.executable, "-I", "-B", *arguments], cwd=home, pass_fds=channel, **options)
    if sandbox == "user":
        return subprocess.Popen([users.interpreter(), "-I", "-S", "-B", *arguments], cwd=home, pass_fds=channel,
                                **options)
    if not bwrap.as_root():
        return subprocess.Popen(bwrap.command(["-I", "-S", "-B", *arguments], submission), pass_fds=channel,
                                **options)
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    try:
        process = subprocess.Popen(bwrap.command(["-I", "-S", "-B", *arguments], submission, info_w, block_r),
                                   pass_fds=channel + (info_w, block_r), **options)
    finally:
        os.close(info_w)
        os.close(block_r)
    try:
        bwrap.map_users(info_r, block_w, deadline)
    except (OSError, ValueError):  # bwrap failed before it made the namespace, or must not go on without the maps
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    finally:
        os.close(info_r)
        os.close(block_w)
    return process


def _settings(sandbox, limits, request, reply, uid=None):
    """The child's settings: its channel, its limits, and the user to become (``uid`` with sandbox "user"; as
    root, UNPRIVILEGED in the bwrap sandbox)."""
    # With the CPU limit at its default (the timeout), a second of grace lets a plain hang report as a timeout.
    cpu = math.ceil(limits.cpu_seconds) + (limits.cpu is None)
    isolated = sandbox != "none"
    user = [uid] * 2 if sandbox == "user" else [bwrap.UNPRIVILEGED] * 2 if isolated and bwrap.as_root() else None
    workdir = [bwrap.WORKDIR, bwrap.WORKDIR_LIMIT, bwrap.WORKDIR_ENTRIES] if sandbox == "bwrap" and user else None
    return {"request": request, "reply": reply, "memory": limits.memory << 20, "cpu": cpu, "fsize": FILE_LIMIT,
            "files": FILE_DESCRIPTORS, "processes": PROCESS_LIMIT if isolated else None, "seccomp": isolated,
            "user": user, "workdir": workdir}


def _environment(home):
    env = {"PATH": os.defpath, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "MPLBACKEND": "Agg"}
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    return env


def copy_submission(source, destination, main):
    """Copy a submission's source into ``destination``, readable by all, to be compiled from source; return
    (the folder, relative to ``destination``, that holds what was given: "" but for a package; notes on what was
    left out).

    ``source`` is the submission's folder, whose .py files (in it and its
    subfolders) are copied, or its .py file, copied alone: the files beside it
    are not the student's.  A folder that is a package (it holds an
    ``__init__.py``) is copied into a folder of its name, so that it is
    imported as that package.  Symbolic links in a folder are left out (one
    could reach a classmate's files), and so are hidden entries and
    ``__pycache__`` folders.  ``main`` is the file to be loaded: while it
    imports, its folder comes first on sys.path, so a module there named like
    one of the standard library, numpy or gradcheck (``__future__.py``,
    ``numpy/``) would replace it; such files are left out, each with a note
    saying why.  LoadError when the copy is more than COPY_FILES files or
    COPY_BYTES bytes.
    """
    copy = _Copy(source)
    _make_folder(destination)
    if not os.path.isdir(source):
        copy.file(source, os.path.join(destination, os.path.basename(source)))
        return "", []
    root, folder = os.path.abspath(source), os.path.dirname(os.path.abspath(main))
    inside = os.path.basename(root) if _is_package(root) else ""
    left_out = {path: module for path in (os.path.join(folder, name) for name in os.listdir(folder))
                if (module := _shadowed(path)) and not os.path.samefile(path, main)}
    copy.tree(root, os.path.join(destination, inside), left_out)
    return inside, [f"{os.path.relpath(path, root)} was left out: it would hide {module}"
                    for path, module in sorted(left_out.items())]


def _is_package(folder):
    """Whether ``folder`` is a package Python can import by its name."""
    name = os.path.basename(os.path.abspath(folder))
    return os.path.isfile(os.path.join(folder, "__init__.py")) and name.isidentifier()


def _shadowed(path):
    """What the module file or package folder at ``path`` would hide: numpy, gradcheck, a module of the standard
    library, or None (and None for anything else)."""
    name = os.path.basename(path)
    module = name if os.path.isdir(path) else name[:-3] if name.endswith(".py") else None
    if module in ("numpy", "gradcheck"):
        return module
    return f"the standard library's {module}" if module in sys.stdlib_module_names else None


class _Copy:
    """Copies .py files, counting them against COPY_FILES and COPY_BYTES."""

    def __init__(self, source):
        self.source = source
        self.files = self.bytes = 0

    def tree(self, folder, destination, left_out):
        """Every .py file in ``folder`` and its subfolders, but links, hidden entries, __pycache__ and the paths in
        ``left_out``."""
        for root, subfolders, names in os.walk(folder):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name != "__pycache__"
                                   and not os.path.islink(os.path.join(root, name))
                                   and os.path.join(root, name) not in left_out)
            target = os.path.join(destination, os.path.relpath(root, folder))
            _make_folder(target)
            for name in sorted(names):
                path = os.path.join(root, name)
                if name.endswith(".py") and not name.startswith(".") and not os.path.islink(path) and \
                        os.path.isfile(path) and path not in left_out:
                    self.file(path, os.path.join(target, name))

    def file(self, path, destination):
        self.files, self.bytes = self.files + 1, self.bytes + os.path.getsize(path)
        if self.files > COPY_FILES or self.bytes > COPY_BYTES:
            raise LoadError(f"{self.source} is too large to grade: it comes with more than {COPY_FILES} .py files "
                            f"or {COPY_BYTES >> 20} MB of them; give the submission's own folder")
        shutil.copyfile(path, destination)
        os.chmod(destination, 0o644)


def _make_folder(path):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)


class SandboxDied(BaseException):
    """The child is gone and the sandbox was made with ``stop_on_death``: stop checking.

    ``kind`` is a short category (TimeLimit, CPULimit, MemoryLimit, Exited,
    Killed, ProtocolError), ``reason`` the one-line ``fatal`` text and
    ``config`` the configuration being checked when it happened (or None).
    """

    def __init__(self, kind, reason, config=None):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.config = config


class _Dead(Exception):
    """The child is gone (or must go); ``kind`` and ``reason`` say why."""

    def __init__(self, kind, reason):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class SandboxImplementation(Implementation):
    """An Implementation whose layers live in one sandboxed child process.

    Use as a context manager, or call ``start()`` (raises LoadError when the
    file cannot be loaded, with the reason) and finally ``close()``, which
    also removes the child's working directory (made in ``scratch``)::

        with SandboxImplementation("alice/layers.py:Convolution", "conv", limits=Limits(timeout=30),
                                   folder="alice") as impl:
            report = gradcheck.api.plan("conv", impl, seed=0).run()
        impl.fatal, impl.stdout, impl.stderr

    The child gets a private copy of the submission (``copy_submission``):
    FILE alone, or every .py file of ``folder`` (which holds FILE), so that
    FILE can import its own helper modules; ``left_out`` then notes the files
    left out because they would hide a module of the standard library, numpy
    or gradcheck.  Its imports run from the copy's folder, as from the
    submission's (``from common.util import ...``), and a folder that is a
    package is imported as one.  ``backward`` names a forward function's
    backward (see ``adapters.find_backward``).  ``sandbox`` is "bwrap" (see
    ``bwrap``; ``sandbox_problem`` says whether it runs here), "user" (see
    ``users``; ``user_problem`` says
    whether it runs here): a child process that runs as ``uid`` (default: a
    uid nothing uses), or "none": a plain child process, with the same limits
    but not isolated.  ``shown``
    is what reproduction commands and messages call FILE, its path as the
    student knows it (default: FILE as given): messages then name the
    student's files by their paths in the submission, never the grader's.
    """

    def __init__(self, spec, layer, convention="auto", limits=None, stop_on_death=False, scratch=None,
                 sandbox="bwrap", folder=None, shown=None, backward=None, uid=None, form=None):
        path, sep, name = spec.rpartition(":")
        if not sep or not path or not name:
            raise LoadError(f"--impl must be FILE:NAME, e.g. my_layers.py:Conv2d; got {spec!r}")
        if convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
        if sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, got {sandbox!r}")
        super().__init__(name, None, convention, {}, per_axis=False, spec=f"{shown}:{name}" if shown else spec)
        self.path = path
        self.shown = shown or path
        self.sandbox = sandbox
        self.uid = (uid or users.free_uids(1)[0]) if sandbox == "user" else None
        self.folder = None if folder is None else os.fspath(folder)  # copied whole; None: FILE alone
        if self.folder is not None and os.path.relpath(path, self.folder).startswith(os.pardir):
            raise ValueError(f"{path} is not in the submission's folder {self.folder}")
        self._root = None  # the copy's folder, as the child sees it: the folder its imports run from
        self._inside = None  # the folder in it that holds what was given (a package's own folder)
        self.layer = layer
        self.form = form  # a catalogue kind's forms.Form: its layer is reached through pair(), not make()
        self.note = ""  # how the child builds the kind's layer (forms.Pair.note), when it is what forms would say
        self.backward = backward  # the NAME of a forward function's backward, found in the submission
        self.requested_convention = convention
        self.limits = limits or Limits()
        self.stop_on_death = stop_on_death
        self.scratch = scratch  # the folder the working directory is made in (default: the system's temp folder)
        # ... and, with sandbox "user", where the child's tree is linked once (users.tree; default: the workdir)
        self.fatal = None  # one line saying why the child is gone, once it is
        self.fatal_kind = None
        self.fatal_config = None  # the Config being checked when it died
        self.charged = 0.0  # seconds of the time limit used so far
        self.stdout_capture = Capture(self.limits.output)
        self.stderr_capture = Capture(self.limits.output)
        self._process = None
        self._status = None  # (wait status, rusage) once reaped
        self._fds = {}
        self._workdir = None
        self._ids = itertools.count(1)
        self._released = []
        self.left_out = []  # notes on the files of the submission that were not copied, and why

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """Start the child and load the submission in it; LoadError (child closed) when that fails."""
        if self._process is not None:
            raise RuntimeError("this sandbox was already started")
        if not os.path.isfile(self.path):
            raise LoadError(f"no such file: {self.path}")
        self._workdir = tempfile.TemporaryDirectory(prefix="gradcheck-sandbox-", dir=self.scratch,
                                                    ignore_cleanup_errors=True)
        copy = os.path.join(self._workdir.name, "submission")
        home = os.path.join(self._workdir.name, "home")
        try:
            inside, self.left_out = copy_submission(self.folder or self.path, copy, self.path)
            os.mkdir(home, 0o700)
        except BaseException:
            self._workdir.cleanup()
            raise
        self._root = bwrap.SUBMISSION if self.sandbox == "bwrap" else copy
        self._inside = os.path.join(self._root, inside) if inside else self._root
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        deadline = time.monotonic() + self.limits.timeout
        try:
            if self.uid is not None:
                users.sweep(self.uid)  # the slot's user has no process left from an earlier submission
            self._process = launch(self.sandbox, self._workdir.name,
                                   _settings(self.sandbox, self.limits, request_r, reply_w, self.uid),
                                   out_w, err_w, deadline, self.scratch or self._workdir.name)
        except BaseException:
            for fd in (request_r, request_w, reply_r, reply_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            self._workdir.cleanup()
            raise
        for fd in (request_r, reply_w, out_w, err_w):
            os.close(fd)
        self._fds = {"request": request_w, "reply": reply_r, "stdout": out_r, "stderr": err_r}
        for fd in self._fds.values():
            os.set_blocking(fd, False)
        load = {"op": "load", "layer": self.layer, "convention": self.requested_convention} if self.form is None \
            else {"op": "load_pair", "form": self.form.to_dict()}
        try:
            reply, _ = self._exchange(dict(load, path=self._inside_path(), name=self.name, backward=self.backward,
                                           workdir=self._root), (), "import")
        except (ImplementationError, SandboxDied) as error:
            self.close()
            why = f"the submission {self.fatal}" if self.fatal else str(error)
            raise LoadError(f"{self.shown} could not be loaded: {why}") from None
        if "load_error" in reply:
            self.close()
            raise LoadError(self._as_given(clean(reply["load_error"], 4 * TEXT_LIMIT)))
        try:
            self._accept_load(reply)
        except _Dead as dead:
            self._kill_for(dead)
            self.close()
            raise LoadError(f"{self.shown} could not be loaded: the submission {self.fatal}") from None
        return self

    def close(self):
        """Kill the child's process group (as "user", every process of its uid), keep what it printed, remove its
        working directory."""
        if self._process is None:
            return
        self._kill()
        self._drain(time.monotonic() + 0.5, until_eof=True)
        self._reap()
        if self.uid is not None:
            users.sweep(self.uid)
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = {}
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    @property
    def closed(self):
        return self._process is not None and not self._fds

    @property
    def stdout(self):
        """What the submission printed on standard output (the first ``Limits.output`` bytes)."""
        return self.stdout_capture.text()

    @property
    def stderr(self):
        return self.stderr_capture.text()

    def time_left(self):
        """Seconds of the time limit the submission's code has not used yet (the search explains failures
        only while that leaves room, so that a verdict already reached is not lost to a time-out)."""
        return self.limits.timeout - self.charged

    def make(self, config, params, layout=None):
        """A layer in the child, built for ``config`` with ``params``, reading ``layout`` (default: the one the
        engine chose, ``self.layout``): the child converts the arrays as it is told."""
        names = sorted(params)
        hyperparameters = {name: getattr(config, name) for name in Hyperparameters.names()}
        reply, _ = self._exchange({"op": "make", "config": hyperparameters, "names": names,
                                   "layout": (layout or self.layout).to_dict()},
                                  [params[name] for name in names], "construction", config=config)
        handle = reply["handle"]  # checked by _check_reply
        subject = SandboxSubject(self, handle, config)
        weakref.finalize(subject, self._released.append, handle)  # the child drops it with the next request
        return subject

    def pair(self):
        """The catalogue kind's layer in the child (started with a ``form``) as a forms.Pair.

        forward(*inputs) and backward(*douts, cache) (or backward(dout, *inputs) after a forward that returned no
        cache) run in the child: what they returned comes back as arrays (None where the layer returned None; where
        it returned no array, a forms.UserError saying so: raised by forward, in that gradient's place from
        backward), a cache stays there, and what the layer changed in the arrays it was given is changed here too,
        so that the checks see it.  What the layer raised is a UserError."""
        if self.form is None:
            raise RuntimeError("pair() is for a sandbox started with a catalogue kind's form")
        def forward(*inputs):
            return self._pair_forward(*inputs)
        forward.__name__ = self.name
        return Pair(forward, self._pair_backward, note=self.note)

    def _pair_forward(self, *inputs):
        reply, values = self._pair_call({"op": "pair_forward"}, inputs, inputs)
        unusable = next((value for value in values if isinstance(value, UserError)), None)
        if unusable is not None:  # what forward returned is no array (a dict): its failure, as the child said it
            raise unusable
        if reply.get("handle") is None:
            return values[0]
        cache = _Cache(reply["handle"], inputs)
        weakref.finalize(cache, self._released.append, reply["handle"])  # the child drops it with the next request
        return (*values, cache)

    def _pair_backward(self, *args):
        cache = args[-1] if args and isinstance(args[-1], _Cache) else None
        sent = args[:-1] if cache else args
        reply, values = self._pair_call({"op": "pair_backward", "handle": cache and cache.handle}, sent,
                                        [*sent, *cache.inputs] if cache else sent)
        return values[0] if reply["single"] else tuple(values)

    def _pair_call(self, header, sent, given):
        """(reply, the values the layer returned) of a pair op sending ``sent``; each array of ``given`` (what the
        call was given: ``sent``, and a forward's inputs for its backward) changed as the child's copy was."""
        stage = STAGES[header["op"]]

        def expect(reply):
            if not reply.get("values") or type(reply.get("single", False)) is not bool:
                raise ValueError(f"the reply to {header['op']} is malformed")
            return _returned(reply, header["op"]) + len(given)
        reply, out = self._layer_call(header, sent, stage, expect)
        returned, after = out[:len(out) - len(given)], out[len(out) - len(given):]
        if any(changed.shape != np.shape(array) for changed, array in zip(after, given)):
            raise self._stopped_for(self._violation(stage, "an array it was given came back in another shape"))
        for changed, array in zip(after, given):
            if isinstance(array, np.ndarray):
                array[...] = changed
        return reply, _values(reply, returned)

    def _layer_call(self, header, sent, stage, expect):
        """``_exchange`` of an op that calls the layer: what the layer raised is a UserError."""
        try:
            return self._exchange(header, [np.asarray(array) for array in sent], stage, expect)
        except ImplementationError as error:
            raise UserError(clean(str(error))) from None

    def modes(self, *parameters):
        """The catalogue kind's layer built in the child with ``parameters`` as a modes.ModesLayer, whose calls
        run there: what the kind's probes call (``kinds.check_pair``'s ``make``)."""
        def expect(reply):
            if type(reply.get("handle")) is not int or type(reply.get("keeper")) is not str or \
                    type(reply.get("from_class")) is not bool or \
                    not isinstance(reply.get("test_mode_missing"), (str, type(None))):
                raise ValueError("the reply to modes_make is malformed")
            return _returned(reply, "modes_make")
        reply, _ = self._layer_call({"op": "modes_make"}, parameters, "construction", expect)
        return _SandboxModes(self, reply["handle"], reply["keeper"], reply["from_class"], reply["test_mode_missing"])

    def modes_call(self, header, sent, count):
        """The ``count`` values a ModesLayer's op ``header`` returned, sending ``sent``."""
        def expect(reply):
            if len(reply.get("values") or ()) != count:
                raise ValueError(f"the reply to {header['op']} holds no {count} values")
            return _returned(reply, header["op"])
        reply, out = self._layer_call(header, sent, STAGES[header["op"]], expect)
        return _values(reply, out)

    # -- the exchange --------------------------------------------------------
    def _exchange(self, header, arrays, stage, expect=None, config=None):
        """Send one request, wait for its reply; (reply header, arrays) or ImplementationError.

        ``expect`` lists the element counts of the arrays the reply should
        hold (it bounds how large a reply may be); None for no arrays; or
        it is ``expect(reply header) -> how many arrays``, ValueError for a
        malformed header (the reply may then be FRAME_SLACK times as large as
        the request's arrays).
        ``config`` is the configuration being checked, kept if the child dies.
        """
        if self.fatal is not None:
            if self.stop_on_death:
                raise SandboxDied(self.fatal_kind, self.fatal, self.fatal_config)
            raise ImplementationError("sandbox", "Stopped", f"not run: the submission {self.fatal}")
        if self._process is None or self.closed:
            raise RuntimeError("the sandbox is not running; call start() first")
        header = dict(header, id=next(self._ids))
        if self._released:
            header["release"], self._released = self._released, []
        frame = protocol.encode(header, arrays)
        sizes = [np.size(array) for array in arrays] if callable(expect) else expect or ()
        limit = max(MIN_FRAME_LIMIT, FRAME_SLACK * 8 * sum(sizes))
        started = time.monotonic()
        deadline = started + max(0.0, self.limits.timeout - self.charged)
        try:
            self._send(frame, deadline, stage)
            reply, out = self._check_reply(header, self._receive(deadline, stage, limit), stage, expect)
        except _Dead as dead:
            raise self._stopped_for(dead, config) from None
        finally:
            self.charged += time.monotonic() - started
        if "error" in reply:
            raise ImplementationError(*(self._as_given(text) for text in _error_fields(reply["error"], stage)))
        return reply, out

    def _inside_path(self):
        """The submission's file as the child sees it, in its copy."""
        return os.path.join(self._inside, os.path.relpath(self.path, self.folder or os.path.dirname(self.path)))

    def _as_given(self, text):
        """``text`` with the copy's folder written as the student knows it: as nothing when ``shown`` was given
        (the files are then named by their paths in the submission), else as the submission's folder was given."""
        given = "" if self.shown != self.path else self.folder or os.path.dirname(self.path)
        return text.replace(self._inside + os.sep, given + os.sep if given else "")

    def _check_reply(self, request, payload, stage, expect):
        try:
            reply, arrays = protocol.decode(payload)
        except protocol.ProtocolError as error:
            raise self._violation(stage, str(error)) from None
        if reply.get("id") != request["id"]:
            raise self._violation(stage, f"a reply to request {reply.get('id')!r} came for request {request['id']}")
        if reply.get("fatal") == "memory":
            detail = _error_fields(reply.get("error"), stage)
            raise _Dead("MemoryLimit", f"ran out of memory during {stage} ({detail[1]}: {detail[2]}) "
                                       f"under the memory limit of {self.limits.memory} MB")
        try:
            wanted = 0 if "error" in reply or expect is None else expect(reply) if callable(expect) else len(expect)
        except ValueError as error:
            raise self._violation(stage, str(error)) from None
        if len(arrays) != wanted:
            raise self._violation(stage, f"the reply holds {len(arrays)} arrays, expected {wanted}")
        if request["op"] == "make" and "error" not in reply and type(reply.get("handle")) is not int:
            raise self._violation(stage, "the reply to make holds no handle")
        return reply, [_plain(array) for array in arrays]

    def _violation(self, stage, detail):
        return _Dead("ProtocolError", f"broke the sandbox protocol during {stage}: {clean(detail, 200)} "
                                      "(did it write to gradcheck's channel?)")

    def _send(self, data, deadline, stage):
        view = memoryview(data)
        while view:
            self._wait(deadline, stage, writing=True)
            try:
                view = view[os.write(self._fds["request"], view[:CHUNK]):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError) as error:
                if isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE:
                    raise self._death(stage) from None
                raise

    def _receive(self, deadline, stage, limit):
        buffer = bytearray()
        size = None
        while size is None or len(buffer) < protocol.LENGTH.size + size:
            self._wait(deadline, stage)
            try:
                chunk = os.read(self._fds["reply"], CHUNK if size is None else
                                min(1 << 20, protocol.LENGTH.size + size - len(buffer)))
            except BlockingIOError:
                continue
            if not chunk:
                raise self._death(stage)
            buffer += chunk
            if size is None and len(buffer) >= protocol.LENGTH.size:
                (size,) = protocol.LENGTH.unpack_from(buffer)
                if size > limit:
                    raise _Dead("ProtocolError", f"sent a reply of {size} bytes during {stage}, more than the "
                                                 f"{limit} bytes its arrays could need")
        if len(buffer) > protocol.LENGTH.size + size:
            raise self._violation(stage, "extra bytes after a reply")
        return memoryview(buffer)[protocol.LENGTH.size:]

    def _wait(self, deadline, stage, writing=False):
        """Block until the channel is ready, draining stdout/stderr meanwhile; _Dead past the deadline."""
        channel = self._fds["request" if writing else "reply"]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Dead("TimeLimit", f"timed out: exceeded the time limit of {self.limits.timeout:g} s "
                                         f"during {stage}")
            outputs = [fd for fd in (self._fds.get("stdout"), self._fds.get("stderr")) if fd is not None]
            readable, writable, _ = select.select(outputs + ([] if writing else [channel]),
                                                  [channel] if writing else [], [], min(left, POLL))
            for fd in readable:
                if fd != channel:
                    self._drain_one(fd)
            if channel in readable or channel in writable:
                return
            if not readable and self._exited():
                raise self._death(stage)

    def _drain(self, deadline, until_eof=False):
        while any(name in self._fds for name in ("stdout", "stderr")):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            outputs = [self._fds[name] for name in ("stdout", "stderr") if name in self._fds]
            readable, _, _ = select.select(outputs, [], [], left if until_eof else 0)
            if not readable:
                return
            for fd in readable:
                self._drain_one(fd)

    def _drain_one(self, fd):
        name = "stdout" if fd == self._fds.get("stdout") else "stderr"
        try:
            chunk = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            (self.stdout_capture if name == "stdout" else self.stderr_capture).feed(chunk)
        else:
            os.close(self._fds.pop(name))

    # -- death ---------------------------------------------------------------
    def _exited(self):
        """Whether the child has exited (left unreaped, so its process group id stays reserved)."""
        if self._status is not None:
            return True
        if not hasattr(os, "waitid"):  # e.g. macOS: rely on end of file and the deadline
            return False
        try:
            return os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _death(self, stage):
        """Why the channel went dead during ``stage``, as a _Dead to raise (the child is then reaped).

        A child that closed the channel gets a moment to finish exiting; one
        still running after that shut the channel itself.
        """
        deadline = time.monotonic() + EXIT_GRACE
        while not self._exited() and time.monotonic() < deadline:
            self._drain(min(deadline, time.monotonic() + 0.05), until_eof=True)
            time.sleep(0.01)
        if not self._exited():
            return _Dead("ProtocolError", f"closed gradcheck's channel during {stage}")
        self._kill()
        self._reap()
        number, code, usage = self._ending()
        if number is not None:
            name = _signal_name(number)
            cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
            if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu >= self.limits.cpu_seconds):
                return _Dead("CPULimit", f"exceeded the CPU time limit of {self.limits.cpu_seconds:g} s during "
                                         f"{stage} (killed by {name})")
            if usage and usage.ru_maxrss / 1024 >= 0.9 * self.limits.memory:  # Linux: ru_maxrss in kilobytes
                return _Dead("MemoryLimit", f"exceeded the memory limit of {self.limits.memory} MB during {stage} "
                                            f"(killed by {name})")
            what = "crashed" if number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                                           signal.SIGABRT) else "was killed"
            return _Dead("Killed", f"{what} during {stage} (killed by {name})")
        said = self._bwrap_said()
        return _Dead("Exited", f"exited with status {code} during {stage}" + (f" ({said})" if said else ""))

    def _ending(self):
        """(signal number or None, exit status, rusage or None) of the child, once reaped.

        Under bwrap the reaped process is bwrap, which exits with the child's
        status, or 128 + the number of the signal that killed it; the child's
        resource usage is not known there.
        """
        status, usage = self._status
        if self.sandbox != "bwrap" or os.WIFSIGNALED(status):
            return (os.WTERMSIG(status), None, usage) if os.WIFSIGNALED(status) else (None, os.WEXITSTATUS(status),
                                                                                      usage)
        code = os.WEXITSTATUS(status)
        if code > 128 and code - 128 in signal.valid_signals():
            return code - 128, None, None
        return None, code, None

    def _bwrap_said(self):
        """bwrap's own complaint on the child's stderr (it could not set the sandbox up), or ""."""
        if self.sandbox != "bwrap":
            return ""
        lines = bytes(self.stderr_capture.head).decode("utf-8", "replace").splitlines()
        return clean(next((line for line in lines if line.startswith("bwrap: ")), ""), 300)

    def _stopped_for(self, dead, config=None):
        """Kill the child for ``dead``; what to raise: SandboxDied (``stop_on_death``), else ImplementationError."""
        self._kill_for(dead, config)
        if self.stop_on_death:
            return SandboxDied(dead.kind, dead.reason, config)
        return ImplementationError("sandbox", dead.kind, dead.reason)

    def _kill_for(self, dead, config=None):
        if self.fatal is None:
            self.fatal, self.fatal_kind, self.fatal_config = dead.reason, dead.kind, config
        self._kill()
        self._reap()  # the whole group got SIGKILL: no zombie left waiting for close()

    def _kill(self):
        if self._process is None or self._status is not None:  # once reaped, the group id may be reused
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)  # the group outlives its leader while any member lives
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self):
        if self._process is None or self._status is not None:
            return
        try:
            _, status, usage = os.wait4(self._process.pid, 0)
        except ChildProcessError:  # reaped elsewhere: nothing to learn
            status, usage = 0, None
        self._status = (status, usage)
        self._process.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits for it again

    def _accept_load(self, reply):
        if self.form is not None:
            if reply.get("name") != self.name or not isinstance(reply.get("note"), str):
                raise self._violation("import", "the reply to load is malformed")
            self.note = own_weights_note(reply["note"], self.form, self.name)  # only the words we would write
            return
        convention, pinned, name = reply.get("convention"), reply.get("pinned"), reply.get("name")
        restrict = reply.get("restrict", {})
        if convention not in CONVENTIONS[1:] or not isinstance(pinned, dict) or not isinstance(name, str) or \
                not all(isinstance(k, str) and type(v) is int for k, v in pinned.items()) or \
                not isinstance(restrict, dict) or set(restrict) - {"square"} or \
                not set(restrict.get("square", ())) <= {"size", "kernel"}:
            raise self._violation("import", "the reply to load is malformed")
        self.convention, self.pinned = convention, pinned
        self.restrict = {name: tuple(value) for name, value in restrict.items()}


class _Cache:
    """A pair's forward's cache, kept in the child under ``handle``; ``inputs`` are the arrays that forward was
    given here (its backward may change them in place)."""

    def __init__(self, handle, inputs):
        self.handle, self.inputs = handle, inputs


class _SandboxModes:
    """A modes.ModesLayer living in the sandbox's child under ``handle``; its methods, over the channel."""

    def __init__(self, sandbox, handle, keeper, from_class, missing):
        self.sandbox, self.handle, self.keeper, self.from_class, self.missing = \
            sandbox, handle, clean(keeper, 80), from_class, missing and clean(missing)
        weakref.finalize(self, sandbox._released.append, handle)  # the child drops it with the next request

    def forward(self, x, mode):
        (out,) = self.sandbox.modes_call({"op": "modes_forward", "handle": self.handle, "mode": mode}, [x], 1)
        if isinstance(out, UserError):
            raise out
        return out

    def kept(self, names):
        values = self.sandbox.modes_call({"op": "modes_kept", "handle": self.handle, "names": list(names)}, [],
                                         len(names))
        return dict(zip(names, (None if isinstance(value, UserError) else value for value in values)))

    def test_mode_missing(self):
        return self.missing


def _returned(reply, op):
    """How many arrays the layer's values in ``reply`` (to ``op``) hold; ValueError when it is malformed."""
    values, handle = reply.get("values"), reply.get("handle", 0)
    if not isinstance(values, list) or type(handle) is not int or not all(
            value in ("array", "none") or (isinstance(value, dict) and isinstance(value.get("error"), str))
            for value in values):
        raise ValueError(f"the reply to {op} is malformed")
    return values.count("array")


def _values(reply, arrays):
    """The layer's values said in ``reply``: each array, None, or a UserError saying what it returned instead."""
    arrays = iter(arrays)
    return [next(arrays) if value == "array" else None if value == "none" else UserError(clean(value["error"]))
            for value in reply["values"]]


class SandboxSubject(Subject):
    """One layer living in the sandbox's child; the methods of ``adapters.Subject``, over the channel."""

    takes_views = False  # arrays reach the child as copies: what lies after them here never travels (diagnose.Probe)

    def __init__(self, sandbox, handle, config):
        super().__init__()
        if sandbox.convention == "dive":
            self.updates = IN_PLACE + REBINDING
        self.sandbox = sandbox
        self.handle = handle
        self.config = config

    def forward(self, x):
        return self._call("forward", {}, [x], [_size(self.config.out_shape)])[0]

    def backward(self, dout):
        return self._call("backward", {}, [dout], [_size(self.config.x_shape)])[0]

    def read(self, name):
        shape = self.config.param_shapes.get({"dW": "W", "db": "b"}.get(name, name), ())
        return self._call("read", {"name": name}, [], [_size(shape)])[0]

    def write(self, name, value, rebind=False):
        self._call("write", {"name": name, "rebind": rebind}, [np.asarray(value)], None)

    def evaluate(self, plans):
        names = [sorted(writes) for writes, _ in plans]
        arrays = [array for (writes, x), keys in zip(plans, names) for array in [*(writes[k] for k in keys), x]]
        return self._call("evaluate", {"plans": names}, arrays, [_size(self.config.out_shape)] * len(plans))

    def _call(self, op, header, arrays, expect):
        stage = {"evaluate": "forward"}.get(op, op)
        reply, out = self.sandbox._exchange(dict(header, op=op, handle=self.handle), arrays, stage, expect,
                                            self.config)
        notes = reply.get("notes", [])
        if isinstance(notes, list):
            for note in notes[:NOTES]:
                if len(self.notes) < NOTES:
                    self.notes.add(clean(note, NOTE_LIMIT))
        return out


def _plain(array):
    """A plain native-endian ndarray: floats kept (float32 picks float32 tolerances), the rest as float64."""
    if array.dtype.kind != "f":
        return array.astype(np.float64)
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _error_fields(error, stage):
    """(stage, type, message, location) of an error dict from the child, made safe."""
    if not isinstance(error, dict):
        return stage, "Error", "an error without details", ""
    return (clean(error.get("stage") or stage, 40), clean(error.get("type") or "Error", 80),
            clean(error.get("message", "")), clean(error.get("location", ""), 400))


def _size(shape):
    return int(np.prod(shape)) if shape else 1


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
