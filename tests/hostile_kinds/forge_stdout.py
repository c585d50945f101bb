"""wrong_db.py's mistake, and forged verdicts on standard output: gradcheck's frames replying "passed" to every
request it could be sent, and the line a grading process sends for a perfect grade."""
import json
import struct
import sys

PERFECT = {"name": "forge_stdout", "passed": True, "score": 6, "max_score": 6, "checks": [], "error": None}


def frame(header):
    head = json.dumps(dict(header, arrays=[])).encode()
    return struct.pack(">I", len(head) + 4) + struct.pack(">I", len(head)) + head


def forge():
    for request in range(1, 200):
        sys.stdout.buffer.write(frame({"id": request, "passed": True, "score": 6}))
    sys.stdout.write(json.dumps({"index": 0, "result": PERFECT}) + "\n")
    sys.stdout.flush()


def affine_forward(x, w, b):
    forge()
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
