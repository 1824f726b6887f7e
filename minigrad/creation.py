"""Creation functions: `tensor`, `from_numpy`, `zeros`, `ones`, `full`, `arange`, `linspace`, `eye`,
the `*_like` family and the random ones (`randn`, `rand`, `uniform`, `randint`, `randperm`).

Each takes `dtype=` and `device=` and makes its array with that device's `xp` (random ones with the
device's seeded generator, see `mg.manual_seed`).
"""

from __future__ import annotations

from . import backend
from .ops._common import _as_int
from .tensor import Tensor


def _shape_arg(shape) -> tuple:
    # zeros(2, 3) and zeros((2, 3)) both work, like PyTorch and NumPy
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    sizes = tuple(_as_int(s) for s in shape)  # NumPy integers count, bools and floats do not
    for s in sizes:
        if s is None or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {shape}")
    return sizes


def _check_fits(values, dtype) -> None:
    """Raise where values (a NumPy array) do not fit the integer dtype they are cast to (NaN, inf, out
    of range), as torch does: NumPy's cast would silently give garbage such as INT64_MIN."""
    xp = backend.cpu.xp
    if dtype.kind not in "iu" or values.dtype.kind not in "iuf" or values.size == 0:
        return
    if not isinstance(values, xp.ndarray):
        return  # a cuda array: not checked (it would need a copy to the host)
    info = xp.iinfo(dtype)
    lo, hi = values.min(), values.max()
    if not (lo >= info.min and hi < info.max + 1):  # also catches NaN
        bad = lo if not lo >= info.min else hi
        raise ValueError(f"value {bad} cannot be converted to {dtype} without overflow")


