"""Garbage into the pipes its parent, the grading process, holds to others than itself: its result channel."""
import os

from _layers.attacks import others_pipes, write_to
from _layers.wrong_db import Convolution as _WrongDb


class Convolution(_WrongDb):
    def forward(self, x):
        for path in others_pipes(os.getppid()):
            write_to(path, b"\x00garbage{" * 100)
        return super().forward(x)
