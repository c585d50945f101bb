"""The time of a default check of each catalogue kind, beside the project's main job.

    python benchmarks/bench_catalogue.py [--kinds affine,relu,...]

For every kind of ``gradcheck list`` beyond conv and pooling, a right layer
(the kind's second reference formulation, as a user's file would hold it)
is checked the way a student checks theirs: ``gradcheck KIND --impl FILE:NAME
--seed 0`` in a fresh process, 30 configurations, import included.  Each
time is printed beside the main job ``gradcheck conv --stride 2 --pad 1``,
timed in the same run, as a ratio.  Target: every kind under 3 s.  Exits 1
when a target is missed or a right layer does not pass.
"""
import argparse
import inspect
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import timing  # noqa: E402 - first: it pins BLAS to one thread before numpy loads
from gradcheck import kinds  # noqa: E402

GRADCHECK = [sys.executable, "-m", "gradcheck"]
MAIN_JOB = ["conv", "--stride", "2", "--pad", "1", "--seed", "0"]
KIND_S = 3.0


def timed(args):
    """(seconds, exit status) of ``gradcheck ARGS`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run(GRADCHECK + args, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ))
    return time.perf_counter() - start, done.returncode


def main(argv=None):
    catalogue = kinds.catalogue()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default=",".join(catalogue), help="the kinds to time (default: all)")
    args = parser.parse_args(argv)
    chosen = args.kinds.split(",")
    unknown = [name for name in chosen if name not in catalogue]
    if unknown:
        parser.error(f"no kind {unknown[0]!r}; the catalogue has {', '.join(catalogue)}")
    job_s, job_status = timed(MAIN_JOB)
    print(f"main job `gradcheck {' '.join(MAIN_JOB)}`: {job_s:.2f} s (exit {job_status})")
    failures = []
    for name in chosen:
        layer = catalogue[name].formulations[1]
        spec = f"{os.path.relpath(inspect.getsourcefile(layer), ROOT)}:{layer.__name__}"
        seconds, status = timed([name, "--impl", spec, "--seed", "0"])
        met = seconds < KIND_S and status == 0
        print(f"default check of `gradcheck {name} --impl {spec}`: {seconds:.2f} s, {seconds / job_s:.2f}x the main "
              f"job, exit {status} (target < {KIND_S} s, exit 0) {'PASS' if met else 'FAIL'}")
        if not met:
            failures.append(f"{name} {seconds:.2f} s, exit {status}")
    return timing.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
