"""wrong_db.py's mistake, and gradcheck's child-side server patched to answer every call of the layer with a
verdict instead of what the layer returned: {"passed": true, "score": 6}."""
import gradcheck.grading.child as child

_handle = child._Server.handle


def claiming(self, header, arrays):
    if header["op"].startswith("pair_"):
        return child.encode({"id": header["id"], "passed": True, "score": 6, "max_score": 6})
    return _handle(self, header, arrays)


child._Server.handle = claiming
print("patched gradcheck.grading.child._Server.handle")


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
