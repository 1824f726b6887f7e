"""Hypothesis strategies for minigrad tests: shapes, broadcastable shapes, tensors and axes.

They wrap `hypothesis.extra.numpy`, which already draws shapes, broadcast-compatible shapes and arrays well
(size-1 dimensions, missing leading dimensions and 0-d arrays included), and turn the arrays into Tensors.
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
from hypothesis import strategies as st

from .. import backend
from ..creation import tensor

xp = backend.cpu.xp  # the host array module (this package only reaches numpy through backend)

__all__ = ["shapes", "broadcastable_shapes", "tensors", "valid_axes", "spaced_floats"]


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy:
    """Array shapes (tuples of ints) with `min_dims..max_dims` axes of size `min_side..max_side`.

    The default includes 0-d shapes ``()`` and size-1 axes, the cases where broadcasting bugs hide.
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    shape=None,
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 1,
    max_side: int = 5,
) -> st.SearchStrategy:
    """Tuples of `num_shapes` shapes that broadcast together (NumPy rules).

    The shapes differ in their number of axes and have size-1 axes where another has a larger one, e.g.
    ``((3, 1), (2, 1, 4))``. When `shape` is given it is the first shape of every tuple.
    """
    if shape is None:
        return hnp.mutually_broadcastable_shapes(
            num_shapes=num_shapes,
            min_dims=min_dims,
            max_dims=max_dims,
            min_side=min_side,
            max_side=max_side,
        ).map(lambda b: tuple(b.input_shapes))
    shape = tuple(shape)
    others = hnp.broadcastable_shapes(
        shape,
        min_dims=min_dims,
        max_dims=max(max_dims, len(shape)),
        min_side=min_side,
        max_side=max_side,
    )
    return (
        st.tuples(*([others] * (num_shapes - 1)))
        .filter(_broadcasts(shape))
        .map(lambda rest: (shape,) + rest)
    )


def _broadcasts(shape):
    def ok(rest) -> bool:
        try:
            backend.broadcast_shapes(shape, *rest)
            return True
        except ValueError:
            return False

    return ok


def spaced_floats(low: float, high: float, steps: int = 1024) -> st.SearchStrategy:
    """Floats in (low, high) at the midpoints of a grid of `steps` cells.

    Made for finite differences: two drawn values are equal or at least (high - low) / steps apart (no
    near-ties for max or maximum), and a value never lies on a grid line, so kinks at round numbers
    (relu and abs at 0, clip bounds) stay at least half a cell away.
    """
    width = (high - low) / steps
    return st.integers(0, steps - 1).map(lambda i: low + (i + 0.5) * width)


def tensors(
    shape=None,
    dtype=backend.float64,
    elements=(-3.0, 3.0),
    device="cpu",
    requires_grad: bool = False,
    unique: bool = False,
) -> st.SearchStrategy:
    """Tensors of a given (or drawn) shape, dtype and value domain, on a device.

    Parameters
    ----------
    shape : tuple, strategy or None
        A fixed shape, a strategy of shapes, or None for `shapes()`.
    dtype : dtype
        Any minigrad dtype (float64 by default, as gradient checks need).
    elements : (low, high) or strategy
        A closed interval for the values (floats without NaN/inf for float dtypes, integers otherwise;
        ignored for bool), or a hypothesis strategy of elements. The interval is clipped to the values
        the dtype can hold, so the default (-3, 3) gives 0..3 for uint8; an interval with no such value
        is a ValueError.
    device : str
        'cpu' or 'cuda'.
    requires_grad : bool
        Set on every drawn tensor. Only floating dtypes can require grad: asking for it with another dtype
        is a ValueError when the strategy is built.
    unique : bool
        No repeated values within a tensor.
    """
    dtype = backend.as_dtype(dtype)
    if requires_grad and dtype.kind != "f":
        raise ValueError(
            f"tensors: requires_grad=True needs a floating dtype, got {dtype}; "
            "pass dtype=mg.float64 (or float32/float16), or drop requires_grad"
        )
    if shape is None:
        shape = shapes()
    if isinstance(elements, st.SearchStrategy):
        elems = elements
    elif dtype.kind == "b":
        elems = st.booleans()
    elif dtype.kind == "f":
        lo, hi = _clip_to_dtype(elements, dtype, xp.finfo(dtype), float)
        elems = st.floats(
            lo,
            hi,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
            width=8 * dtype.itemsize,
        )
    else:
        lo, hi = _clip_to_dtype(elements, dtype, xp.iinfo(dtype), int)
        elems = st.integers(lo, hi)
    arrays = hnp.arrays(dtype, shape, elements=elems, unique=unique)
    return arrays.map(lambda a: tensor(a, dtype=dtype, device=device, requires_grad=requires_grad))


def _clip_to_dtype(elements, dtype, info, cast):
    """The interval `elements` = (low, high) cut to [info.min, info.max], as `cast` numbers."""
    low, high = elements
    lo, hi = max(cast(low), cast(info.min)), min(cast(high), cast(info.max))
    if lo > hi:
        raise ValueError(
            f"tensors: elements={tuple(elements)!r} is empty for {dtype}, which holds {info.min}..{info.max}"
        )
    return lo, hi


def valid_axes(
    ndim: int, allow_none: bool = True, allow_int: bool = True, allow_tuple: bool = True
) -> st.SearchStrategy:
    """Axis arguments valid for an array with `ndim` axes: None, an int (negative ones too) or a tuple of
    distinct axes (possibly empty; negative entries too)."""
    options = []
    if allow_none:
        options.append(st.none())
    if allow_int and ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim))
    if not options:
        raise ValueError(
            f"valid_axes: no axis argument is allowed for ndim={ndim} with these options"
        )
    return st.one_of(*options)
