"""Forged grades: finds its grader's result pipes through /proc/<pid>/fd and writes passing results into them.

The results are what a grading process used to send (a pickled result, framed as multiprocessing frames
it) and what one sends now (JSON): 8 of 8.
"""
import json
import pickle
import struct

from _layers import Convolution as _Correct
from _layers.attacks import pipes, processes, write_to
from _layers.wrong_db import Convolution as _WrongDb

PASSING = {"name": "forge_result", "path": "", "passed": True, "score": 8, "max_score": 8, "checks": [],
           "error": None, "duration_s": 0.1}
FORGED = [json.dumps(PASSING).encode(), struct.pack("!i", len(pickle.dumps(PASSING))) + pickle.dumps(PASSING)]

forged = [write_to(path, data) for path in pipes(processes()) for data in FORGED]
Convolution = _Correct if any(forged) else _WrongDb
