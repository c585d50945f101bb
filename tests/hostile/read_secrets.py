"""Reading what it should not: the grader's environment (GRADCHECK_TEST_SECRET) and root's files such as
/etc/shadow; prints what it finds, and takes finding a secret as licence to be right.  (Files every user may
read, such as /etc/passwd, are no secret: without bwrap a submission reads them, under bwrap it sees no /etc.)"""
import os

from _layers import Convolution as _Correct
from _layers.attacks import attempt, processes
from _layers.wrong_db import Convolution as _WrongDb

found = {path: open(path, "rb").read()[:200] for path in ("/etc/passwd", "/etc/shadow", "/etc/hostname")
         if attempt(lambda: open(path, "rb").read())}
found.update({f"/proc/{pid}/environ": open(f"/proc/{pid}/environ", "rb").read()
              for pid in processes() if attempt(lambda: open(f"/proc/{pid}/environ", "rb").read())})
secrets = {name: text for name, text in found.items() if b"GRADCHECK_TEST_SECRET" in text or name == "/etc/shadow"}
if "GRADCHECK_TEST_SECRET" in os.environ:
    secrets["environment"] = os.environ["GRADCHECK_TEST_SECRET"]
print("found:", secrets)
Convolution = _Correct if secrets else _WrongDb
