"""Grading in isolation: what it adds per submission, and the time of a class of 30, under bwrap and without it.

    python benchmarks/bench_grading.py [--submissions N] [--rounds N] [--class-size N] [--isolation bwrap|user|both]

For each isolation, part 1 grades copies of one correct submission
(examples/class/alice.py, 30 configurations each) one at a time, with that
isolation and with --sandbox none in turn, and reports the wall-clock time
per submission of each (as its grading process timed it: starting the
child, checking, ending it), best of the rounds, and their difference: what
the isolation adds to each submission (target: at most 0.5 s).  What it adds
once per run (the check that it runs here; as a user of its own, also
linking numpy where the children import it) is timed on its own.  Part 2 grades a class of 30 copies with
--workers 2 in that isolation (target: under 60 s).  Part 3 grades, with --workers 2 on as many cores, copies
of the same correct submission once beside each other and once each beside a submission that tries to start
30 sessions and 30 threads spinning on the CPU and spins itself until its time limit: the correct
submissions' mean time beside the spinners, as a ratio of their time beside each other, is how much CPU a
submission can take from a classmate graded at the same time (target: at most 1.5; each submission gets one
CPU, its share).  All call ``gradcheck.grading.grade.grade``, as ``gradcheck grade`` does.

bwrap is measured here.  The isolation without it, each submission as an
unprivileged user of its own (--sandbox user), is what Gradescope's
container gets, where bwrap cannot run: as root, this script runs its own
measurement of it in the simulated container of tests/container.sh (this
machine's gradcheck is open to root only there, as it must be).  Exits 1
when a target is missed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import verdict

from gradcheck.grading.grade import grade, isolation
from gradcheck.grading.sandbox import SandboxUnavailable

REPOSITORY = Path(__file__).resolve().parents[1]
ALICE = REPOSITORY / "examples" / "class" / "alice.py"
CONTAINER = REPOSITORY / "tests" / "container.sh"
OVERHEAD_TARGET_S = 0.5
CLASS_TARGET_S = 60.0
SHARE_TARGET = 1.5
SPINNER_TIMEOUT_S = 5.0  # the spinners' time limit, and so how long each spins
SPINNER = """
import os, threading


def spin():
    while True:
        pass


for _ in range(30):
    try:
        if os.fork() == 0:
            os.setsid()
            spin()
    except OSError:
        pass
    try:
        threading.Thread(target=spin, daemon=True).start()
    except RuntimeError:
        pass
