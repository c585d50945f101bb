"""Tells the grader it can only take stride 1, so that its stride bug would never be seen.

Its layer is examples/wrong_conv.py's (backward forgets the stride).  At
import it wraps the sandbox child's encoder, the function every reply goes
through, and rewrites its answer to load: stride, pad and dilation pinned.
Were pins taken from the child, only stride 1 would be checked and it would
score full marks.
"""
import sys

from _layers.wrong_conv import Conv2d  # noqa: F401 - the layer graded

_child = sys.modules.get("gradcheck.grading.child")
if _child is not None:
    _encode = _child.encode

    def _forged(header, arrays=()):
        if isinstance(header, dict) and "pinned" in header:
            header = dict(header, pinned={"stride": 1, "pad": 0, "dilation": 1}, restrict={"square": ["kernel"]})
        return _encode(header, arrays)

    _child.encode = _forged
