"""What the benchmark scripts share: one BLAS thread, best-of-N timing, and the closing verdict.

Import this module before numpy (or torch): it pins every BLAS to one thread,
which only works before they load.
"""
import os
import time

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"


def best_ms(step, repeat):
    """The fastest of ``repeat`` timed calls of ``step`` after one warm-up call, in milliseconds."""
    step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def verdict(failures):
    """Print the targets missed, or that every one was met; return the script's exit status."""
    if failures:
        print("missed: " + "; ".join(failures))
        return 1
    print("every target met")
    return 0
