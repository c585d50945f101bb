"""The sandboxed child: loads one untrusted submission and runs its layer on the grading process's request.

Started by ``SandboxImplementation.start`` (under bwrap, see ``bwrap``) as::

    python -I [-S] -B -c "<put PATHS first on sys.path; from gradcheck.grading.child import main; main()>" \
        PATHS SETTINGS

PATHS are the folders holding gradcheck's child files (and numpy, in the
sandbox), joined with os.pathsep; SETTINGS is a JSON object: ``request`` and
``reply``, the two pipe fds of the protocol (requests in, replies out; frames
as in ``protocol``); ``memory`` (bytes of address space), ``cpu`` (seconds),
``fsize`` (bytes per file), ``files`` (open descriptors), ``processes``
(processes and threads, or null for no limit), ``user`` ([uid, gid] to drop
to when started as root, or null), ``workdir`` ([folder, bytes, entries]: a
tmpfs to mount over the working folder and work in, while still root in the
sandbox, or null) and ``seccomp`` (whether to install ``seccomp``'s filter).
The submission's own standard output and error are separate pipes, so
nothing it prints can be taken for a reply.

Before anything else is imported the child closes every other descriptor,
limits itself (also no core dumps), mounts its ``workdir``, drops to
``user``, installs the seccomp filter, and only then imports numpy and the
adapters; it takes PATHS off sys.path (the submission's imports
are its own) and serves requests one at a time until the request pipe reaches
end of file.

Replies carry the request's ``id``; an error reply carries ``{"error":
{stage, type, message, location}}``, just what an ``ImplementationError``
holds.  The child judges nothing: it only answers load, make, forward,
backward, read, write and evaluate, and converts arrays to and from the
layout each make names (``adapters.Layout``), which the grading process chose.

A layer of a catalogue kind is loaded with ``load_pair`` instead, in the
``forms.Form`` the grading process sends, and called with ``pair_forward``
and ``pair_backward`` (see ``sandbox.SandboxImplementation.pair``): each
reply holds what the layer returned, as arrays (a value that is None, or
that no array holds, said in ``values``), then every array the call was
given as it is after the call, so that the grading process sees what the
layer changed in place.  A forward's cache stays here, under a handle.  The
kind's probes build the layer with ``modes_make`` (a ``modes.ModesLayer``,
kept here under a handle) and call it with ``modes_forward`` and
``modes_kept`` (see ``sandbox.SandboxImplementation.modes``).
"""
import json
import os
import sys

from .protocol import LENGTH, decode, encode

MS_NOSUID, MS_NODEV = 2, 4  # mount(2) flags
STAGES = {"load": "import", "make": "construction", "forward": "forward", "backward": "backward",
          "read": "read", "write": "write", "evaluate": "forward", "load_pair": "import", "pair_forward": "forward",
          "pair_backward": "backward", "modes_make": "construction", "modes_forward": "forward", "modes_kept": "read"}


def main(argv=None):
    """Isolate and limit this process, then serve the parent's requests until it closes the request pipe."""
    argv = sys.argv[1:] if argv is None else argv
    paths, settings = argv[0].split(os.pathsep), json.loads(argv[1])
    request_fd, reply_fd = settings["request"], settings["reply"]
    _close_all_but(0, 1, 2, request_fd, reply_fd)
    _limit(settings["memory"], settings["cpu"], settings["fsize"], settings["files"], settings["processes"])
    if settings["workdir"] is not None:  # fails, and the child with it, unless it can
        _mount_workdir(*settings["workdir"])
    if settings["user"] is not None:  # fails, and the child with it, unless it can
        _drop_to(*settings["user"])
    _default_signals()
    die_with_parent()
    if settings["seccomp"]:  # fails, and the child with it, unless it holds
        from . import seccomp

        seccomp.install()
    from .. import adapters, forms, modes  # noqa: F401 - import the adapters (and numpy) under the limits
    sys.path[:] = [path for path in sys.path if path not in paths]
    # Keep our own references: the submission may replace os.read / os.write in its own process.
    read, write = os.read, os.write
    server = _Server()
    while True:
        payload = _read_frame(read, request_fd)
        if payload is None:  # the parent closed the channel: done
            _flush()
            os._exit(0)
        try:
            reply = server.handle(*decode(payload))
        except BaseException as exc:  # noqa: BLE001 - a last resort: never die silently
            reply = _last_resort(payload, exc)
        _flush()
        view = memoryview(reply)
        while view:
            view = view[write(reply_fd, view):]


def _close_all_but(*keep):
    """Close every inherited descriptor not in ``keep``: nothing of the parent's may reach the submission."""
    for fd in map(int, os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ()):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:  # the descriptor listdir itself used
                pass


