"""Grading in the bwrap sandbox: what the sandbox adds per submission, and the time of a class of 30.

    python benchmarks/bench_grading.py [--submissions N] [--rounds N] [--class-size N]

Part 1 grades copies of one correct submission (examples/class/alice.py, 30
configurations each) one at a time, --sandbox bwrap and --sandbox none in
turn, and reports the wall-clock time per submission of each, best of the
rounds, and their difference: what the sandbox adds (target: at most 0.5 s).
The check that bwrap runs here, made once per run, is timed on its own.
Part 2 grades a class of 30 copies with --workers 2 in the sandbox
(target: under 60 s).  Both call ``gradcheck.grading.grade.grade``, as
``gradcheck grade`` does.  Exits 1 when a target is missed.
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from timing import verdict

from gradcheck.grading.grade import grade
from gradcheck.grading.sandbox import SandboxUnavailable, require_sandbox

ALICE = Path(__file__).resolve().parents[1] / "examples" / "class" / "alice.py"
OVERHEAD_TARGET_S = 0.5
CLASS_TARGET_S = 60.0


def copies(folder, count):
    """``count`` copies of alice.py in a new ``folder``, each a submission of its own."""
    Path(folder).mkdir()
    paths = [Path(folder) / f"student_{number:02d}.py" for number in range(count)]
    for path in paths:
        shutil.copyfile(ALICE, path)
    return paths


def timed(paths, sandbox, workers):
    """Seconds to grade ``paths``, after checking that every one passed."""
    start = time.perf_counter()
    result = grade(paths, "conv", "Conv2d", seed=0, workers=workers, sandbox=sandbox)
    elapsed = time.perf_counter() - start
    failed = [submission.name for submission in result.submissions if not submission.passed]
    if failed:
        raise SystemExit(f"FAIL: correct submissions did not pass: {', '.join(failed)}")
    return elapsed


def part1(folder, submissions, rounds, failures):
    start = time.perf_counter()
    require_sandbox()
    print(f"checking that bwrap runs here (once per run): {time.perf_counter() - start:.2f} s")
    paths = copies(folder, submissions)
    best = {"bwrap": float("inf"), "none": float("inf")}
    for _ in range(rounds):
        for sandbox in best:
            best[sandbox] = min(best[sandbox], timed(paths, sandbox, workers=1) / submissions)
    added = best["bwrap"] - best["none"]
    missed = added > OVERHEAD_TARGET_S
    failures.extend([f"the sandbox adds {added:.2f} s > {OVERHEAD_TARGET_S:g} s per submission"] if missed else [])
    print(f"part 1: one submission at a time, {submissions} per round, best of {rounds} rounds")
    print(f"  --sandbox bwrap: {best['bwrap']:.2f} s per submission")
    print(f"  --sandbox none:  {best['none']:.2f} s per submission")
    print(f"  the sandbox adds {added:+.2f} s per submission (target <= {OVERHEAD_TARGET_S:g} s) "
          f"{'FAIL' if missed else 'PASS'}")


def part2(folder, size, failures):
    elapsed = timed(copies(folder, size), "bwrap", workers=2)
    missed = elapsed >= CLASS_TARGET_S
    failures.extend([f"a class of {size} took {elapsed:.1f} s >= {CLASS_TARGET_S:g} s"] if missed else [])
    print(f"part 2: a class of {size} correct submissions, --workers 2, in the sandbox: {elapsed:.1f} s "
          f"(target < {CLASS_TARGET_S:g} s) {'FAIL' if missed else 'PASS'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=4, help="submissions per round in part 1 (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of part 1; the best counts (default 2)")
    parser.add_argument("--class-size", type=int, default=30, help="submissions in part 2 (default 30)")
    args = parser.parse_args(argv)
    for name in ("submissions", "rounds", "class_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    failures = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-grading-") as folder:
            part1(Path(folder) / "one", args.submissions, args.rounds, failures)
            print()
            part2(Path(folder) / "class", args.class_size, failures)
    except SandboxUnavailable as error:
        print(f"FAIL: {error}")
        failures.append("the sandbox cannot run here")
    print()
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
