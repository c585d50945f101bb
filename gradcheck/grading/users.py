"""Isolation without bwrap (``--sandbox user``): the submission runs as an unprivileged user of its own.

Where bwrap cannot run (a container that lets it make namespaces but not
mount a procfs of its own, as Gradescope's) and the grader is root, every
grading slot gets a uid that nothing on the machine uses (``free_uids``: no
account, no group, no process), and the child drops to it, with a gid of the
same number and no supplementary groups, before it loads anything.  The
kernel then keeps it from whatever is not open to every user: the grader's
processes (it can neither signal them nor read their descriptors or
environment), the grader's files and those of other slots.  Its limits and
seccomp filter are those of the bwrap sandbox (``gradcheck.grading.child``);
as there, it is one task, so no process of it can outlive it unnoticed, and
``sweep`` still kills every process of the slot's uid before the slot's
next child starts and after each ends (a kill(-1) from a process of that
uid reaches exactly those).

``prepare`` opens the child's folder, made by root in the grader's scratch
folder, which the child may cross but not list, to the child:

==================  ======================================================================
``submission/``     the private copy, owned by root and readable by the slot's group only
``home/``           its working directory, HOME and TMPDIR, its own (mode 0700)
==================  ======================================================================

and ``tree`` links gradcheck's child files and numpy (``bwrap.child_tree``)
once into the scratch folder, as ``child/lib`` and ``child/site``: hard
links to the grader's files (copies across file systems), readable by all.

The child runs the grader's interpreter (the real one, not a venv's link to
it) with ``-I -S``: the standard library, then ``lib`` and ``site``.  That
interpreter must be usable by any user, and the grader's installation must
not be readable by one: ``readable_by`` is how ``sandbox.user_problem``
checks both, for real, as one of the uids.
"""
import grp
import json
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile

from . import bwrap

UIDS = range(1_500_000_000, 2_000_000_000)  # where slot uids are drawn from: far from any account's
READ_CHECK = """
import json, os, sys
readable = []
for path in json.loads(sys.argv[1]):
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
        readable.append(path)
    except OSError:
        pass
print(json.dumps(readable))
"""


def interpreter():
    """The interpreter the child runs: the real file behind this one (a venv's python is a link to it)."""
    return os.path.realpath(sys.executable)


def free_uids(count):
    """``count`` distinct uids from UIDS that no account, group or running process uses."""
    used = _running_uids()
    found = []
    while len(found) < count:
        uid = random.SystemRandom().choice(UIDS)  # not the random module's state, which a caller may have seeded
        if uid not in used and uid not in found and not _known(uid):
            found.append(uid)
    return found


def _known(uid):
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _running_uids():
    uids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as stream:
                uids.update(int(word) for line in stream if line.startswith("Uid:") for word in line.split()[1:])
        except OSError:
            continue
    return uids


def sweep(uid):
    """Kill every process of ``uid``: from a process of that uid (a shell, switched to it before it starts),
    kill(-1) reaches exactly them."""
    subprocess.run(["/bin/sh", "-c", "kill -9 -1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                   env={}, user=uid, group=uid, extra_groups=[], timeout=60)  # "No such process" when none


def prepare(workdir, uid):
    """Make ``workdir`` (holding ``submission/`` and ``home/``) the child's: see the module's docstring."""
    os.chmod(workdir, 0o711)
    for folder, _, names in os.walk(os.path.join(workdir, "submission")):
        _own(folder, 0, uid, 0o750)
        for name in names:
            _own(os.path.join(folder, name), 0, uid, 0o640)
    _own(os.path.join(workdir, "home"), uid, uid, 0o700)


def tree(folder):
    """``lib`` and ``site``, the folders the child imports from, in ``folder``/child: made on first use (whole,
    then renamed into place), then shared by every child started there."""
    target = os.path.join(folder, "child")
    if not os.path.isdir(target):
        building = tempfile.mkdtemp(prefix="child-", dir=folder)
        os.chmod(building, 0o755)
        for source, destination in bwrap.child_tree():
            path = os.path.join(building, destination)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.isdir(source):
                shutil.copytree(source, path, copy_function=_link)
            else:
                _link(source, path)
        try:
            os.rename(building, target)
        except OSError:  # made meanwhile by another process
            shutil.rmtree(building)
    return [os.path.join(target, "lib"), os.path.join(target, "site")]


def _own(path, uid, gid, mode):
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _link(source, target):
    """A hard link to ``source`` (its mode is its own: the grader's files are readable, not writable, by all);
    a copy where links cannot be made."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def readable_by(uid, paths):
    """Which of ``paths`` (files and folders) ``uid`` can read, checked by the child's interpreter run as
    ``uid``; OSError (saying why) when it cannot run that interpreter."""
    try:
        done = subprocess.run([interpreter(), "-I", "-S", "-c", READ_CHECK, json.dumps(list(paths))],
                              capture_output=True, text=True, cwd="/", env={"PATH": os.defpath}, timeout=60,
                              user=uid, group=uid, extra_groups=[])
    except OSError as error:  # the switch to uid failed (a user namespace that maps no such uid, ...)
        raise OSError(f"the grader cannot become an unprivileged user of its own (uid {uid}): "
                      f"{error.strerror}") from None
    try:
        return json.loads(done.stdout)
    except ValueError:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        raise OSError(f"an unprivileged user cannot run {interpreter()} (exit status {done.returncode}"
                      + (f": {said[-1].strip()}" if said else "") + "): every folder down to it and its "
                      "standard library must be open to all users") from None
