"""Time gradcheck's whole engine against torch.autograd.gradcheck, and its cost on a large conv, one thread each.

    python benchmarks/bench_engine.py [--repeat N] [--skip-torch]

Part 1 checks every element of dX, dW and dB of one small conv configuration
(x (4, 3, 16, 16), W (8, 3, 3, 3), stride 2, pad 1, float64) three ways:
torch.autograd.gradcheck in its default element-wise mode on
torch.nn.functional.conv2d, and gradcheck's full check (every named check,
structured finite differences: --method structured, element by element as
torch does) of the reference im2col layer and of a small adapter that wraps
torch's conv2d in the reference convention, so that gradcheck checks the
very function torch checks.  It prints the best of N
times, the ratio torch / ours (target: at least 50), the forward evaluations
each finite-difference strategy needs and the time of the numeric part alone.

Part 2 runs gradcheck's full check of x (8, 3, 32, 32), W (8, 3, 5, 5),
stride 1, pad 0 (structured finite differences again) in a fresh child
process and reports its time (target: under 2 s) and peak memory (target:
under 500 MB of peak RSS, interpreter and imports included).

Exits with status 1 when a target is missed or a check does not pass.
Without torch, or with --skip-torch, part 1 prints our times only.
"""
import resource

# The child's peak RSS before anything is imported: what it inherited (see part2) plus a bare interpreter.
_RSS_AT_START = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

from timing import best_ms, verdict  # noqa: E402 - first: it pins BLAS to one thread before numpy loads

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import gradcheck  # noqa: E402
from gradcheck import numeric  # noqa: E402
from gradcheck.adapters import reference_style  # noqa: E402
from gradcheck.checks import GRADIENTS, PROJECTIONS, Expected  # noqa: E402
from gradcheck.compare import FLOAT64  # noqa: E402
from gradcheck.evaluate import Evaluator  # noqa: E402
from gradcheck.config import Config  # noqa: E402
from gradcheck.inputs import make_inputs  # noqa: E402
from reference_layers import Conv2d  # noqa: E402

# torch is imported only by the parent (load_torch): the child that measures memory must not pay for it.
torch = None

SEED = 0
SMALL = Config.conv(batch=4, channels=3, filters=8, size=16, kernel=3, stride=2, pad=1)
LARGE = Config.conv(batch=8, channels=3, filters=8, size=32, kernel=5, stride=1, pad=0)
RATIO_TARGET = 50.0  # torch's time / ours, at least
TIME_TARGET_S = 2.0  # the large check, at most
MEMORY_TARGET_MB = 500.0  # peak RSS of the child running the large check, at most
WRT = ("x", "W", "b")
GRADIENT_NAMES = {wrt: name for name, wrt in GRADIENTS.items()}
STRATEGIES = ("dense", "structured", "projection")


def load_torch(skip):
    global torch
    if skip:
        return None
    try:
        import torch as module
    except ImportError:
        return None
    torch = module
    torch.set_num_threads(1)
    return torch


def maxrss_mb(rss=None):
    """Peak resident set size of this process so far, in MB (ru_maxrss is in kB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if rss is None else rss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def vmhwm_mb():
    """Linux only: VmHWM, the peak RSS of this process image alone (nothing inherited), in MB; else None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


def describe(config):
    return f"{config.describe()}, out {config.out_shape}"


