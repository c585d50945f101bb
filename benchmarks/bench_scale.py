"""Real layer sizes: how long a check takes, how much memory, and what the size guard refuses.

    python benchmarks/bench_scale.py

Runs, as a user would (the command line, a process of its own, default BLAS
threads), a from-scratch im2col conv (examples/reference_style.py, the "Deep
Learning from Scratch" layer) through:

1. a default check of x (8, 64, 32, 32), W (64, 64, 3, 3), stride 1, pad 1  (target < 20 s)
2. the same with --fast                                                      (target < 2 s)
3. --size 128 --channels 16 --filters 16 --examples 5                        (target < 30 s)
4. --size 4000 --channels 64 --filters 64: refused with exit 2               (target < 10 s)

and prints each one's wall time and peak memory (the child's peak RSS,
target < 2 GB), with the time as a ratio to one forward and backward pass
of torch's conv2d on the same arrays (its peer: what one training step
costs), when torch is installed.  Exits 1 when a target is missed.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = "examples/reference_style.py:Convolution"
BIG = ["--batch", "8", "--channels", "64", "--filters", "64", "--size", "32", "--kernel", "3", "--stride", "1",
       "--pad", "1", "--dilation", "1"]
RUNS = [  # (name, arguments, expected exit code, time target in seconds)
    ("default check, x (8, 64, 32, 32), W (64, 64, 3, 3)", ["--impl", LAYER, *BIG], 0, 20.0),
    ("--fast, x (8, 64, 32, 32), W (64, 64, 3, 3)", ["--impl", LAYER, *BIG, "--fast"], 0, 2.0),
    ("--size 128 --channels 16 --filters 16 --examples 5",
     ["--impl", LAYER, "--size", "128", "--channels", "16", "--filters", "16", "--examples", "5"], 0, 30.0),
    ("--size 4000 --channels 64 --filters 64 (refused)", ["--size", "4000", "--channels", "64", "--filters", "64"],
     2, 10.0),
]
MEMORY_TARGET_MB = 2048


# ru_maxrss survives exec: a child exec'd straight from this process (which may hold torch) would report
# this process's peak.  A bare interpreter in between, spawning the child and reporting its rusage, makes the
# child a new process whose inherited peak is only that interpreter's.
TRAMPOLINE = ("import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
              "_, status, usage = os.wait4(child.pid, 0); "
              "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, file=sys.stderr)")


def run(arguments):
    """(seconds, peak RSS in MB, exit code, what it printed on stderr) of `gradcheck conv ARGUMENTS --seed 0`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", TRAMPOLINE, sys.executable, "-m", "gradcheck", "conv", *arguments,
                           "--seed", "0"],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    *printed, last = done.stderr.strip().splitlines()
    code, peak_kb = (int(word) for word in last.split())
    return seconds, peak_kb / 1024, code, "\n".join(printed)


def torch_step_seconds():
    """Best of 5: one forward and backward of torch's conv2d on the big configuration; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    x = torch.randn(8, 64, 32, 32, dtype=torch.float64, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(64, dtype=torch.float64, requires_grad=True)
    times = []
    for _ in range(6):
        start = time.perf_counter()
        torch.nn.functional.conv2d(x, w, b, padding=1).backward(torch.ones(8, 64, 32, 32, dtype=torch.float64))
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    step = torch_step_seconds()
    print("one forward and backward of torch conv2d on x (8, 64, 32, 32), W (64, 64, 3, 3): "
          + (f"{1000 * step:.1f} ms" if step else "not measured (needs torch)"))
    print(f"{'run':<56} {'time (s)':>9} {'target':>7} {'/ torch step':>13} {'peak MB':>8}  result")
    failures = []
    for name, arguments, code, target in RUNS:
        seconds, peak, got, stderr = run(arguments)
        ok = got == code and seconds < target and peak < MEMORY_TARGET_MB
        ratio = f"{seconds / step:.0f}x" if step and code == 0 else ""
        print(f"{name:<56} {seconds:>9.2f} {'< ' + format(target, 'g'):>7} {ratio:>13} {peak:>8.0f}  "
              f"{'PASS' if ok else 'FAIL'}")
        if code == 2:
            print(f"  {stderr.strip()}")
        if not ok:
            failures.append(f"{name}: exit {got} (expected {code}), {seconds:.1f} s, {peak:.0f} MB")
    print("; ".join(failures) if failures else f"every target met (peak memory < {MEMORY_TARGET_MB} MB in all)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