spin()
"""


def copies(folder, count):
    """``count`` copies of alice.py in a new ``folder`` (open to its owner only, as a class's submissions must
    be when they are graded as users of their own), each a submission of its own."""
    Path(folder).mkdir(mode=0o700)
    paths = [Path(folder) / f"student_{number:02d}.py" for number in range(count)]
    for path in paths:
        shutil.copyfile(ALICE, path)
    return paths


def timed(paths, sandbox, workers, **options):
    """(seconds to grade ``paths``, mean seconds per correct submission as their grading processes timed them),
    after checking that every correct one (every copy of alice.py) passed."""
    start = time.perf_counter()
    result = grade(paths, "conv", "Conv2d", seed=0, workers=workers, sandbox=sandbox, **options)
    elapsed = time.perf_counter() - start
    correct = [submission for submission in result.submissions if submission.name.startswith("student_")]
    failed = [submission.name for submission in correct if not submission.passed]
    if failed:
        raise SystemExit(f"FAIL: correct submissions did not pass: {', '.join(failed)}")
    return elapsed, sum(submission.duration_s for submission in correct) / len(correct)


def part1(sandbox, folder, submissions, rounds, failures):
    paths = copies(folder, submissions)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
        start = time.perf_counter()
        isolation(sandbox, paths, scratch)
        print(f"checking that --sandbox {sandbox} runs here (once per run): {time.perf_counter() - start:.2f} s")
    best = {sandbox: float("inf"), "none": float("inf")}
    for _ in range(rounds):
        for name in best:
            best[name] = min(best[name], timed(paths, name, workers=1)[1])
    added = best[sandbox] - best["none"]
    missed = added > OVERHEAD_TARGET_S
    failures.extend([f"--sandbox {sandbox} adds {added:.2f} s > {OVERHEAD_TARGET_S:g} s per submission"]
                    if missed else [])
    print(f"part 1: one submission at a time, {submissions} per round, best of {rounds} rounds")
    print(f"  --sandbox {sandbox}: {best[sandbox]:.2f} s per submission")
    print(f"  --sandbox none:  {best['none']:.2f} s per submission")
    print(f"  --sandbox {sandbox} adds {added:+.2f} s per submission (target <= {OVERHEAD_TARGET_S:g} s) "
          f"{'FAIL' if missed else 'PASS'}")


def part2(sandbox, folder, size, failures):
    elapsed = timed(copies(folder, size), sandbox, workers=2)[0]
    missed = elapsed >= CLASS_TARGET_S
    failures.extend([f"a class of {size} took {elapsed:.1f} s >= {CLASS_TARGET_S:g} s with --sandbox {sandbox}"]
                    if missed else [])
    print(f"part 2: a class of {size} correct submissions, --workers 2, --sandbox {sandbox}: {elapsed:.1f} s "
          f"(target < {CLASS_TARGET_S:g} s) {'FAIL' if missed else 'PASS'}")


def part3(sandbox, folder, count, failures):
    paths = copies(folder, count)
    spinners = [Path(folder) / f"spinner_{number:02d}.py" for number in range(count)]
    for path in spinners:
        path.write_text(SPINNER)
    options = dict(timeout=SPINNER_TIMEOUT_S, workers=2)
    beside_each_other = timed(paths, sandbox, **options)[1]
    beside_spinners = timed([path for pair in zip(paths, spinners) for path in pair], sandbox, **options)[1]
    ratio = beside_spinners / beside_each_other
    missed = ratio > SHARE_TARGET
    failures.extend([f"beside spinning submissions a classmate took {ratio:.2f}x its time, > {SHARE_TARGET:g}x "
                     f"with --sandbox {sandbox}"] if missed else [])
    print(f"part 3: {count} correct submissions, --workers 2, --sandbox {sandbox}, on {os.cpu_count()} cores: "
          f"{beside_each_other:.2f} s each beside each other, {beside_spinners:.2f} s each beside a spinning "
          f"submission: {ratio:.2f}x (target <= {SHARE_TARGET:g}x) {'FAIL' if missed else 'PASS'}")


def measure(sandbox, args, failures):
    """Parts 1, 2 and 3 for ``sandbox``, here."""
    try:
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as folder:
            part1(sandbox, Path(folder) / "one", args.submissions, args.rounds, failures)
            part2(sandbox, Path(folder) / "class", args.class_size, failures)
            part3(sandbox, Path(folder) / "spin", args.submissions, failures)
    except SandboxUnavailable as error:
        print(f"FAIL: {error}")
        failures.append(f"--sandbox {sandbox} cannot run here")


def in_container(args, failures):
    """Parts 1, 2 and 3 for --sandbox user, measured by this script in the simulated Gradescope container."""
    print("in a simulated Gradescope container, where bwrap cannot run (tests/container.sh):")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("FAIL: the simulated container needs root and unshare")
        failures.append("--sandbox user was not measured")
        return
    done = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "bash", str(CONTAINER), "--",
                           sys.executable, __file__, "--isolation", "user", "--here", "--submissions",
                           str(args.submissions), "--rounds", str(args.rounds), "--class-size", str(args.class_size)])
    if done.returncode != 0:
        failures.append("--sandbox user missed a target (above)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=4, help="submissions per round in part 1 (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of part 1; the best counts (default 2)")
    parser.add_argument("--class-size", type=int, default=30, help="submissions in part 2 (default 30)")
    parser.add_argument("--isolation", choices=("bwrap", "user", "both"), default="both",
                        help="what to measure (default both)")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # measure user isolation here
    args = parser.parse_args(argv)
    for name in ("submissions", "rounds", "class_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    sys.stdout.reconfigure(line_buffering=True)  # in order with what the run in the container prints
    failures = []
    if args.isolation in ("bwrap", "both"):
        measure("bwrap", args, failures)
        print()
    if args.isolation in ("user", "both"):
        if args.here:
            measure("user", args, failures)
            return 1 if failures else 0
        in_container(args, failures)
        print()
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