# -- the function torch checks, in the reference convention -------------------------------------------------
class TorchConv2d:
    """torch.nn.functional.conv2d as a reference-convention layer: forward(x), backward(dout), W, b, dW, db.

    W and b are held by reference and wrapped afresh on every forward, so an
    in-place update of layer.W reaches the next forward (weights-live).  The
    graph is kept, so backward may be called twice after one forward (repeatable).
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.stride, self.pad = stride, pad
        self.dW = self.db = None

    def forward(self, x):
        self._leaves = [torch.from_numpy(a).requires_grad_() for a in (x, self.W, self.b)]
        self._out = torch.nn.functional.conv2d(*self._leaves, stride=self.stride, padding=self.pad)
        return self._out.detach().numpy()

    def backward(self, dout):
        dx, dW, db = torch.autograd.grad(self._out, self._leaves, torch.from_numpy(dout), retain_graph=True)
        self.dW, self.db = dW.numpy(), db.numpy()
        return dx.numpy()


def torch_gradcheck_step(config, counts=None):
    """torch.autograd.gradcheck (default: element-wise, fast_mode=False) on conv2d with ``config``'s arrays.

    With ``counts`` (a dict), forward calls and backward passes through the
    output are counted (an untimed run: the hook costs a little).
    """
    inputs = make_inputs(config, SEED)
    leaves = [torch.from_numpy(a.copy()).requires_grad_() for a in (inputs.x, inputs.params["W"], inputs.params["b"])]

    def conv(x, W, b):
        out = torch.nn.functional.conv2d(x, W, b, stride=config.stride, padding=config.pad)
        if counts is not None:
            counts["forward"] += 1
            if out.requires_grad:
                out.register_hook(lambda grad: counts.__setitem__("backward", counts["backward"] + 1))
        return out

    def step():
        if not torch.autograd.gradcheck(conv, leaves):  # raises on a mismatch; False only if told not to
            raise AssertionError("torch.autograd.gradcheck failed")
    return step


# -- gradcheck's side -----------------------------------------------------------------------------------------
def engine_step(config, cls):
    """gradcheck's full check of one pinned configuration, element by element; raises if it does not pass."""
    def step():
        report = gradcheck.check("conv", cls, config=config, seed=SEED, method="structured")
        if not report.passed:
            failed = [f"{r.name}: {r.message}" for r in report.checks if not r.passed]
            raise AssertionError(f"gradcheck failed on {cls.__name__}: {failed}")
        return report
    return step


def engine_methods(config, cls):
    """{check name: (method, evaluations)} for dX, dW, dB as the engine ran them (from report.checks)."""
    report = engine_step(config, cls)()
    return {r.name: (r.method, r.evaluations) for r in report.checks if r.name in GRADIENTS}


def structure(strategy, config, wrt):
    shape = config.x_shape if wrt == "x" else config.param_shapes[wrt]
    return numeric.dense(shape) if strategy == "dense" else numeric.structured(config, wrt)


def strategy_evaluations(config):
    """{strategy: {wrt: forward evaluations}} in one call each: 1 + 2 * groups, and 2 per projection."""
    counts = {s: {w: 1 + 2 * len(structure(s, config, w).groups) for w in WRT} for s in ("dense", "structured")}
    counts["projection"] = {w: 2 * PROJECTIONS for w in WRT}
    return counts


def numeric_times(config, cls, repeat):
    """{strategy: {wrt: (ms, max abs error against the analytic gradient)}} for the numeric part alone."""
    inputs = make_inputs(config, SEED)
    expected = Expected(config, inputs)
    implementation = reference_style(cls, "conv")
    subject = implementation.make(config, {k: v.copy() for k, v in inputs.params.items()})
    out = np.asarray(subject.forward(inputs.x.copy()))
    times = {}
    for strategy in STRATEGIES:
        times[strategy] = {}
        for wrt in WRT:
            analytic = expected.grads[GRADIENT_NAMES[wrt]]["reference"]
            base = inputs.x if wrt == "x" else inputs.params[wrt]
            evaluate = Evaluator(implementation, subject, config, inputs, wrt, out, FLOAT64)
            if strategy == "projection":
                def run():
                    directions = numeric.random_directions(np.random.default_rng(0), base.shape, PROJECTIONS)
                    screen = numeric.project(evaluate, base, inputs.dout, analytic, FLOAT64.step, directions,
                                             len(directions))
                    return np.abs(screen.numeric - screen.analytic).max()
            else:
                def run():
                    estimate = numeric.finite_differences(evaluate, base, inputs.dout,
                                                          structure(strategy, config, wrt), FLOAT64.step, 10**6)
                    return np.abs(estimate.values - analytic).max()
            times[strategy][wrt] = (best_ms(run, repeat), float(run()))
    return times


def methods_text(methods):
    return ", ".join(f"{name} {method} {evaluations}" for name, (method, evaluations) in methods.items())


