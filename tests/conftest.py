import os

from hypothesis import settings

# Under CI: derandomized, no example database, no deadline (timing varies on shared machines).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
