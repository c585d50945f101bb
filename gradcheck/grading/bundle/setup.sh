#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu). The steps that need root
# install Python 3 and libseccomp (the sandbox's seccomp filter loads it; apt depends on it, so it is there
# already); setup_venv.sh, beside it, needs none: it installs gradcheck %%{version} from the wheel in this bundle.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-pip python3-venv libseccomp2
bash "$(dirname "$0")/setup_venv.sh"