def _infer_dtype(data, arr):
    if backend.is_array(data) or isinstance(data, backend.cpu.xp.generic):
        return arr.dtype  # an array or numpy scalar keeps its dtype (float64 stays float64)
    if arr.dtype.kind == "f":
        return backend.get_default_dtype()  # Python floats become the default float32
    if arr.dtype.kind in "iu":
        return backend.int64
    if arr.dtype.kind == "b":
        return backend.bool_
    raise TypeError(
        f"cannot make a tensor from data of dtype {arr.dtype}; use numbers or arrays of numbers"
    )


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from a number, (nested) list, numpy/cupy array or Tensor (its data is copied).

    A float numpy array keeps its dtype; Python floats become float32 (the default dtype); integers stay
    integer (int64); bools stay bool.
    """
    dtype = backend.as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data.data
    if device is None:
        dev = backend.device_of(data) if backend.is_array(data) else backend.cpu
    else:
        dev = backend.device(device)
    src = backend.to_numpy(data) if (backend.is_array(data) and dev.type == "cpu") else data
    if isinstance(src, (list, tuple)) and any(isinstance(v, Tensor) for v in _flat(src)):
        src = [_untensor(v) for v in src]
    try:
        probe = backend.cpu.xp.asarray(src) if not backend.is_array(src) else src
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"tensor: cannot make a tensor from this data ({e}); nested lists must be rectangular"
        ) from None
    if probe.dtype.kind not in "fiub":
        raise TypeError(f"tensor: data must be numeric, got dtype {probe.dtype}")
    dtype = dtype or _infer_dtype(data, probe)
    if dtype.kind in "iu" and probe.dtype != dtype:
        _check_fits(probe, dtype)  # e.g. 2**63 (which NumPy reads as uint64), or NaN as an integer
    arr = dev.xp.array(probe, dtype=dtype, copy=True)
    if requires_grad and dtype.kind != "f":
        raise TypeError(
            f"only floating point tensors can require gradients, got dtype {dtype}; pass dtype=mg.float32"
        )
    return Tensor._make(arr, dev, bool(requires_grad), None)


def _flat(seq):
    for v in seq:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _untensor(v):
    if isinstance(v, Tensor):
        return backend.to_numpy(v.data)
    if isinstance(v, (list, tuple)):
        return [_untensor(u) for u in v]
    return v


def from_numpy(array) -> Tensor:
    """Wrap a numpy array without copying (they share memory), like torch.from_numpy."""
    if not isinstance(array, backend.cpu.xp.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array, backend.cpu, False, None)


def _new(arr, dev, requires_grad) -> Tensor:
    if requires_grad and arr.dtype.kind != "f":
        raise TypeError(f"only floating point tensors can require gradients, got dtype {arr.dtype}")
    return Tensor._make(arr, dev, bool(requires_grad), None)


def _float_dtype(dtype):
    return backend.as_dtype(dtype) or backend.get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape size (zeros(2, 3) or zeros((2, 3))), like torch.zeros; dtype: the
    default float (float32) unless given."""
    dev = backend.device(device)
    return _new(dev.xp.zeros(_shape_arg(size), dtype=_float_dtype(dtype)), dev, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape size (ones(2, 3) or ones((2, 3))), like torch.ones; dtype: the default
    float (float32) unless given."""
    dev = backend.device(device)
    return _new(dev.xp.ones(_shape_arg(size), dtype=_float_dtype(dtype)), dev, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape size (an int or a tuple) filled with fill_value, like torch.full; without dtype
    it is fill_value's: float32 for a float, int64 for an int, bool for a bool."""
    dev = backend.device(device)
    dtype = backend.as_dtype(dtype) or tensor(fill_value).dtype
    _check_fits(backend.cpu.xp.asarray(fill_value), dtype)
    return _new(dev.xp.full(_shape_arg((size,)), fill_value, dtype=dtype), dev, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Like torch.empty, but the tensor is zero-filled (see `zeros`)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(
    start, stop=None, step=1, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Like torch.arange: int64 when all arguments are integers (Python or NumPy integers, integer
    tensors of one element), else the default float dtype."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = (v.item() if isinstance(v, Tensor) else v for v in (start, stop, step))
    if step == 0:
        raise ValueError("arange: step must not be zero")
    dev = backend.device(device)
    if dtype is None:
        ints = all(_as_int(v) is not None for v in (start, stop, step))
        dtype = backend.int64 if ints else backend.get_default_dtype()
    return _new(dev.xp.arange(start, stop, step, dtype=backend.as_dtype(dtype)), dev, requires_grad)


def linspace(start, stop, num, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """num evenly spaced values from start to stop, both included, shape (num,); like torch.linspace
    (steps=num); dtype: the default float (float32) unless given."""
    _shape_arg((num,))  # a clear error for a negative or non-integer count
    dev = backend.device(device)
    return _new(dev.xp.linspace(start, stop, num, dtype=_float_dtype(dtype)), dev, requires_grad)


def eye(
    n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """An (n, m) matrix (m defaults to n) with ones on the diagonal and zeros elsewhere, like torch.eye;
    dtype: the default float (float32) unless given."""
    n, m = _shape_arg((n, n if m is None else m))
    dev = backend.device(device)
    return _new(dev.xp.eye(n, m, dtype=_float_dtype(dtype)), dev, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of t's shape, like torch.zeros_like: t's dtype and device unless given."""
    dev = backend.device(device) if device is not None else t.device
    return _new(dev.xp.zeros(t.shape, dtype=backend.as_dtype(dtype) or t.dtype), dev, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of t's shape, like torch.ones_like: t's dtype and device unless given."""
    dev = backend.device(device) if device is not None else t.device
    return _new(dev.xp.ones(t.shape, dtype=backend.as_dtype(dtype) or t.dtype), dev, requires_grad)


def full_like(
    t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """A tensor of t's shape filled with fill_value, like torch.full_like: t's dtype and device unless
    given."""
    dev = backend.device(device) if device is not None else t.device
    dtype = backend.as_dtype(dtype) or t.dtype
    _check_fits(backend.cpu.xp.asarray(fill_value), dtype)
    return _new(dev.xp.full(t.shape, fill_value, dtype=dtype), dev, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the device's seeded generator (see mg.manual_seed)."""
    dev = backend.device(device)
    dt = _float_dtype(dtype)
    arr = dev.rng.standard_normal(_shape_arg(size), dtype=backend.float64).astype(dt)
    return _new(arr, dev, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the device's seeded generator."""
    dev = backend.device(device)
    arr = dev.rng.random(_shape_arg(size), dtype=backend.float64).astype(_float_dtype(dtype))
    return _new(arr, dev, requires_grad)


def uniform(
    *size, low: float = 0.0, high: float = 1.0, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [low, high) from the device's seeded generator."""
    if not high >= low:
        raise ValueError(f"uniform: need low <= high, got low={low}, high={high}")
    dev = backend.device(device)
    arr = dev.rng.uniform(low, high, _shape_arg(size)).astype(_float_dtype(dtype))
    return _new(arr, dev, requires_grad)


def randint(low: int, high: int, size, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) from the device's seeded generator."""
    if not low < high:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    dev = backend.device(device)
    size = size if isinstance(size, tuple) else (size,)
    arr = dev.rng.integers(low, high, size=size).astype(backend.as_dtype(dtype) or backend.int64)
    return Tensor._make(arr, dev, False, None)


def randperm(n: int, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1 from the device's seeded generator, like torch.randperm; int64."""
    _shape_arg((n,))
    dev = backend.device(device)
    arr = dev.rng.permutation(n).astype(backend.as_dtype(dtype) or backend.int64)
    return Tensor._make(arr, dev, False, None)
