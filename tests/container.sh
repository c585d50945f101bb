#!/usr/bin/env bash
# A Gradescope container, simulated faithfully enough to grade in.  As root:
#
#     unshare --mount --pid --fork --mount-proc bash tests/container.sh [--bind SOURCE TARGET]... -- COMMAND...
#
# runs COMMAND as root in private mount and pid namespaces where, as in Gradescope's Docker container:
# - /proc/acpi is covered by a tmpfs (Docker masks /proc paths so), so bwrap cannot mount a procfs of its own
#   ("Can't mount proc on /newroot/proc: Operation not permitted"): gradcheck must isolate without it;
# - /tmp is an empty folder of the container's own, on disk, and /dev/shm a tmpfs of 64 MB (Docker's default);
# - this machine's /work (the venvs) and the folder holding this repository (/work here, /check/work in CI) are
#   open to root only, as an image's installation made by root in a private folder is, while pyenv's Pythons in
#   /root/.pyenv are open to all, as an image's system Python is (the rest of /root is hidden);
# - each SOURCE folder of this machine appears at TARGET (create TARGET's parents as you need them);
# - the virtual environment this script was started from ($VIRTUAL_ENV) stays at its path when it lives in this
#   machine's /tmp (CI makes its venv with mktemp -d), in a folder open to root only, as an image's would be.
# Nothing changes outside the namespaces (the container's /tmp is a folder of this machine's, removed at the
# end); everything in them ends with COMMAND, whose exit status this script's is.
set -euo pipefail
binds=()
while [ "${1:-}" = "--bind" ]; do
    binds+=("$2" "$3")
    shift 3
done
[ "${1:-}" = "--" ] && shift

disk="$(mktemp -d /tmp/gradcheck-container.XXXXXX)"  # the container's /tmp, in this machine's
hold=/media  # an empty folder of this machine, covered in the namespace only: where mounts wait to be moved
mount -t tmpfs -o mode=0700 none "$hold"
case "${VIRTUAL_ENV:-}" in
    /tmp/*) binds+=("$VIRTUAL_ENV" "$VIRTUAL_ENV") ;;  # its folder is made open to root only below
esac
for ((i = 0; i < ${#binds[@]}; i += 2)); do
    mkdir "$hold/$i"
    mount --bind "${binds[i]}" "$hold/$i"
done
repository="$(cd "$(dirname "$0")/.." && pwd)"
private=(/work)
[ "$(dirname "$repository")" != /work ] && private+=("$(dirname "$repository")")
mkdir "$hold/pyenv"
mount --rbind /root/.pyenv "$hold/pyenv"
for ((i = 0; i < ${#private[@]}; i += 1)); do
    mkdir "$hold/private$i"
    mount --rbind "${private[i]}" "$hold/private$i"
done

mount -t tmpfs none /proc/acpi
mount --bind "$disk" /tmp
chmod 1777 /tmp
mount -t tmpfs -o mode=1777,size=64m none /dev/shm
mount -t tmpfs -o mode=0755 none /root
mkdir /root/.pyenv
mount --rbind "$hold/pyenv" /root/.pyenv
for ((i = 0; i < ${#private[@]}; i += 1)); do
    mount -t tmpfs -o mode=0700 none "${private[i]}"
    for entry in "$hold/private$i"/*; do
        target="${private[i]}/${entry##*/}"
        if [ -d "$entry" ]; then mkdir "$target"; else touch "$target"; fi
        mount --rbind "$entry" "$target"
    done
done
case "${VIRTUAL_ENV:-}" in
    /tmp/*) mkdir -m 0700 "$(dirname "$VIRTUAL_ENV")" ;;
esac
for ((i = 0; i < ${#binds[@]}; i += 2)); do
    mkdir -p "${binds[i + 1]}"
    mount --bind "$hold/$i" "${binds[i + 1]}"
done
status=0
"$@" || status=$?
umount -R /tmp
rm -rf "$disk"
exit "$status"
