#!/usr/bin/env bash
# Installs gradcheck %%{version} into a venv from the wheel beside this script, its dependencies pinned by
# constraints.txt (the versions that built this bundle), and checks that it is, file for file, the gradcheck
# that built the bundle. Needs no root where GRADCHECK_VENV can be written.
#   GRADCHECK_PYTHON  the Python 3 that makes the venv (default: python3)
#   GRADCHECK_VENV    where the venv goes (default: /opt/gradcheck-venv; run_autograder reads it too)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${GRADCHECK_PYTHON:-python3}"
venv="${GRADCHECK_VENV:-/opt/gradcheck-venv}"
built="%%{python}"
have="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$have" != "$built" ]; then
    echo "warning: this bundle pins the packages that ran with Python $built, and this is Python $have;" \
         "if an install fails, choose Gradescope's base image with Python $built or build the bundle with $have" >&2
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --constraint "$here/constraints.txt" "$here/%%{wheel}"
"$venv/bin/python" -I -m gradcheck.grading.autograder verify "$here/gradcheck-autograder.json"
