"""How to call user code, read from its signature: which parameter plays which role, by its name.

A constructor, a forward or a backward function is called by what its
parameters are called: ``GEOMETRY_NAMES`` (stride, pad, dilation, also per
axis: ``PER_AXIS_NAMES``) and ``ROLE_NAMES`` (W and b, the input's shape, its
channels, the filters, the kernel size, a learning rate, an optimizer; for a
backward the upstream gradient, the forward's input, output, settings dict or
cache).  ``geometry_names`` maps the roles a callee takes to its parameters;
``BackwardCall`` calls a backward function that way, and ``uncallable`` says
why a function pair cannot be called, with the class to write around it in
the user's own names.

This file is bound read-only into the grading sandbox with ``adapters``: it
imports only the standard library and gradcheck's other child files.
"""
import inspect

from .userfiles import LoadError

GEOMETRY_NAMES = {
    "stride": ("stride", "strides", "S", "s", "PS", "ps", "stride_size"),
    "pad": ("pad", "padding", "P", "p", "PP", "pp", "pad_size", "pads"),
    "dilation": ("dilation", "dilations", "dilation_rate"),
}
PER_AXIS_NAMES = {  # (h, w) spelled as two arguments
    "stride": (("stride_h", "SH", "sh", "stride_height"), ("stride_w", "SW", "sw", "stride_width")),
    "pad": (("pad_h", "pad_height", "padding_h"), ("pad_w", "pad_width", "padding_w")),
    "kernel": (("pool_h", "pool_height", "PH", "ph", "kernel_h", "KH", "kh", "filter_h", "FH", "fh", "kernel_height",
                "filter_height"),
               ("pool_w", "pool_width", "PW", "pw", "kernel_w", "KW", "kw", "filter_w", "FW", "fw", "kernel_width",
                "filter_width")),
}
DEFAULTS = {"stride": 1, "pad": 0, "dilation": 1}  # what a layer that takes no such argument is checked with
ROLE_NAMES = {  # what else a constructor, or a backward function, may take
    "W": ("W", "w", "weights", "weight", "Wt"),
    "b": ("b", "B", "bias", "biases"),
    "input_shape": ("input_shape", "in_shape", "input_dim", "input_dims", "input_size", "image_shape", "x_shape",
                    "inputs_shape", "in_dims", "shape"),
    "channels": ("in_channels", "n_in", "in_ch", "input_channels", "channels", "n_channels", "num_channels", "C",
                 "n_C_prev", "c_in", "in_depth", "input_depth", "channels_in", "nb_channels", "in_chans"),
    "filters": ("out_channels", "n_out", "num_filters", "n_filters", "filters", "filter_num", "nb_filters",
                "nb_filter", "num_kernels", "n_kernels", "out_ch", "output_channels", "F", "n_C", "c_out",
                "out_depth", "channels_out"),
    "kernel": ("kernel_size", "filter_size", "filter_dim", "kernel_dim", "ksize", "kernel", "k", "f", "K",
               "kernel_shape", "filter_shape", "field", "receptive_field", "window", "window_size", "size",
               "pool_size", "pool", "pool_shape"),
    "lr": ("lr", "learning_rate", "eta", "alpha", "step_size", "lr_rate", "learningrate"),
    "optimizer": ("optimizer", "optimiser", "optim", "opt"),
    "initializer": ("initializer", "initialiser", "init", "weight_initializer", "initializer_w"),
    "activation": ("activation", "activation_function", "activator", "act"),
    "dout": ("dout", "dZ", "dz", "dA", "da", "dy", "dY", "dH", "dh", "grad", "grad_output", "grad_out", "output_grad",
             "out_grad", "d_out", "delta", "dvalues", "upstream", "gradient", "top_grad", "dL", "dO"),
    "x": ("x", "X", "A_prev", "a_prev", "x_in", "inputs", "input", "input_data", "A", "a", "Z_prev", "images", "img"),
    "out": ("out", "output", "y", "Y", "out_forward"),
    "settings": ("conv_param", "pool_param", "hparameters", "hparams", "hyperparameters", "param", "params",
                 "conv_params", "pool_params", "config", "cfg", "settings"),
    "cache": ("cache", "caches", "ctx", "saved", "cached", "cache_"),
}
BUILD_ROLES = ("W", "b", "input_shape", "channels", "filters", "kernel", "lr", "optimizer", *GEOMETRY_NAMES)
POOL_BUILD_ROLES = ("input_shape", "channels", "kernel", "stride", "pad")
BACKWARD_ROLES = ("dout", "x", "W", "b", "out", "settings", "cache", "kernel", "stride", "pad", "dilation")
SHOWN = {"input_shape": "(C, H, W)", "channels": "C", "filters": "F", "lr": "0", "optimizer": "no-op"}  # in notes


