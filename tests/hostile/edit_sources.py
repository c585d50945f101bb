"""Tampering: appends a line to gradcheck's own source and to numpy's, on disk."""
import numpy
import numpy.linalg

from _layers import Convolution as _Correct
from _layers.attacks import append_to, attempt, host_paths
from _layers.wrong_db import Convolution as _WrongDb

targets = [numpy.__file__, numpy.linalg.__file__] + [path for path in host_paths() if path.endswith(".py")]
if attempt(__import__, "gradcheck.adapters"):
    import gradcheck
    import gradcheck.adapters

    targets += [gradcheck.__file__, gradcheck.adapters.__file__]
edited = [append_to(path, "\n# appended by edit_sources\n") for path in targets]
Convolution = _Correct if any(edited) else _WrongDb
