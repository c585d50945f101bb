"""wrong_db.py's mistake, and gradcheck's child-side server patched to report gradients other than those the layer
computed: none at all (None for each, as if there were nothing to check)."""
import gradcheck.grading.child as child

_backward = child._Server.op_pair_backward


def reporting_none(self, header, arrays):
    result, out = _backward(self, header, arrays)
    computed = result["values"].count("array")
    return {**result, "values": ["none"] * len(result["values"])}, out[computed:]


child._Server.op_pair_backward = reporting_none
print("patched gradcheck.grading.child._Server.op_pair_backward")


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)
