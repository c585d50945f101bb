import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# The example student layers (examples/reference_style.py's im2col and col2im) serve the mutants too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

# Under CI: derandomized, no example database, no deadline (timing varies on shared machines).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def student(tmp_path_factory):
    """student(name) -> the folder of a student who submitted tests/hostile/<name>.py, as a class download has it.

    Next to the file is the student's helper package ``_layers``: the correct
    layers (tests/hostile/_layers.py), ``_layers.wrong_db``, an honest mistake
    (tests/hostile/wrong_db.py) that attacking submissions compute,
    ``_layers.attacks`` (tests/hostile/_attacks.py), and ``_layers.wrong_conv``
    (examples/wrong_conv.py: the stride forgotten in backward).
    """
    hostile = Path(__file__).parent / "hostile"
    root = tmp_path_factory.mktemp("class")

    def make(name):
        folder = root / name
        if not folder.exists():
            (folder / "_layers").mkdir(parents=True)
            shutil.copyfile(hostile / f"{name}.py", folder / f"{name}.py")
            shutil.copyfile(hostile / "_layers.py", folder / "_layers" / "__init__.py")
            shutil.copyfile(hostile / "wrong_db.py", folder / "_layers" / "wrong_db.py")
            shutil.copyfile(hostile / "_attacks.py", folder / "_layers" / "attacks.py")
            shutil.copyfile(hostile.parent.parent / "examples" / "wrong_conv.py", folder / "_layers" / "wrong_conv.py")
        return folder

    return make
