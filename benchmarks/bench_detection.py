"""Detection over the mutant suite, the time of the main job, and of a default check of a student layer.

    python benchmarks/bench_detection.py [--seeds N]

For every layer in tests/mutants (wrong ones, and right ones in several
styles), runs gradcheck's default search with seeds 0..N-1 and counts how
often the checks that fail are exactly the ones the layer should fail.  The
layers of tests/mutants/geometry.py and values.py, wrong only in a geometry
class random draws rarely reach or on one class of values, are counted again
with the search's classes (gradcheck/strata.py, the classes of values of
gradcheck/inputs.py) switched off: the ratio is what the classes add.  The
layers are checked in --jobs processes (default: one a core), one BLAS thread
each.
Then times, as a user runs them (the command line, start-up included), the
project's main job `gradcheck conv --stride 2 --pad 1` on the reference
layers (target < 1.5 s), and a default check (`gradcheck conv --impl
FILE:NAME`) of every right student layer in examples/ and tests/mutants,
whose median must stay under 3 s.  Exits 1 on any miss.
"""
import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
# Run from a checkout: the mutants live with the tests and build on the example layers.
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "examples"), str(ROOT / "benchmarks")]

import timing  # noqa: E402,F401 - first: it pins BLAS to one thread before numpy loads
import gradcheck  # noqa: E402
from gradcheck import fuzz, strata  # noqa: E402
from mutants import Mutant, conv, correct, geometry, pool, values  # noqa: E402

GRADCHECK = [sys.executable, "-m", "gradcheck"]  # the command line of this interpreter's gradcheck
MAIN_JOB = GRADCHECK + ["conv", "--stride", "2", "--pad", "1", "--seed", "0"]
MAIN_JOB_S = 1.5  # target for the main job
STUDENT_S = 3.0  # target for the median default check of a student layer
STUDENT_LAYERS = [  # (layer, FILE:NAME, pins) of right layers in every convention; as the README checks them
    ("conv", "examples/reference_style.py:Convolution", []), ("maxpool", "examples/reference_style.py:Pooling", []),
    ("conv", "examples/cs231n_style.py:conv_forward_naive", []),
    ("maxpool", "examples/cs231n_style.py:max_pool_forward_naive", []),
    ("conv", "examples/dive_style.py:make_conv", []),
    ("maxpool", "examples/dive_style.py:make_pool", ["--kernel", "2"]),  # it refuses non-square pools
] + [(layer, f"tests/mutants/correct.py:{cls.__name__}", []) for layer, classes in
     (("conv", correct.CONV), ("maxpool", correct.MAXPOOL), ("avgpool", correct.AVGPOOL)) for cls in classes]
# tests/mutants/correct.py builds on examples/reference_style.py, as a student's file imports the helper beside it
STUDENT_ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "examples"), os.environ.get("PYTHONPATH", "")]))


def layers():
    right = ([Mutant(cls, "conv", set()) for cls in correct.CONV]
             + [Mutant(cls, "maxpool", set()) for cls in correct.MAXPOOL]
             + [Mutant(cls, "avgpool", set()) for cls in correct.AVGPOOL])
    return conv.MUTANTS + pool.MUTANTS + geometry.MUTANTS + values.MUTANTS + right


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="search seeds per layer (default 5)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes (default: one a core)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be >= 1")

    suite = layers()
    classed = [index for index, m in enumerate(suite) if m in geometry.MUTANTS + values.MUTANTS]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as executor:
        jobs = [(index, seed, True) for seed in range(args.seeds) for index in range(len(suite))]
        jobs += [(index, seed, False) for seed in range(args.seeds) for index in classed]
        failed = dict(zip(jobs, executor.map(failing_checks, jobs)))
    elapsed = time.perf_counter() - start
    misses = detection(suite, args.seeds, failed)
    classes_ok = geometry_classes(suite, classed, args.seeds, failed)
    print(f"detection: {elapsed:.1f} s for {len(jobs)} checks in {args.jobs} processes, "
          f"{1000 * elapsed * args.jobs / len(jobs):.0f} ms per check and process")
    job_s, job_ok = timed_command(MAIN_JOB)
    print(f"main job `gradcheck {' '.join(MAIN_JOB[len(GRADCHECK):])}`: {job_s:.2f} s (target < {MAIN_JOB_S} s) "
          f"{'PASS' if job_ok and job_s < MAIN_JOB_S else 'FAIL'}")
    times = student_check_times()
    median = statistics.median(times)
    print(f"default check of a right student layer, median of {len(times)}: {median:.2f} s "
          f"(target < {STUDENT_S} s) {'PASS' if median < STUDENT_S else 'FAIL'}")
    return 0 if job_ok and job_s < MAIN_JOB_S and median < STUDENT_S and not misses and classes_ok else 1


