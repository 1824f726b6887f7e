"""Tensor: an array (numpy or cupy), its device, and its place in the graph; plus creation functions.

Tensor holds state and forwards every operation to `ops` and `functional` in one line, so the maths
lives in one place. Methods follow NumPy/PyTorch names.
"""

from __future__ import annotations

from . import backend
from .backend import Device


def _shape_arg(shape) -> tuple:
    # zeros(2, 3) and zeros((2, 3)) both work, like PyTorch and NumPy
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {shape}")
    return tuple(shape)


class Tensor:
    """An N-d array that can record the operations applied to it for reverse-mode differentiation.

    Create tensors with `mg.tensor(data, dtype=None, device=None, requires_grad=False)` or the creation
    functions (`zeros`, `randn`, ...). `.data` is the underlying numpy/cupy array, `.grad` the accumulated
    gradient (a Tensor), and `.grad_fn` the node that produced it (None for leaves).
    """

    __slots__ = (
        "data",
        "device",
        "requires_grad",
        "grad_fn",
        "grad",
        "_vbox",
        "_hooks",
        "__weakref__",
    )
    __array_priority__ = 1000  # make numpy defer to Tensor's reflected operators
    _is_node = False  # as a graph parent, a Tensor is a leaf (see Function._is_node)

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        t = tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        self.data, self.device, self.requires_grad = t.data, t.device, t.requires_grad
        self.grad_fn = self.grad = self._hooks = self._vbox = None

    @staticmethod
    def _make(data, device: Device, requires_grad: bool, grad_fn) -> Tensor:
        t = object.__new__(Tensor)
        t.data = data
        t.device = device
        t.requires_grad = requires_grad
        t.grad_fn = grad_fn
        t.grad = None
        t._vbox = None
        t._hooks = None
        return t

    # ---- version counter: bumped by every in-place update, shared by tensors that share memory -----
    @property
    def _version(self) -> int:
        return 0 if self._vbox is None else self._vbox[0]

    @_version.setter
    def _version(self, value: int) -> None:
        if self._vbox is None:
            self._vbox = [value]
        else:
            self._vbox[0] = value

    def _share_version(self, other: Tensor) -> None:
        """Make this tensor (a view of other's memory) see other's in-place updates, and vice versa."""
        if other._vbox is None:
            other._vbox = [0]
        self._vbox = other._vbox

    # ---- attributes -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    @property
    def mT(self) -> Tensor:
        return F.swapaxes(self, -1, -2)

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __repr__(self) -> str:
        body = str(backend.to_numpy(self.data)).replace("\n", "\n       ")
        extra = f", dtype={self.dtype}"
        if self.device.type != "cpu":
            extra += f", device='{self.device}'"
        if self.grad_fn is not None:
            extra += f", grad_fn={self.grad_fn!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    # ---- conversion -------------------------------------------------------------------------------
    def numpy(self):
        """The data as a numpy array (copied to the host for cuda tensors). Shares memory on the CPU."""
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut out of the graph (requires_grad=False)."""
        t = Tensor._make(self.data, self.device, False, None)
        t._share_version(self)  # in-place edits through the alias are still noticed by backward
        return t

    def clone(self) -> Tensor:
        return ops.mul(self, 1)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(
                f"only floating point tensors can require gradients, this one is {self.dtype}"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_(False) is only allowed on leaves; use detach() instead"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep .grad on a non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:
            autograd._register_retain(self)

    def register_hook(self, fn):
        """Call fn(grad) when this tensor's gradient is computed; if it returns a Tensor, that replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.register_hook(fn)
        else:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(fn)
        return fn

    def backward(self, grad=None, retain_graph=None, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the `.grad` of every leaf that requires grad.

        `grad` is needed when the tensor has more than one element (it is d(something)/d(self)). The graph
        is freed afterwards unless retain_graph=True; create_graph=True records the backward itself.
        """
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def to(self, device=None, dtype=None) -> Tensor:
        """Move to a device and/or cast to a dtype; differentiable, a no-op when nothing changes."""
        out = self
        if dtype is not None:
            out = out.astype(dtype)
        if device is not None:
            dev = backend.device(device)
            if dev is not out.device:
                out = ops.to_device(out, dev)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def astype(self, dtype) -> Tensor:
        return ops.astype(self, dtype)

    def float(self) -> Tensor:
        return ops.astype(self, backend.float32)

    def double(self) -> Tensor:
        return ops.astype(self, backend.float64)

    def long(self) -> Tensor:
        return ops.astype(self, backend.int64)

    def bool(self) -> Tensor:
        return ops.astype(self, backend.bool_)

    # ---- in-place updates (only where they cannot corrupt a recorded graph) ------------------------
    def _check_inplace(self, op: str, value=None) -> None:
        if autograd.is_grad_enabled():
            if self.requires_grad:
                what = (
                    "a leaf that requires grad"
                    if self.grad_fn is None
                    else "a tensor that is part of a graph"
                )
                raise RuntimeError(
                    f"{op}: in-place update of {what} (shape {self.shape}) while recording; use an "
                    "out-of-place op (x = x + y), or wrap parameter updates in `with mg.no_grad():`"
                )
            if isinstance(value, Tensor) and value.requires_grad:
                raise RuntimeError(
                    f"{op}: writing a tensor that requires grad into one that does not would drop its "
                    "gradient; build the result out of place (mg.where, mg.stack, mg.concatenate)"
                )

    def _inplace(self, op: str, fn, other) -> Tensor:
        self._check_inplace(op, other)
        o = other.data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and other.device is not self.device:
            raise RuntimeError(
                f"{op}: tensors on different devices ({self.device} and {other.device})"
            )
        try:
            fn(self.data, o, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as e:
            other_shape = getattr(o, "shape", ())
            raise ValueError(
                f"{op}: cannot update a tensor of shape {self.shape} {self.dtype} in place with "
                f"a value of shape {tuple(other_shape)}: {e}"
            ) from None
        self._version += 1
        return self

    def __iadd__(self, other) -> Tensor:
        return self._inplace("+=", self.device.xp.add, other)

    def __isub__(self, other) -> Tensor:
        return self._inplace("-=", self.device.xp.subtract, other)

    def __imul__(self, other) -> Tensor:
        return self._inplace("*=", self.device.xp.multiply, other)

    def __itruediv__(self, other) -> Tensor:
        return self._inplace("/=", self.device.xp.true_divide, other)

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__", value)
        v = value.data if isinstance(value, Tensor) else value
        try:
            self.data[ops._index_data(index)] = v
        except (ValueError, IndexError, TypeError) as e:
            raise type(e)(f"__setitem__ on a tensor of shape {self.shape}: {e}") from None
        self._version += 1

    def copy_(self, src) -> Tensor:
        """Copy src's values into this tensor in place (shapes must broadcast)."""
        self._check_inplace("copy_", src)
        s = src.data if isinstance(src, Tensor) else src
        self.device.xp.copyto(self.data, self.device.xp.asarray(s), casting="same_kind")
        self._version += 1
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        self._check_inplace("fill_")
        self.data.fill(value)
        self._version += 1
        return self

    # ---- operators --------------------------------------------------------------------------------
    def __add__(self, other) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __getitem__(self, index) -> Tensor:
        return ops.getitem(self, index)

    # comparisons and logic: not differentiable, boolean results
    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        return ops.compare("eq", self, other)

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        return ops.compare("ne", self, other)

    def __lt__(self, other) -> Tensor:
        return ops.compare("lt", self, other)

    def __le__(self, other) -> Tensor:
        return ops.compare("le", self, other)

    def __gt__(self, other) -> Tensor:
        return ops.compare("gt", self, other)

    def __ge__(self, other) -> Tensor:
        return ops.compare("ge", self, other)

    def __and__(self, other) -> Tensor:
        return ops.compare("and", self, other)

    def __or__(self, other) -> Tensor:
        return ops.compare("or", self, other)

    def __xor__(self, other) -> Tensor:
        return ops.compare("xor", self, other)

    def __invert__(self) -> Tensor:
        return ops.logical_not(self)

    # ---- elementwise --------------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def pow(self, exponent) -> Tensor:
        return ops.pow(self, exponent)

    def clip(self, min=None, max=None) -> Tensor:
        return F.clip(self, min, max)

    def clamp(self, min=None, max=None) -> Tensor:
        return F.clip(self, min, max)

    def maximum(self, other) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other) -> Tensor:
        return F.minimum(self, other)

    # ---- reductions (axis may be int, tuple or None; `dim`/`keepdim` accepted as PyTorch spells them) --
    def sum(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.sum(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.mean(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.max(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def min(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.min(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def var(
        self, axis=None, keepdims: bool = False, correction: int = 1, *, dim=None, keepdim=None
    ) -> Tensor:
        return F.var(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim, correction)

    def std(
        self, axis=None, keepdims: bool = False, correction: int = 1, *, dim=None, keepdim=None
    ) -> Tensor:
        return F.std(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim, correction)

    def logsumexp(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.logsumexp(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def softmax(self, axis: int = -1, *, dim=None) -> Tensor:
        return F.softmax(self, F._axis(axis, dim))

    def log_softmax(self, axis: int = -1, *, dim=None) -> Tensor:
        return F.log_softmax(self, F._axis(axis, dim))

    def argmax(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.argmax(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def argmin(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.argmin(self, F._axis(axis, dim), keepdims if keepdim is None else keepdim)

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    # ---- shape ------------------------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        return ops.reshape(self, _shape_or_ints(shape))

    def view(self, *shape) -> Tensor:
        return ops.reshape(self, _shape_or_ints(shape))

    def transpose(self, *axes) -> Tensor:
        """NumPy style: transpose() reverses the axes, transpose(axes) permutes; transpose(a, b) swaps two
        axes, as PyTorch does."""
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return F.swapaxes(self, axes[0], axes[1])
        return ops.transpose(self, _shape_or_ints(axes) or None)

    def permute(self, *axes) -> Tensor:
        return ops.transpose(self, _shape_or_ints(axes))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return F.swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None, *, dim=None) -> Tensor:
        return F.squeeze(self, F._axis(axis, dim))

    def unsqueeze(self, axis: int) -> Tensor:
        return F.unsqueeze(self, axis)

    def expand_dims(self, axis: int) -> Tensor:
        return F.unsqueeze(self, axis)

    def broadcast_to(self, *shape) -> Tensor:
        return ops.broadcast_to(self, _shape_or_ints(shape))

    def expand(self, *shape) -> Tensor:
        shape = _shape_or_ints(shape)
        # PyTorch's -1 keeps a size
        offset = len(shape) - self.ndim
        shape = tuple(self.shape[i - offset] if s == -1 else s for i, s in enumerate(shape))
        return ops.broadcast_to(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return F.flatten(self, start_dim, end_dim)

    def split(self, split_size_or_sections, axis: int = 0, *, dim=None) -> list:
        return F.split(self, split_size_or_sections, F._axis(axis, dim))

    def chunk(self, chunks: int, axis: int = 0, *, dim=None) -> list:
        return F.chunk(self, chunks, F._axis(axis, dim))

    def flip(self, axis=None, *, dims=None) -> Tensor:
        return F.flip(self, F._axis(axis, dims))

    def pad(self, pad_width, value: float = 0.0) -> Tensor:
        return ops.pad(self, pad_width, value)

    def take(self, indices, axis=None) -> Tensor:
        return F.take(self, indices, axis)

    def index_select(self, axis: int, index) -> Tensor:
        return F.index_select(self, axis, index)

    def matmul(self, other) -> Tensor:
        return ops.matmul(self, other)

    def masked_fill(self, mask, value) -> Tensor:
        return F.masked_fill(self, mask, value)


def _shape_or_ints(args) -> tuple:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    if len(args) == 1 and args[0] is None:
        return ()
    return tuple(args)


# ---- creation ----------------------------------------------------------------------------------------
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
    dev = backend.device(device)
    return _new(dev.xp.zeros(_shape_arg(size), dtype=_float_dtype(dtype)), dev, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.device(device)
    return _new(dev.xp.ones(_shape_arg(size), dtype=_float_dtype(dtype)), dev, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.device(device)
    if dtype is None:
        dtype = backend.as_dtype(tensor(fill_value).dtype)
    return _new(
        dev.xp.full(_shape_arg((size,)), fill_value, dtype=backend.as_dtype(dtype)),
        dev,
        requires_grad,
    )


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(
    start, stop=None, step=1, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """Like numpy.arange: integers when all arguments are integers, else the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    dev = backend.device(device)
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, stop, step))
        dtype = backend.int64 if ints else backend.get_default_dtype()
    return _new(dev.xp.arange(start, stop, step, dtype=backend.as_dtype(dtype)), dev, requires_grad)


def linspace(start, stop, num, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _shape_arg((num,))  # a clear error for a negative or non-integer count
    dev = backend.device(device)
    return _new(dev.xp.linspace(start, stop, num, dtype=_float_dtype(dtype)), dev, requires_grad)


def eye(
    n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    _shape_arg((n,) if m is None else (n, m))
    dev = backend.device(device)
    return _new(dev.xp.eye(n, m, dtype=_float_dtype(dtype)), dev, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.device(device) if device is not None else t.device
    return _new(dev.xp.zeros(t.shape, dtype=backend.as_dtype(dtype) or t.dtype), dev, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = backend.device(device) if device is not None else t.device
    return _new(dev.xp.ones(t.shape, dtype=backend.as_dtype(dtype) or t.dtype), dev, requires_grad)


def full_like(
    t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    dev = backend.device(device) if device is not None else t.device
    return _new(
        dev.xp.full(t.shape, fill_value, dtype=backend.as_dtype(dtype) or t.dtype),
        dev,
        requires_grad,
    )


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
    _shape_arg((n,))
    dev = backend.device(device)
    arr = dev.rng.permutation(n).astype(backend.as_dtype(dtype) or backend.int64)
    return Tensor._make(arr, dev, False, None)


from . import autograd, ops  # noqa: E402  (the methods above forward to these modules)
from . import functional as F  # noqa: E402
