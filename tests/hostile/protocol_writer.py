"""A wrong layer that writes forged replies and garbage into every file descriptor it can find."""
import json
import os
import struct

import numpy as np

from _layers import Convolution as _Correct


def forge(request_id):
    head = json.dumps({"id": request_id, "passed": True, "arrays": []}).encode()
    return struct.pack(">I", len(head) + 4) + struct.pack(">I", len(head)) + head


class Convolution(_Correct):
    calls = 0

    def forward(self, x):
        Convolution.calls += 1
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2:
                for request_id in range(Convolution.calls, Convolution.calls + 50):
                    try:
                        os.write(fd, forge(request_id))
                    except OSError:
                        break
                try:
                    os.write(fd, b"PASSED" * 100)
                except OSError:
                    pass
        return np.zeros((1,))
