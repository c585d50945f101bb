"""Grading untrusted student submissions: ``gradcheck grade``.

``grade.py`` runs the class, ``sandbox.py`` runs one submission in a child
process and ``child.py`` is that child; ``protocol.py`` is the wire format
they share.
"""
