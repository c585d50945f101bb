"""Detection over the mutant suite, and the time of the main job.

    python benchmarks/bench_detection.py [--seeds N]

For every layer in tests/mutants (wrong ones, and right ones in several
styles), runs gradcheck's default search with seeds 0..N-1 and counts how
often the checks that fail are exactly the ones the layer should fail.
Then times the project's main job, `gradcheck conv --stride 2 --pad 1` on
the reference layers, against its 10 s target.  Exits 1 on any miss.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run from a checkout: the mutants live with the tests and build on the example layers.
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "examples")]

import gradcheck  # noqa: E402
from mutants import Mutant, conv, correct, pool  # noqa: E402

MAIN_JOB = ["gradcheck", "conv", "--stride", "2", "--pad", "1", "--seed", "0"]
MAIN_JOB_TARGET_S = 10.0


def layers():
    right = ([Mutant(cls, "conv", set()) for cls in correct.CONV]
             + [Mutant(cls, "maxpool", set()) for cls in correct.MAXPOOL]
             + [Mutant(cls, "avgpool", set()) for cls in correct.AVGPOOL])
    return conv.MUTANTS + pool.MUTANTS + right


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="search seeds per layer (default 8)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")

    suite = layers()
    wrong = [m for m in suite if m.fails]
    misses = []
    start = time.perf_counter()
    for seed in range(args.seeds):
        for mutant in suite:
            report = gradcheck.check(mutant.layer, mutant.cls, seed=seed, **mutant.pins)
            failed = {r.name for r in report.checks if r.status == "fail"}
            if failed != mutant.fails:
                misses.append((seed, mutant.name, sorted(mutant.fails), sorted(failed)))
    elapsed = time.perf_counter() - start
    runs = len(suite) * args.seeds
    exact = runs - len(misses)
    caught = sum(1 for seed in range(args.seeds) for m in wrong
                 if (seed, m.name) not in {(s, n) for s, n, _, _ in misses})
    print(f"mutant suite: {len(wrong)} wrong layers, {len(suite) - len(wrong)} right ones; "
          f"default search, seeds 0..{args.seeds - 1}")
    print(f"  exactly the right checks fail: {exact} of {runs} runs ({100 * exact / runs:.1f}%)")
    print(f"  wrong layers caught exactly:   {caught} of {len(wrong) * args.seeds}")
    print(f"  false alarms on right layers:  "
          f"{sum(1 for _, name, want, _ in misses if not want)} of {(len(suite) - len(wrong)) * args.seeds}")
    print(f"  time: {elapsed:.1f} s, {1000 * elapsed / runs:.0f} ms per layer and seed")
    for seed, name, want, got in misses:
        print(f"  MISS seed {seed} {name}: expected {want}, got {got}")

    start = time.perf_counter()
    job = subprocess.run(MAIN_JOB, capture_output=True, text=True, cwd=ROOT)
    job_s = time.perf_counter() - start
    ok = job.returncode == 0 and job_s < MAIN_JOB_TARGET_S
    print(f"main job `{' '.join(MAIN_JOB)}`: exit {job.returncode}, {job_s:.2f} s "
          f"(target < {MAIN_JOB_TARGET_S:.0f} s) {'PASS' if ok else 'FAIL'}")
    return 0 if ok and not misses else 1


if __name__ == "__main__":
    sys.exit(main())