def parameters_of(function):
    """The parameters of ``function`` (a class: of its constructor), or None when they cannot be read."""
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None


def geometry_names(parameters, skip, roles=tuple(GEOMETRY_NAMES)):
    """role -> the parameter name receiving it, for the parameters after the first ``skip`` ones and the
    ``roles`` asked for (by default the geometry).  A role with no parameter of its own is absent (or, for
    the geometry, given its usual name when the callee takes **kwargs)."""
    rest = {p.name for p in parameters[skip:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    names = {}
    for role in roles:
        spellings = GEOMETRY_NAMES.get(role) or ROLE_NAMES[role]
        found = next((spelling for spelling in spellings if spelling in rest), None)
        pair = tuple(next((s for s in axis if s in rest), None) for axis in PER_AXIS_NAMES.get(role, ()))
        if found:
            names[role] = found
        elif pair and None not in pair:
            names[role] = pair
        elif role in GEOMETRY_NAMES and any(p.kind is p.VAR_KEYWORD for p in parameters):
            names[role] = role
    return names


def role_of(name, roles):
    """The role among ``roles`` that a parameter called ``name`` plays ("kernel" for pool_h too), or None."""
    for role in roles:
        spellings = GEOMETRY_NAMES.get(role) or ROLE_NAMES[role]
        if name in spellings or any(name in axis for axis in PER_AXIS_NAMES.get(role, ())):
            return role
    return None


def takes(function, count):
    """Whether ``function`` can be called with ``count`` positional arguments (True when that cannot be read)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def takes_with(function, count, keywords):
    """Whether ``function`` can be called with ``count`` positional arguments and ``keywords``."""
    try:
        inspect.signature(function).bind(*range(count), **keywords)
    except TypeError:
        return False
    except ValueError:
        return True
    return True


def positional_room(parameters):
    """How many arguments ``parameters`` take by position (a large number for *args)."""
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def compact(pair):
    return pair[0] if pair[0] == pair[1] else pair



class BackwardCall:
    """How to call a backward function: what each of its parameters gets, read from their names.

    ``roles`` lists (parameter, role, axis): the upstream gradient "dout",
    the forward's "cache", or what the forward was given or gave ("x", "W",
    "b", "settings" (its settings dict), "out"), or the geometry ("stride",
    "pad", "kernel", "dilation"; ``axis`` 0 or 1 for a parameter naming one
    axis, as stride_h).  Parameters in ``keywords`` are passed by name, the
    others by position, in order.
    """

    def __init__(self, name, roles, keywords=()):
        self.name = name
        self.roles = roles
        self.keywords = set(keywords)

    @classmethod
    def cached(cls, name):
        """cs231n's backward(dout, cache)."""
        return cls(name, [("dout", "dout", None), ("cache", "cache", None)])

    @property
    def takes_cache(self):
        return any(role == "cache" for _, role, _ in self.roles)

    def arguments(self, values):
        """(positional, keywords) from ``values`` (role -> value; pairs for the geometry)."""
        positional, keywords = [], {}
        for parameter, role, axis in self.roles:
            value = values[role]
            if role in ("stride", "pad", "kernel", "dilation"):
                value = value[axis] if axis is not None else compact(value)
            if parameter in self.keywords:
                keywords[parameter] = value
            else:
                positional.append(value)
        return positional, keywords

    def given(self, forward_name):
        """What the call passes, in words, for a backward that takes more than (dout, cache), or less."""
        if len(self.roles) == 1:
            return f"right after {forward_name}: it takes no cache, so it keeps its state itself"
        return f"with what {forward_name} was given" + ("" if self.takes_cache else " (it takes no cache)")

    def describe(self):
        """e.g. 'conv_backward(dout, cache)', 'conv_backward(dZ, A_prev, W, b, hparameters)' (each parameter named
        as its role may be) or 'conv_backward(g=dout, saved=cache)'."""
        shown = [parameter if role_of(parameter, (role,)) == role else f"{parameter}={role}"
                 for parameter, role, _ in self.roles]
        return f"{self.name}({', '.join(shown)})"


def backward_call(function, backward_name, layer, forward_name, forward_parameters):
    """How to call backward ``function``, from its parameters' names (cs231n's (dout, cache) when they cannot
    be read); LoadError with the class to write when a parameter says nothing gradcheck can give it."""
    parameters = parameters_of(function)
    if parameters is None:
        return BackwardCall.cached(backward_name)
    allowed = BACKWARD_ROLES if layer == "conv" else tuple(r for r in BACKWARD_ROLES if r not in ("W", "b"))
    roles, keywords, unknown, skipped = [], [], [], False
    for index, p in enumerate(parameters):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        role = role_of(p.name, allowed) or ("dout" if index == 0 else None)
        if role is None:
            if p.default is p.empty:
                unknown.append(p)
            skipped = True
            continue
        axis = next((i for i, axis in enumerate(PER_AXIS_NAMES.get(role, ())) if p.name in axis), None)
        roles.append((p.name, role, axis))
        if skipped or p.kind is p.KEYWORD_ONLY:
            keywords.append(p.name)
    if len(roles) == 1 and len(parameters) > 1 and unknown == [parameters[1]]:  # (dout, cache) by other names
        roles, keywords, unknown = roles + [(parameters[1].name, "cache", None)], [], []
    takes_dout = sum(role == "dout" for _, role, _ in roles) == 1
    if unknown or not takes_dout or any(p.kind is p.POSITIONAL_ONLY for p in parameters if p.name in keywords):
        raise LoadError(uncallable(forward_name, forward_parameters, backward_name, parameters, layer,
                                    unknown or [parameters[0]]))
    return BackwardCall(backward_name, roles, keywords)


def uncallable(name, parameters, backward_name, backward_parameters, layer, unknown=None):
    """Why forward function NAME (or, given the parameters it cannot fill, ``unknown``, its backward) cannot be
    called, and the class to write around the pair, in their own names."""
    if unknown is not None:
        signature = f"({', '.join(p.name for p in backward_parameters)})"
        why = (f"{backward_name}{signature} cannot be called the way gradcheck knows: it calls a backward with the "
               f"upstream gradient and the forward's cache, or with what the forward was given (x, w, b, its "
               f"settings, stride, pad), by the names of the parameters, and cannot tell what "
               f"{', '.join(p.name for p in unknown)} should be")
    else:
        signature = f"({', '.join(p.name for p in parameters)})" if parameters is not None else ""
        expected = "(x, w, b, conv_param) as in cs231n, or (x, w, b, stride, pad)" if layer == "conv" else \
            ("(x, pool_param) as in cs231n, or (x, pool_h, pool_w, stride, pad) (a pool taking one window size "
             "pools square windows only: its class can raise ValueError for others, which gradcheck reports as "
             "refused)")
        why = (f"{name}{signature} cannot be called the way gradcheck knows: it looks for a forward function taking "
               f"{expected}, and a {backward_name}(dout, cache)")
    if layer == "conv":
        init = ["def __init__(self, W, b, stride, pad):",
                "    self.W, self.b, self.stride, self.pad = W, b, stride, pad",
                '    self.settings = {"stride": stride, "pad": pad}']
        grads = "dx, self.dW, self.db"
    else:
        init = ["def __init__(self, pool_h, pool_w, stride, pad):",
                "    self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad",
                '    self.settings = {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}']
        grads = "dx"
    backward = call_text(backward_name, backward_parameters, layer, in_backward=True)
    lines = ["class Layer:", *("    " + line for line in init),
             "    def forward(self, x):",
             "        self.x = x",
             f"        out, self.cache = {call_text(name, parameters, layer)}   # or out = ..., as yours returns",
             *(["        self.out = out"] if "=self.out" in backward else []),
             "        return out",
             "    def backward(self, dout):",
             f"        {grads} = {backward}",
             "        return dx"]
    return (f"{why}. Wrap the pair in a class in your file, with your own values for ..., and pass "
            f"--impl FILE:Layer:\n\n" + "".join(f"    {line}\n" for line in lines))


def call_text(name, parameters, layer, in_backward=False):
    """A call of function ``name`` from a wrapper class's forward (or backward), each parameter given what its
    name says."""
    if parameters is None:
        return f"{name}(...)"
    values = {"dout": "dout", "cache": "self.cache", "x": "self.x" if in_backward else "x", "W": "self.W",
              "b": "self.b", "out": "self.out", "settings": "self.settings", "stride": "self.stride",
              "pad": "self.pad", "kernel": "self.pool_h" if layer != "conv" else "self.W.shape[2]"}
    shown = []
    for index, p in enumerate(parameters):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        role = role_of(p.name, BACKWARD_ROLES) or (("dout" if in_backward else "x") if index == 0 else None)
        if role is None and p.default is not p.empty:
            continue
        axis = next((i for i, axis in enumerate(PER_AXIS_NAMES.get(role, ())) if p.name in axis), None)
        value = values.get(role, "...")
        if axis is not None and role == "kernel":
            value = ("self.pool_h", "self.pool_w")[axis] if layer != "conv" else f"self.W.shape[{2 + axis}]"
        shown.append(f"{p.name}={value}")
    return f"{name}({', '.join(shown)})"


class Identity:
    """Stands in for a DIVE activation."""

    def forward(self, a):
        return a

    def backward(self, da):
        return da


class NoUpdate:
    """Stands in for a DIVE optimizer: update(layer) changes nothing and returns the layer."""

    def update(self, layer):
        return layer
