"""Bad arguments to the reference layers raise ValueError or TypeError naming the argument and the rule."""
import numpy as np
import pytest

from gradcheck.kinds import windowed

CONVS = windowed()["conv"].formulations
POOLS = windowed()["maxpool"].formulations + windowed()["avgpool"].formulations
LAYERS = CONVS + POOLS


def by_name(classes):
    return pytest.mark.parametrize("cls", classes, ids=lambda cls: cls.__name__)


def weights(filters=2, channels=3, kernel=(3, 3)):
    return np.ones((filters, channels) + kernel), np.zeros(filters)


def build(cls, **kwargs):
    """A conv with W (2, 3, 3, 3) or a 2x2 pool, with any keyword argument overridden."""
    if cls in CONVS:
        W, b = weights()
        return cls(kwargs.pop("W", W), kwargs.pop("b", b), **kwargs)
    return cls(2, 2, **kwargs)


def x_of(shape=(2, 3, 6, 6)):
    return np.random.default_rng(0).standard_normal(shape)


@by_name(LAYERS)
@pytest.mark.parametrize("stride", [0, -1, (1, 0), (-2, 1)])
def test_stride_below_one_is_refused(cls, stride):
    with pytest.raises(ValueError, match=r"stride must be >= 1, got"):
        build(cls, stride=stride)


@by_name(LAYERS)
@pytest.mark.parametrize("stride", [True, (1, False)])
def test_bool_stride_is_refused(cls, stride):
    with pytest.raises(TypeError, match=r"stride must be an int or an \(h, w\) pair of ints"):
        build(cls, stride=stride)


@by_name(LAYERS)
@pytest.mark.parametrize("pad", [-1, (0, -1)])
def test_negative_pad_is_refused(cls, pad):
    with pytest.raises(ValueError, match=r"pad must be >= 0, got"):
        build(cls, pad=pad)


@by_name(POOLS)
@pytest.mark.parametrize("pad", [2, (0, 2)])
def test_pool_pad_over_half_the_pool_is_refused(cls, pad):
    with pytest.raises(ValueError, match=r"pad must be at most half the pool size"):
        build(cls, pad=pad)


@by_name(LAYERS)
@pytest.mark.parametrize("shape,axis", [((2, 3, 1, 6), "height"), ((2, 3, 6, 1), "width")])
def test_kernel_larger_than_padded_input_is_refused_at_forward(cls, shape, axis):
    layer = build(cls)
    rule = rf"window spans \d+ along {axis} but the padded input has only 1 .* smaller window"
    with pytest.raises(ValueError, match=rule):
        layer.forward(x_of(shape))


@by_name(CONVS)
def test_kernel_larger_than_padded_input_counts_dilation(cls):
    layer = build(cls, dilation=3)  # a 3x3 kernel spanning 7
    with pytest.raises(ValueError, match=r"window spans 7 along height but the padded input has only 6 \+ 2\*0"):
        layer.forward(x_of())


@by_name(LAYERS)
@pytest.mark.parametrize("shape", [(3, 6, 6), (1, 2, 3, 6, 6)])
def test_x_with_wrong_ndim_is_refused(cls, shape):
    with pytest.raises(ValueError, match=r"x must have 4 dimensions \(NCHW\)"):
        build(cls).forward(x_of(shape))


@by_name(CONVS)
def test_W_with_wrong_ndim_is_refused(cls):
    with pytest.raises(ValueError, match=r"W must have 4 dimensions \(FCHW\)"):
        build(cls, W=np.ones((2, 3, 3)))


@by_name(CONVS)
def test_b_with_wrong_ndim_is_refused(cls):
    with pytest.raises(ValueError, match=r"b must have 1 dimension \(F\)"):
        build(cls, b=np.zeros((2, 1)))


@by_name(LAYERS)
def test_dout_with_wrong_ndim_is_refused(cls):
    layer = build(cls)
    out = layer.forward(x_of())
    with pytest.raises(ValueError, match=r"dout must have 4 dimensions"):
        layer.backward(out[0])


@by_name(LAYERS)
def test_dout_with_wrong_shape_is_refused(cls):
    layer = build(cls)
    out = layer.forward(x_of())
    with pytest.raises(ValueError, match=r"dout must have shape .* \(the shape forward returned\)"):
        layer.backward(np.ones(out.shape[:3] + (out.shape[3] + 1,)))


@by_name(CONVS)
def test_b_with_wrong_length_is_refused(cls):
    with pytest.raises(ValueError, match=r"b must have shape \(2,\) \(one bias per filter of W\), got \(3,\)"):
        build(cls, b=np.zeros(3))


@by_name(CONVS)
def test_x_with_wrong_channels_is_refused(cls):
    with pytest.raises(ValueError, match=r"x has 2 channels but W of shape \(2, 3, 3, 3\) .* expects 3"):
        build(cls).forward(x_of((2, 2, 6, 6)))


@by_name(LAYERS)
def test_integer_x_is_refused(cls):
    with pytest.raises(TypeError, match=r"x must be a floating-point array, got dtype int"):
        build(cls).forward(np.ones((2, 3, 6, 6), dtype=int))


@by_name(CONVS)
def test_integer_W_is_refused(cls):
    with pytest.raises(TypeError, match=r"W must be a floating-point array, got dtype int"):
        build(cls, W=np.ones((2, 3, 3, 3), dtype=int))


@by_name(LAYERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_is_refused(cls, bad):
    x = x_of()
    x[1, 2, 3, 4] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or infinity"):
        build(cls).forward(x)


@by_name(CONVS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_W_is_refused(cls, bad):
    W, _ = weights()
    W[1, 0, 2, 2] = bad
    with pytest.raises(ValueError, match=r"W contains NaN or infinity"):
        build(cls, W=W)


@by_name(LAYERS)
def test_list_x_is_refused(cls):
    with pytest.raises(TypeError, match=r"x must be a numpy array, got list"):
        build(cls).forward(x_of().tolist())


@by_name(CONVS)
def test_list_W_is_refused(cls):
    with pytest.raises(TypeError, match=r"W must be a numpy array, got list"):
        build(cls, W=weights()[0].tolist())


@by_name(LAYERS)
def test_backward_before_forward_says_to_call_forward_first(cls):
    with pytest.raises(RuntimeError, match=r"backward called before forward; call forward\(x\) first"):
        build(cls).backward(np.ones((2, 2, 3, 3)))
