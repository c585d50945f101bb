"""``python -m gradcheck``: the command line, as the ``gradcheck`` script runs it."""
from .cli import main

main(prog_name="gradcheck")
