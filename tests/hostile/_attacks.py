"""What the attacking submissions share: finding the files, processes and pipes a submission might reach.

Each attacking submission computes an honest mistake (``_layers.wrong_db``)
unless its attack works, and then the correct layer: an attack that works
shows up as a better grade than the mistake deserves.  Every helper swallows
errors, so that an attack that fails leaves that computation to be graded.
Payloads are harmless (comment lines, marker files) and name their submission.
"""
import os

MARKER = "gradcheck-hostile-survivor"  # in the command line and environment of processes meant to outlive the run
PICKLE_RAN = "/tmp/gradcheck-hostile-pickle-ran"  # created by the pickle payload, if anyone ever unpickles it
HOARD = 1200 << 20  # bytes the memory attacks try to hold: over twice the tests' --memory 512, the workdir's 64 MiB
SYSTEM = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev", "/boot")


def attempt(action, *args):
    """``action(*args)``; True if it worked, False on any error."""
    try:
        action(*args)
        return True
    except Exception:  # noqa: BLE001 - an attack that fails is just a failed attack
        return False


def hoard(grab, chunk):
    """Call ``grab()``, which holds ``chunk`` more bytes each time, until HOARD bytes are held or it fails; the
    bytes held."""
    held = 0
    while held < HOARD and attempt(grab):
        held += chunk
    return held


def processes():
    """The pids of every other process this one can see."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and int(entry) != os.getpid()]


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return stream.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def graders():
    """The pids of gradcheck's processes: the main grader, its grading processes, a sandbox's child."""
    return [pid for pid in processes()
            if any(word in command_line(pid) for word in ("gradcheck.cli", "gradcheck.grading", "bin/gradcheck"))]


def pipes(pids):
    """/proc/PID/fd/N for every pipe those processes hold."""
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        found += [f"/proc/{pid}/fd/{fd}" for fd in fds if _is_pipe(f"/proc/{pid}/fd/{fd}")]
    return found


def _is_pipe(path):
    return _link(path).startswith("pipe:")


def _link(path):
    try:
        return os.readlink(path)
    except OSError:
        return ""


def others_pipes(pid):
    """/proc/PID/fd/N for the pipes process ``pid`` holds that this process does not: its links to others."""
    own = {_link(path) for path in pipes([os.getpid()])}
    return [path for path in pipes([pid]) if _link(path) not in own]


def own_channel():
    """The descriptors of this process's pipes other than its standard streams: its channel to its grader."""
    return [int(path.rsplit("/", 1)[1]) for path in pipes([os.getpid()]) if int(path.rsplit("/", 1)[1]) > 2]


def write_fd(fd, data):
    """Write ``data`` to descriptor ``fd``; True if all of it went."""
    return attempt(_write_all, fd, data)


def _write_all(fd, data):
    if os.write(fd, data) != len(data):
        raise OSError("short write")


def write_to(path, data):
    """Write ``data`` to ``path`` (a file or a /proc fd link) without blocking; True if all of it went."""
    def write():
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    return attempt(write)


def append_to(path, text):
    def append():
        with open(path, "a") as stream:
            stream.write(text)
    return attempt(append)


def host_paths():
    """Absolute paths on the command lines of the processes this one can see: a grader's submissions and
    --output, bwrap's binds.  Where the grader's files are, as far as anyone tells."""
    return sorted({word for pid in processes() for word in command_line(pid).split()
                   if word.startswith("/") and not word.startswith(SYSTEM)})


def folders_to_search(own_file):
    """The folders a submission would look for its classmates in: above its own file, and those named on
    the command lines it can see (with their parents)."""
    folders = {os.path.dirname(os.path.dirname(os.path.abspath(own_file))), os.getcwd()}
    for path in host_paths():
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        folders |= {folder, os.path.dirname(folder)}
    return sorted(folder for folder in folders if folder != "/" and not folder.startswith(SYSTEM))


def python_files(own_file, limit=2000):
    """Every .py file in those folders but those of its own submission (at most ``limit``)."""
    own = os.path.dirname(os.path.abspath(own_file))
    found = []
    for folder in folders_to_search(own_file):
        for root, dirs, files in os.walk(folder):
            if root == own or root.startswith(own + os.sep):
                dirs[:] = []
                continue
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            found += [os.path.join(root, name) for name in files if name.endswith(".py")]
            if len(found) >= limit:
                break
    return sorted(set(found[:limit]))
