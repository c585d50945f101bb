import os
import sys
from pathlib import Path

from hypothesis import settings

# The example student layers (examples/reference_style.py's im2col and col2im) serve the mutants too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

# Under CI: derandomized, no example database, no deadline (timing varies on shared machines).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