# -- part 1 ---------------------------------------------------------------------------------------------------
def part1(repeat, failures):
    config = SMALL
    print(f"part 1: every element of dX, dW and dB of one conv: {describe(config)}, float64, one thread, "
          f"best of {repeat}")
    rows = [("gradcheck, reference Conv2dIm2col", engine_step(config, Conv2d))]
    if torch is not None:
        rows.append(("gradcheck, torch conv2d adapter", engine_step(config, TorchConv2d)))
    times = {name: best_ms(step, repeat) for name, step in rows}
    torch_ms = None if torch is None else best_ms(torch_gradcheck_step(config), repeat)

    print(f"{'checker':<46} {'time (ms)':>10} {'torch/ours':>10} {'target':>7}  result")
    if torch_ms is not None:
        print(f"{'torch.autograd.gradcheck (fast_mode=False)':<46} {torch_ms:>10.2f}")
    for name, ours_ms in times.items():
        if torch_ms is None:
            print(f"{name:<46} {ours_ms:>10.2f}")
            continue
        ratio = torch_ms / ours_ms
        missed = ratio < RATIO_TARGET
        failures.extend([f"part 1 {name}: torch/ours {ratio:.1f} < {RATIO_TARGET:g}"] if missed else [])
        print(f"{name:<46} {ours_ms:>10.2f} {ratio:>10.1f} {'>= ' + format(RATIO_TARGET, 'g'):>7}  "
              f"{'FAIL' if missed else 'PASS'}")
    if torch_ms is None:
        print("the comparison with torch.autograd.gradcheck needs torch (pip install torch) and no --skip-torch")
    else:
        print("(both sides pass; torch compares the full Jacobians, every (output, input) pair, with eps 1e-6, "
              "atol 1e-5, rtol 1e-3; gradcheck compares every element of the gradient for one random dout, "
              f"atol {FLOAT64.atol:g}, rtol {FLOAT64.rtol:g}, plus the forward, repeatability, mutation and cache "
              "checks)")

    evaluations = strategy_evaluations(config)
    numeric_ms = numeric_times(config, Conv2d, repeat)
    methods = engine_methods(config, Conv2d)
    used = {method for method, _ in methods.values()}
    print()
    print(f"forward evaluations per strategy for this configuration, and the numeric part alone "
          f"(reference Conv2dIm2col, best of {repeat}):")
    print(f"{'strategy':<12} {'x':>6} {'W':>6} {'b':>6} {'total':>6}   {'x ms':>8} {'W ms':>8} {'b ms':>8} "
          f"{'total ms':>9}   {'max |numeric - analytic|':>24}")
    for strategy in STRATEGIES:
        count, ms = evaluations[strategy], numeric_ms[strategy]
        error = max(e for _, e in ms.values())
        mark = "  <- the engine's choice" if strategy in used else ""
        print(f"{strategy:<12} {count['x']:>6} {count['W']:>6} {count['b']:>6} {sum(count.values()):>6}   "
              f"{ms['x'][0]:>8.2f} {ms['W'][0]:>8.2f} {ms['b'][0]:>8.2f} {sum(m for m, _ in ms.values()):>9.2f}"
              f"   {error:>24.2e}{mark}")
    print(f"(projection: {PROJECTIONS} random directions, a screen; its error column is |numeric - analytic| of "
          "the directional derivatives)")
    print(f"the engine ran: {methods_text(methods)}  [from report.checks]")
    if torch is not None:
        counts = {"forward": 0, "backward": 0}
        torch_gradcheck_step(config, counts)()
        print(f"torch.autograd.gradcheck (counted in an untimed run): {counts['forward']} forward calls, "
              f"{counts['backward']} backward passes (two per output element: "
              f"{int(np.prod(config.out_shape))} outputs, computed twice to test reentrancy)")


# -- part 2 ---------------------------------------------------------------------------------------------------
def child(repeat):
    """Run in a fresh process: time the large check, then read peak RSS, then the tracemalloc peak; print JSON."""
    at_start, after_imports, hwm_after_imports = maxrss_mb(_RSS_AT_START), maxrss_mb(), vmhwm_mb()
    step = engine_step(LARGE, Conv2d)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak_rss, peak_hwm = maxrss_mb(), vmhwm_mb()  # before tracemalloc, whose bookkeeping would count otherwise
    tracemalloc.start()
    step()
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    methods = engine_methods(LARGE, Conv2d)
    print(json.dumps({"times": times, "rss_at_start": at_start, "rss_after_imports": after_imports,
                      "peak_rss": peak_rss, "hwm_after_imports": hwm_after_imports, "peak_hwm": peak_hwm,
                      "traced_peak": traced_peak, "methods": methods,
                      "modules": [m for m in ("numpy", "hypothesis", "torch") if m in sys.modules]}))
    return 0


