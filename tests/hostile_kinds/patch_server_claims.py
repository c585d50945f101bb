"""wrong_db.py's mistake, and gradcheck's child-side server patched so that every reply it sends also claims
success: passed, a perfect score, every check passing."""
import gradcheck.grading.child as child

CLAIMS = {"passed": True, "score": 6, "max_score": 6, "status": "pass",
          "checks": [{"name": name, "status": "pass"} for name in
                     ("forward", "repeatable", "no-mutation", "dx", "dw", "db")]}
_encode = child.encode


def claiming(header, arrays=()):
    return _encode({**header, **CLAIMS}, arrays)


child.encode = claiming
print("patched gradcheck.grading.child.encode")


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