def _mount_workdir(folder, size, entries):
    """Mount a tmpfs of ``size`` bytes and ``entries`` files and folders over ``folder`` and work in it.

    A tmpfs's size counts the bytes of its files only; each file or folder
    also holds about a kibibyte of kernel memory, outside every limit of the
    process, so the number of entries is bounded too.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    options = f"size={size},nr_inodes={entries},mode=1777".encode()
    if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"could not mount the working folder's tmpfs: {os.strerror(number)}")
    os.chdir(folder)


def _drop_to(uid, gid):
    """Become ``uid``/``gid`` with no supplementary groups: root in the sandbox's namespace is left behind."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _limit(memory, cpu, fsize, files, processes):
    import resource

    limits = [("RLIMIT_AS", memory, memory), ("RLIMIT_CPU", cpu, cpu + 1), ("RLIMIT_FSIZE", fsize, fsize),
              ("RLIMIT_NOFILE", files, files), ("RLIMIT_CORE", 0, 0)]
    if processes is not None:
        limits.append(("RLIMIT_NPROC", processes, processes))
    for name, soft, hard in limits:
        limit = getattr(resource, name, None)
        if limit is None or soft < 0:
            continue
        _, current = resource.getrlimit(limit)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(limit, (soft, hard))


def _default_signals():
    """Signals the grader's processes ignore are ignored across exec too: give them their usual behaviour."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTSTP", "SIGTTIN",
                 "SIGTTOU", "SIGXCPU"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def die_with_parent():
    """Linux: get SIGKILL when the parent dies (best effort; nothing elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:  # noqa: BLE001 - not Linux, or no libc symbol: the parent kills us at close anyway
        pass


def _read_frame(read, fd):
    head = _read_exactly(read, fd, LENGTH.size)
    if head is None:
        return None
    (size,) = LENGTH.unpack(head)
    return _read_exactly(read, fd, size)


def _read_exactly(read, fd, size):
    chunks, left = [], size
    while left:
        chunk = read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the submission may have replaced or closed them
            pass


def _last_resort(payload, exc):
    """A reply for an error in the child's own request handling (or a submission that broke it)."""
    try:
        request = json.loads(payload[LENGTH.size:LENGTH.size + LENGTH.unpack_from(payload)[0]])
        message = f"{type(exc).__name__}: {exc}"
        return encode({"id": request.get("id"), "error": {"stage": STAGES.get(request.get("op"), "sandbox"),
                                                           "type": "SandboxError", "message": message,
                                                           "location": ""}})
    except BaseException:  # noqa: BLE001
        os._exit(70)


class _Server:
    """The submission's implementation and the live subjects (layers) the parent made, by handle."""

    def __init__(self):
        from .. import adapters, forms, modes

        self.adapters, self.forms, self.modes = adapters, forms, modes
        self.implementation = None
        self.impl = self.form = self.pair = None
        self.subjects = {}  # handle -> a layer (adapters.Subject), or a pair's forward's (cache, inputs)
        self.handles = 0

    def handle(self, header, arrays):
        for handle in header.get("release", ()):
            self.subjects.pop(handle, None)
        op = header["op"]
        reply = {"id": header["id"]}
        subject = self.subjects.get(header.get("handle"))
        try:
            result, out = getattr(self, "op_" + op)(header, arrays)
            reply.update(result)
        except self.forms.UserError as error:
            reply["error"] = self._user_error(op, error)
            out = []
            if reply["error"]["type"] == "MemoryError":  # the layer ran out of memory: fatal, as in make or forward
                reply["fatal"] = "memory"
        except self.adapters.ImplementationError as error:
            reply["error"] = error.to_dict()
            out = []
            if error.kind == "MemoryError":
                reply["fatal"] = "memory"
        except MemoryError as exc:
            reply["error"] = self._error(op, exc)
            reply["fatal"] = "memory"
            out = []
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, GeneratorExit, ...
            reply["error"] = self._error(op, exc)
            out = []
        subject = subject or self.subjects.get(reply.get("handle"))
        if isinstance(subject, self.adapters.Subject):
            reply["notes"] = sorted(str(note) for note in subject.notes)
        return encode(reply, out)

    def _user_error(self, op, error):
        """A pair's forms.UserError as an error dict: said in its one sentence, but a MemoryError the layer raised
        (forms.call wraps it like any other exception), which keeps its type and message."""
        details = error.details or {}
        if details.get("type") == "MemoryError":
            return self.adapters.ImplementationError(STAGES[op], "MemoryError", details.get("message", ""),
                                                     details.get("location", "")).to_dict()
        return self.adapters.ImplementationError.returned(STAGES[op], str(error)).to_dict()

    def _error(self, op, exc):
        try:
            return self.adapters.ImplementationError.from_exception(STAGES[op], exc).to_dict()
        except BaseException:  # noqa: BLE001 - a submission's exception whose str() raises
            return {"stage": STAGES[op], "type": type(exc).__name__, "message": "(its message could not be read)",
                    "location": ""}

    def op_load(self, header, arrays):
        def load(spec):
            self.implementation = self.adapters.load_implementation(spec, header["layer"], header["convention"],
                                                                    header.get("backward"), header.get("workdir"))
            implementation = self.implementation
            return {"convention": implementation.convention, "pinned": dict(implementation.pinned),
                    "restrict": {name: list(value) for name, value in implementation.restrict.items()},
                    "name": implementation.name}
        return self._loaded(header, load), []

    def op_load_pair(self, header, arrays):
        def load(spec):
            self.impl, module = self.adapters.load_object(spec, header.get("workdir"))
            source = self.adapters.Source(module, header["path"], header.get("workdir"))
            self.form = self.forms.Form.from_dict(header["form"])
            self.pair = self.forms.layer_pair(self.impl, self.form, header.get("backward"), source)
            return {"name": header["name"], "note": self.pair.note}
        return self._loaded(header, load), []

    def _loaded(self, header, load):
        """``load(FILE:NAME)``'s reply, or {"load_error": why} when the submission could not be loaded."""
        spec = f"{header['path']}:{header['name']}"
        try:
            return load(spec)
        except self.adapters.LoadError as error:
            return {"load_error": str(error)}
        except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt and friends at import
            try:
                text = f"{type(exc).__name__}: {exc}"
                location = self.adapters._user_location(exc)
            except BaseException:  # noqa: BLE001
                text, location = type(exc).__name__, ""
            return {"load_error": f"{header['path']} could not be imported: {text}"
                                  + (f" at {location}" if location else "")}

    def op_make(self, header, arrays):
        hyperparameters = self.adapters.Hyperparameters.from_dict(header["config"])
        layout = self.adapters.Layout.from_dict(header["layout"])  # the grading process's choice, not ours
        subject = self.implementation.make(hyperparameters, dict(zip(header["names"], arrays)), layout)
        self.handles += 1
        self.subjects[self.handles] = subject
        return {"handle": self.handles}, []

    def op_forward(self, header, arrays):
        return {}, [self.subjects[header["handle"]].forward(arrays[0])]

    def op_backward(self, header, arrays):
        return {}, [self.subjects[header["handle"]].backward(arrays[0])]

    def op_read(self, header, arrays):
        return {}, [self.subjects[header["handle"]].read(header["name"])]

    def op_write(self, header, arrays):
        self.subjects[header["handle"]].write(header["name"], arrays[0], rebind=header.get("rebind") is True)
        return {}, []

    def op_evaluate(self, header, arrays):
        plans, arrays = [], list(arrays)
        for names in header["plans"]:
            writes = {name: arrays.pop(0) for name in names}
            plans.append((writes, arrays.pop(0)))
        return {}, list(self.subjects[header["handle"]].evaluate(plans))

    def op_pair_forward(self, header, arrays):
        """The layer's forward on the inputs: what it returned (a tuple's last item, the cache, kept here under a
        handle), then the inputs as they are after it."""
        returned = self.forms.call("forward", self.pair.forward, *arrays)
        if not (isinstance(returned, tuple) and len(returned) >= 2):
            values, out = self._wire("forward", [returned])
            return {"values": values}, out + list(arrays)
        self.handles += 1
        self.subjects[self.handles] = (returned[-1], list(arrays))
        values, out = self._wire("forward", returned[:-1])
        return {"values": values, "handle": self.handles}, out + list(arrays)

    def op_pair_backward(self, header, arrays):
        """The layer's backward on the douts and a forward's cache (its handle), or on dout and the inputs when
        forward returned no cache: the gradients, then the douts and the inputs as they are after it."""
        if header.get("handle") is None:
            given = list(arrays)
            returned = self.forms.call("backward", self.pair.backward, *arrays)
        else:
            cache, inputs = self.subjects[header["handle"]]
            given = list(arrays) + inputs
            returned = self.forms.call("backward", self.pair.backward, *arrays, cache)
        single = not isinstance(returned, (tuple, list))
        values, out = self._wire("backward", [returned] if single else list(returned))
        return {"values": values, "single": single}, out + given

    def op_modes_make(self, header, arrays):
        """The layer built with the parameters as a modes.ModesLayer, kept under a handle, for the kind's probes:
        what it is (no arrays)."""
        layer = self.modes.modes_layer(self.impl, self.form, *arrays)
        self.handles += 1
        self.subjects[self.handles] = layer
        return {"values": [], "handle": self.handles, "keeper": str(layer.keeper), "from_class": layer.from_class,
                "test_mode_missing": layer.test_mode_missing()}, []

    def op_modes_forward(self, header, arrays):
        """A ModesLayer's forward on x in train or test mode: what it returned."""
        layer = self.subjects[header["handle"]]
        values, out = self._wire("forward", [layer.forward(arrays[0], "test" if header["mode"] == "test" else "train")])
        return {"values": values}, out

    def op_modes_kept(self, header, arrays):
        """What a ModesLayer keeps under the names asked for, in their order."""
        kept = self.subjects[header["handle"]].kept([str(name) for name in header["names"]])
        values, out = self._wire("read", list(kept.values()))
        return {"values": values}, out

    def _wire(self, what, values):
        """(a marker for each value: "array", "none" or {"error": why}, the arrays) of what ``what`` returned."""
        import numpy as np

        markers, arrays = [], []
        for value in values:
            if value is None:
                markers.append("none")
            elif isinstance(value, self.forms.UserError):
                markers.append({"error": str(value)})
            else:
                try:
                    arrays.append(np.asarray(value, dtype=np.float64))
                    markers.append("array")
                except (TypeError, ValueError):
                    markers.append({"error": f"{what} returned a {type(value).__name__} where an array belongs"})
        return markers, arrays

