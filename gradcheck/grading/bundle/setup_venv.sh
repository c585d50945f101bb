#!/usr/bin/env bash
# Installs gradcheck %%{version} into a venv from the wheel beside this script, its dependencies pinned by
# constraints.txt (the versions that built this bundle, each on the Pythons it supports), checks that it is,
# file for file, the gradcheck that built the bundle, and says how submissions will be isolated here.
# The venv is open to its owner only: the student's code, run as another user, must not read it.
#   GRADCHECK_PYTHON  the Python 3 that makes the venv (default: python3); any user must be able to run it
#   GRADCHECK_VENV    where the venv goes (default: /opt/gradcheck-venv; run_autograder reads it too)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${GRADCHECK_PYTHON:-python3}"
venv="${GRADCHECK_VENV:-/opt/gradcheck-venv}"
"$python" -m venv "$venv"
chmod 700 "$venv"
"$venv/bin/python" -m pip install --progress-bar off --constraint "$here/constraints.txt" "$here/%%{wheel}"
"$venv/bin/python" -I -m gradcheck.grading.autograder verify "$here/gradcheck-autograder.json"
