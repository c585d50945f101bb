"""Importing the user's files as the user's own project would: packages, helper modules, and why an import failed.

``load_module(path, workdir)`` imports a file the way ``python -m`` and
pytest's rootdir do.  A file in a package (its folder holds an
``__init__.py``, and so on up to the package's root) is imported under its
dotted name with the root's parent on sys.path, so that relative imports
(``from .im2col import im2col``) and imports through the package
(``from layers.utils import ...``) work; any other file is imported under a
private name with its own folder on sys.path.  The current directory
(``workdir``; in the grading sandbox, the submission's folder) is on sys.path
too, as when students run their code from their project's root
(``from common.util import im2col``).  When an import still fails, the
LoadError names the import that failed, the student's line, and the folder
to run from when one above the file holds the missing module.

``find_backward`` finds a forward function's backward: among the names of
the module the user named (what it imports too), of the module defining the
forward, then in the .py files of their folders, which ``defining_files``
reads with ``ast`` so that only the one file defining it is imported (a
neighbour may be a training script).

This file is bound read-only into the grading sandbox with ``adapters``: it
imports only numpy and the standard library.
"""
import ast
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from dataclasses import dataclass

import numpy as np

SOURCE_LIMIT = 1 << 20  # bytes of a neighbouring file read to see what it defines


class LoadError(Exception):
    """User code could not be loaded or understood; the message says what was wrong and how to fix it."""


def load_module(path, workdir=None, fresh=True):
    """Import the Python file at ``path`` (see the module docstring), or raise LoadError.  ``fresh``: a package
    imported before from elsewhere, or earlier from here, is imported again (as in a new process); otherwise
    the modules of the file's package already imported are kept."""
    if not os.path.isfile(path):
        raise LoadError(f"no such file: {path}")
    workdir = os.getcwd() if workdir is None else workdir
    root, dotted = package_of(path)
    if fresh:
        _forget_shadowed(root, workdir)
    with _on_path(root, workdir):
        try:
            if dotted:
                if fresh:
                    _forget(dotted.partition(".")[0])
                return importlib.import_module(dotted)
            return _execute(path, "gradcheck_user_" + _stem(path).replace("-", "_"))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a submission may raise anything at import
            raise LoadError(import_failure(path, exc, root, workdir)) from None


def import_file(path, workdir=None):
    """The module of ``path``: the one already imported from it (by the user's own imports, or as the file the
    user named), else ``load_module(path)``."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and os.path.isfile(file) and os.path.samefile(file, path):
            return module
    return load_module(path, workdir, fresh=False)


def package_of(path):
    """(the folder to put on sys.path, the dotted name to import) for the file at ``path``; the dotted name is
    None when the file is in no package (its folder holds no ``__init__.py``)."""
    folder = os.path.dirname(os.path.abspath(path))
    stem = _stem(path)
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(folder, "__init__.py")) and os.path.basename(folder).isidentifier():
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    if len(parts) < 2 and stem != "__init__" or not all(part.isidentifier() for part in parts):
        return os.path.dirname(os.path.abspath(path)), None
    return folder, ".".join(parts)


def defining_files(folder, name, skip=()):
    """The .py files directly in ``folder`` (but those in ``skip``) whose source defines ``name`` at the top
    level (a def, a class or an assignment), read with ast and never imported."""
    found = []
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        if entry.startswith(".") or not entry.endswith(".py") or not os.path.isfile(path) or \
                any(os.path.samefile(path, other) for other in skip if other and os.path.isfile(other)):
            continue
        if name in _top_level_names(path):
            found.append(path)
    return found


def _top_level_names(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            tree = ast.parse(stream.read(SOURCE_LIMIT))
    except (OSError, SyntaxError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


@dataclass(frozen=True)
class Source:
    """Where a forward function was read from: the module the user named (``--impl FILE:NAME``; for an object,
    its own module), that file, and the folder imports run from (None: the current one)."""

    module: object = None
    path: str = None
    workdir: str = None

    @classmethod
    def of(cls, obj):
        return cls(sys.modules.get(getattr(obj, "__module__", None)), _source_file(obj))


def spec_of(obj):
    """FILE:NAME for a class or function defined in a file (the file relative to the current folder), as
    reproduce commands name it; NAME alone for one defined nowhere on disk."""
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return obj.__qualname__
    return f"{os.path.relpath(path)}:{obj.__qualname__}" if path else obj.__qualname__


@dataclass(frozen=True)
class Partner:
    """A forward function's backward: the function, its name, and a note when it comes from another file."""

    function: object
    name: str
    note: str = ""


def find_backward(forward, name, source, backward=None):
    """The backward partner of forward function ``name`` (read from ``source``, a Source).

    ``backward`` names it: a function, "FILE:NAME", or a NAME looked up as
    the partner is; by default NAME is ``name`` with forward -> backward
    (conv_forward_fast -> conv_backward_fast).  It is looked up among the
    attributes of the module the user named (the names it imports too), of
    the module defining the forward, then in the .py files of their folders,
    read with ast: only the file that defines NAME is imported (another may
    be a training script).  LoadError when none or several files define it.
    """
    forward_file = _source_file(forward)
    if callable(backward):
        return _partner(backward, getattr(backward, "__name__", repr(backward)), forward_file, source)
    wanted = name.replace("forward", "backward")
    if isinstance(backward, str):
        path, sep, wanted = backward.rpartition(":")
        if sep:
            function = getattr(import_file(path, source.workdir), wanted, None)
            if not callable(function):
                raise LoadError(f"{path} defines no function {wanted!r} (given as the backward)")
            return _partner(function, wanted, forward_file, source)
    defining = getattr(forward, "__globals__", {})  # the forward's own module, even one re-imported since
    for found in (getattr(source.module, wanted, None), defining.get(wanted)):
        if callable(found):
            return _partner(found, wanted, forward_file, source)
    folders = dict.fromkeys(os.path.dirname(os.path.abspath(f)) for f in (source.path, forward_file) if f)
    for folder in folders:
        files = defining_files(folder, wanted, skip=(source.path, forward_file))
        if len(files) > 1:
            raise LoadError(f"{wanted}, the backward of {name}, is defined in {len(files)} files: "
                            f"{', '.join(os.path.basename(f) for f in files)}; name the one to use with "
                            f"--backward FILE:{wanted}")
        if files and callable(getattr(import_file(files[0], source.workdir), wanted, None)):
            return _partner(getattr(import_file(files[0], source.workdir), wanted), wanted, forward_file, source)
    where = os.path.basename(source.path) if source.path else "its module"
    raise LoadError(f"{name} looks like a forward function, but no {wanted} was found: not in {where} (nor among "
                    f"the names it imports), nor in the .py files of its folder; define it (returning dx, or (dx, dw, "
                    f"db) for conv), name it with --backward, or name a class instead")