def part2(repeat, failures):
    config = LARGE
    print(f"part 2: gradcheck's full check of the reference Conv2dIm2col on {describe(config)}, float64, "
          f"one thread, in a fresh child process")
    # ru_maxrss survives exec: a child exec'd straight from this process would report this process's peak
    # (torch, the dense timings) as its own.  A bare interpreter in between, which spawns the child and
    # waits, makes the child a new process whose inherited peak is only that bare interpreter's (~10 MB).
    child_command = [sys.executable, str(Path(__file__).resolve()), "--child", "--repeat", str(repeat)]
    trampoline = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
    done = subprocess.run([sys.executable, "-c", trampoline, *child_command], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout + done.stderr)
        failures.append("part 2: the child process failed")
        print("FAIL: the child process failed")
        return
    data = json.loads(done.stdout.strip().splitlines()[-1])
    first, best = data["times"][0], min(data["times"])
    modules = data["modules"] if "torch" in data["modules"] else data["modules"] + ["not torch"]
    print(f"the child imported gradcheck, {', '.join(modules)}")
    print(f"{'measure':<58} {'value':>9} {'target':>8}  result")
    rows = [
        ("full check, first run in the child (s)", first, TIME_TARGET_S),
        (f"full check, best of {repeat} in the child (s)", best, None),
        ("peak RSS, ru_maxrss of the whole child (MB)", data["peak_rss"], MEMORY_TARGET_MB),
        ("  ru_maxrss at the child's start, before any import (MB)", data["rss_at_start"], None),
        ("  ru_maxrss after the imports, before any check (MB)", data["rss_after_imports"], None),
        ("tracemalloc peak during one check, numpy + Python (MB)", data["traced_peak"], None),
    ]
    if data["peak_hwm"] is not None:
        rows += [("cross-check: VmHWM of the child's own image, peak (MB)", data["peak_hwm"], None),
                 ("cross-check: VmHWM after imports, before any check (MB)", data["hwm_after_imports"], None)]
    for name, value, target in rows:
        if target is None:
            print(f"{name:<58} {value:>9.2f}")
            continue
        missed = value >= target
        failures.extend([f"part 2 {name}: {value:.2f} >= {target:g}"] if missed else [])
        print(f"{name:<58} {value:>9.2f} {'< ' + format(target, 'g'):>8}  {'FAIL' if missed else 'PASS'}")
    dense = strategy_evaluations(config)["dense"]
    print(f"evaluations: {methods_text({k: tuple(v) for k, v in data['methods'].items()})}  "
          f"[from report.checks]  (dense would need x {dense['x']}, W {dense['W']}, b {dense['b']})")
    inputs = int(np.prod(config.x_shape)) + sum(int(np.prod(s)) for s in config.param_shapes.values())
    outputs = int(np.prod(config.out_shape))
    jacobian = inputs * outputs * 8
    print(f"not run: torch.autograd.gradcheck's element-wise mode here would build dense Jacobians of "
          f"({inputs} = {' + '.join(str(int(np.prod(s))) for s in (config.x_shape, *config.param_shapes.values()))}"
          f" inputs) x ({outputs} outputs) x 8 bytes = {jacobian / 1e9:.1f} GB each; it builds the numerical "
          f"one and the analytical one twice (reentrancy test): >= {3 * jacobian / 1e9:.0f} GB, from "
          f"{2 * inputs} forward calls and {2 * outputs} backward passes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement; the best counts "
                                                               "(default 5)")
    parser.add_argument("--skip-torch", action="store_true", help="do not import or time torch")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.child:
        return child(args.repeat)
    load_torch(args.skip_torch)

    failures = []
    part1(args.repeat, failures)
    print()
    part2(args.repeat, failures)
    print()
    return verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
