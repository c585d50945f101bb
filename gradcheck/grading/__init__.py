"""Grading untrusted student submissions: ``gradcheck grade``.

``grade.py`` runs the class, one grading process (``worker.py``) per
submission; in it ``sandbox.py`` runs the submission in a child process,
``child.py``, and ``protocol.py`` is the wire format those two share.
"""