def failing_checks(job):
    """The checks that fail in a default check of the suite's layer ``index`` with ``seed``, with the search's
    classes of geometry and values or without them."""
    index, seed, classes = job
    mutant = layers()[index]
    with contextlib.nullcontext() if classes else without_classes():
        report = gradcheck.check(mutant.layer, mutant.cls, seed=seed, **mutant.pins)
    return {r.name for r in report.checks if r.status == "fail"}


def without_classes():
    """The search with no geometry classes (strata) and no classes of values sought."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(strata, "STRATA", ()))
    stack.enter_context(mock.patch.object(fuzz._Searcher, "_missing_values", lambda self, examples: []))
    return stack


def detection(suite, seeds, failed):
    """Print the tally of ``failed`` (checks that failed, by job) with the classes; return the misses."""
    wrong = [m for m in suite if m.fails]
    misses = [(seed, m.name, sorted(m.fails), sorted(failed[index, seed, True]))
              for seed in range(seeds) for index, m in enumerate(suite)
              if not m.fails <= failed[index, seed, True] <= m.fails | m.sometimes]
    runs = len(suite) * seeds
    missed = {(seed, name) for seed, name, _, _ in misses}
    caught = sum(1 for seed in range(seeds) for m in wrong if (seed, m.name) not in missed)
    print(f"mutant suite: {len(wrong)} wrong layers, {len(suite) - len(wrong)} right ones; "
          f"default search, seeds 0..{seeds - 1}")
    print(f"  exactly the right checks fail: {runs - len(misses)} of {runs} runs "
          f"({100 * (runs - len(misses)) / runs:.1f}%)")
    print(f"  wrong layers caught exactly:   {caught} of {len(wrong) * seeds}")
    print(f"  false alarms on right layers:  "
          f"{sum(1 for _, name, want, _ in misses if not want)} of {(len(suite) - len(wrong)) * seeds}")
    for seed, name, want, got in misses:
        print(f"  MISS seed {seed} {name}: expected {want}, got {got}")
    return misses


def geometry_classes(suite, classed, seeds, failed):
    """Print how often the geometry and values mutants (``classed``, indices into ``suite``) are caught with the
    classes and without them; True when the classes catch every one on every seed."""
    runs = len(classed) * seeds
    with_classes, without = (sum(suite[index].fails <= failed[index, seed, classes] for index in classed
                                 for seed in range(seeds)) for classes in (True, False))
    print(f"geometry and values mutants (tests/mutants/geometry.py, values.py), seeds 0..{seeds - 1}: caught "
          f"{with_classes} of {runs} runs with the classes, {without} of {runs} without "
          f"({with_classes / max(without, 1):.1f}x)")
    return with_classes == runs


def timed_command(words, env=None):
    """(seconds, exit status 0?) of one command run from the checkout."""
    start = time.perf_counter()
    done = subprocess.run(words, capture_output=True, text=True, cwd=ROOT, env=env)
    return time.perf_counter() - start, done.returncode == 0


def student_check_times():
    """Seconds of `gradcheck conv|pool --impl FILE:NAME --seed 0` for every right student layer, printed."""
    times = []
    for layer, spec, pins in STUDENT_LAYERS:
        command = GRADCHECK + (["conv"] if layer == "conv" else ["pool", "--mode", layer[:3]])
        seconds, ok = timed_command(command + [*pins, "--impl", spec, "--seed", "0"], STUDENT_ENV)
        print(f"  {seconds:5.2f} s  {spec}{'' if ok else ' (did not pass!)'}")
        times.append(seconds if ok else float("inf"))
    return times


if __name__ == "__main__":
    sys.exit(main())