def _partner(function, name, forward_file, source):
    """A Partner, noting the file it comes from when that is not the forward's."""
    file = _source_file(function)
    if not file or not forward_file or os.path.abspath(file) == os.path.abspath(forward_file):
        return Partner(function, name)
    folder = os.path.dirname(os.path.abspath(source.path or forward_file))
    return Partner(function, name, f"backward: {name} from {os.path.relpath(os.path.abspath(file), folder)}")


def _source_file(obj):
    try:
        return inspect.getsourcefile(obj)
    except TypeError:
        return None


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


@contextlib.contextmanager
def _on_path(*folders):
    """``folders`` first on sys.path while the block runs (each once), taken off after."""
    added = list(dict.fromkeys(folders))
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            if folder in sys.path:
                sys.path.remove(folder)


def _execute(path, module_name):
    """Import the file at ``path`` as module ``module_name`` (registered, so that its functions can find their
    partners by name)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _forget(package, unless_in=None):
    """Drop an earlier import of the user's ``package`` and its modules, so that it is imported afresh (as a
    new process would) from the folder now first on sys.path; modules of the Python installation are kept, and
    with ``unless_in`` those imported from that folder."""
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        module = sys.modules[name]
        files = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", ())]
        if any(file and os.path.abspath(file).startswith(_NOT_USER_CODE) for file in files):
            continue
        if unless_in and any(file and os.path.abspath(file).startswith(unless_in + os.sep) for file in files):
            continue
        del sys.modules[name]


def _forget_shadowed(*folders):
    """Drop the user modules imported earlier from elsewhere whose names the files of ``folders`` now provide
    (another project's ``helpers`` or ``layers`` package), as a new process would not have them."""
    for folder in dict.fromkeys(os.path.abspath(folder) for folder in folders):
        try:
            entries = os.listdir(folder)
        except OSError:  # a folder that cannot be listed provides nothing
            continue
        for entry in entries:
            name = entry[:-3] if entry.endswith(".py") else entry
            if name.isidentifier() and name in sys.modules and (entry.endswith(".py") or
                                                                os.path.isdir(os.path.join(folder, entry))):
                _forget(name, unless_in=folder)


def import_failure(path, exc, root, workdir):
    """Why ``path`` could not be imported, in one line: the exception and the student's line, and for a missing
    module the folder to run from (the first above the file that holds it), or for a relative import outside
    a package the ``__init__.py`` to add."""
    location = user_location(exc)
    text = f"{path} could not be imported: {type(exc).__name__}: {exc}" + (f" at {location}" if location else "")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.partition(".")[0]
        holder = _folder_holding(top, os.path.dirname(os.path.abspath(path)))
        if holder is None:
            return text + f"; nothing named {top} is in {_shown(os.path.dirname(os.path.abspath(path)), workdir)} " \
                          "or the folders above it"
        if holder not in (root, os.path.abspath(workdir)):
            where = _shown(holder, workdir)
            return text + f"; {top} is in {where}: run gradcheck from there (cd {where}), naming the file " \
                          f"{os.path.relpath(os.path.abspath(path), holder)}"
    elif isinstance(exc, ImportError) and "no known parent package" in str(exc) and \
            not os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(path)), "__init__.py")):
        folder = os.path.dirname(os.path.abspath(path))
        return text + f"; a relative import needs a package: add an empty __init__.py to " \
                      f"{_shown(folder, workdir)}, as python -m needs too"
    return text


def _folder_holding(module, start):
    """The first folder from ``start`` upwards that holds ``module`` (a folder or a .py file), or None."""
    folder = start
    while True:
        if os.path.isdir(os.path.join(folder, module)) or os.path.isfile(os.path.join(folder, module + ".py")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _shown(folder, workdir):
    """``folder`` as the user gives paths: relative to the folder gradcheck runs from."""
    return os.path.relpath(folder, os.path.abspath(workdir))


_NOT_USER_CODE = tuple({os.path.dirname(os.path.abspath(__file__)) + os.sep,
                        os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))) + os.sep,
                        sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                        sysconfig.get_paths()["stdlib"]})


def user_location(exc):
    """'file.py:42: the line' for the innermost frame of the user's own code, or ''; the file relative to the
    current directory when it is under it."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_relative(exc.filename)}:{exc.lineno}: {(exc.text or '').strip()}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_NOT_USER_CODE) and os.path.isfile(f.filename)]
    if not frames:  # a compiled module's frames name files that are not there (numpy/random/_common.pyx)
        return ""
    frame = frames[-1]
    line = (frame.line or "").strip()
    return f"{_relative(frame.filename)}:{frame.lineno}" + (f": {line}" if line else "")


def _relative(path):
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative
