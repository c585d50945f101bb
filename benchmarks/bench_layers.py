"""Time the vectorized reference layers against PyTorch's CPU layers, forward + backward, one thread each.

    python benchmarks/bench_layers.py [--repeat N]

Prints the best of N runs (after a warm-up) per layer and the ratio ours / torch,
and exits with status 1 when a ratio exceeds its target.  Without torch it
prints our own times only and exits 0.
"""
from timing import best_ms  # first: it pins BLAS to one thread before numpy loads

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from reference_layers import AvgPool2d, Conv2d, MaxPool2d  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

X_SHAPE = (32, 16, 32, 32)
W_SHAPE = (32, 16, 3, 3)


def ours_step(layer, x, dout):
    def step():
        layer.forward(x)
        layer.backward(dout)
    return step


def torch_step(name, x, dout, *params, **kwargs):
    """torch.nn.functional.<name> forward and autograd backward, or None without torch."""
    if torch is None:
        return None
    function = getattr(torch.nn.functional, name)
    x, params, dout = torch.from_numpy(x), [torch.from_numpy(p) for p in params], torch.from_numpy(dout)

    def step():
        leaves = [t.detach().requires_grad_() for t in (x, *params)]
        function(*leaves, **kwargs).backward(dout)
    return step


def cases(rng):
    """Per layer: its name, target ratio, our forward+backward and torch's (None without torch)."""
    x = rng.standard_normal(X_SHAPE)
    W, b = rng.standard_normal(W_SHAPE), rng.standard_normal(W_SHAPE[0])
    conv_dout = rng.standard_normal((X_SHAPE[0], W_SHAPE[0]) + X_SHAPE[2:])
    pool_dout = rng.standard_normal(X_SHAPE[:2] + (X_SHAPE[2] // 2, X_SHAPE[3] // 2))
    return [
        ("Conv2d 3x3 s1 p1", 1.5, ours_step(Conv2d(W, b, stride=1, pad=1), x, conv_dout),
         torch_step("conv2d", x, conv_dout, W, b, stride=1, padding=1)),
        ("MaxPool2d 2x2 s2", 2.0, ours_step(MaxPool2d(2, 2, stride=2), x, pool_dout),
         torch_step("max_pool2d", x, pool_dout, kernel_size=2, stride=2)),
        ("AvgPool2d 2x2 s2", 2.0, ours_step(AvgPool2d(2, 2, stride=2), x, pool_dout),
         torch_step("avg_pool2d", x, pool_dout, kernel_size=2, stride=2)),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per layer; the best counts (default 10)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if torch is not None:
        torch.set_num_threads(1)

    print(f"forward + backward, float64, one thread, best of {args.repeat}; x {X_SHAPE}, W {W_SHAPE}")
    rows = []
    for name, target, ours, theirs in cases(np.random.default_rng(0)):
        torch_ms = None if theirs is None else best_ms(theirs, args.repeat)
        rows.append((name, target, best_ms(ours, args.repeat), torch_ms))

    if torch is None:
        print("the comparison needs torch (pip install torch); our times only:")
        for name, _, ours_ms, _ in rows:
            print(f"{name:<18} {ours_ms:>10.2f} ms")
        return 0

    print(f"{'layer':<18} {'ours (ms)':>10} {'torch (ms)':>10} {'ratio':>7} {'target':>7}  result")
    failed = False
    for name, target, ours_ms, torch_ms in rows:
        ratio = ours_ms / torch_ms
        failed |= ratio > target
        print(f"{name:<18} {ours_ms:>10.2f} {torch_ms:>10.2f} {ratio:>7.2f} {'<= ' + str(target):>7}  "
              f"{'FAIL' if ratio > target else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
