"""Escape after the run: a grandchild in a session of its own outlives the process-group kill and keeps
rewriting every --output it can find with a passing grade, long after the grader exited."""
import os
import sys

from _layers.attacks import MARKER, attempt
from _layers.wrong_db import Convolution as _WrongDb

REWRITER = """
import os, time
fake = '{"submissions": [{"name": "escape_after_run", "passed": true, "score": 8, "max_score": 8}]}'
for _ in range(600):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            words = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\\0")
        except OSError:
            continue
        for word, following in zip(words, words[1:]):
            if word == "--output":
                try:
                    open(following, "w").write(fake)
                except OSError:
                    pass
    time.sleep(0.1)
"""


def escape():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execve(sys.executable, [sys.executable, "-c", REWRITER, MARKER], {"GRADCHECK_HOSTILE": MARKER})
        os._exit(0)
    os.wait()


attempt(escape)

Convolution = _WrongDb
