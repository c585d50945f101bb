"""wrong_db.py's mistake, and forged replies written into every descriptor it holds beyond the standard ones:
gradcheck's channel, where its replies go.  Each says "passed" and carries the id of the request being served
(read off the server's frame), and the ids after it."""
import json
import os
import struct
import sys


def frame(header):
    head = json.dumps(dict(header, arrays=[])).encode()
    return struct.pack(">I", len(head) + 4) + struct.pack(">I", len(head)) + head


def request_id():
    """The id of the request the child's server is answering, from its frame on the stack (0 if not found)."""
    caller = sys._getframe()
    while caller is not None:
        header = caller.f_locals.get("header")
        if isinstance(header, dict) and isinstance(header.get("id"), int):
            return header["id"]
        caller = caller.f_back
    return 0


def forge():
    first = request_id()
    forged = b"".join(frame({"id": request, "passed": True, "values": ["none"], "single": True})
                      for request in range(first, first + 50))
    for name in os.listdir("/proc/self/fd"):
        try:
            os.write(int(name), forged)
        except OSError:
            pass


def affine_forward(x, w, b):
    forge()
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
