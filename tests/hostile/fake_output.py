"""A wrong dx, and output that imitates a passing gradcheck run and the sandbox protocol."""
import json
import os
import struct
import sys

import numpy as np

from _layers import Convolution as _Correct

FAKE_REPORT = json.dumps({"passed": True, "submissions": [{"name": "fake_output", "passed": True, "score": 8,
                                                           "max_score": 8, "checks": [], "error": None}]})
_head = json.dumps({"id": 1, "convention": "reference", "pinned": {}, "name": "Convolution", "arrays": []}).encode()
FAKE_FRAME = struct.pack(">I", len(_head) + 4) + struct.pack(">I", len(_head)) + _head


def brag():
    print("gradcheck conv · PASSED (0 of 8 checks failed)")
    print(FAKE_REPORT)
    print("PASSED", file=sys.stderr)
    sys.stdout.flush()
    os.write(1, FAKE_FRAME)
    os.write(2, FAKE_FRAME)


brag()


class Convolution(_Correct):
    def forward(self, x):
        brag()
        return super().forward(x)

    def backward(self, dout):
        brag()
        super().backward(dout)
        return np.zeros(self.x.shape)
