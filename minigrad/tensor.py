"""Tensor: an array (numpy or cupy), its device, and its place in the graph.

Tensor holds state and forwards every operation to `ops` and `functional` in one line, so the maths
lives in one place. Methods follow NumPy/PyTorch names. Creation functions live in `creation.py`.
"""

from __future__ import annotations

from . import backend
from .backend import Device


class _HookHandle:
    """What register_hook returns: `remove()` takes the hook off again (like torch's RemovableHandle)."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


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
        t = creation.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
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
        """A copy with its own memory; gradients flow back to this tensor."""
        if self.dtype.kind != "f":  # nothing to differentiate, and bool * 1 would be an int
            return Tensor._make(self.data.copy(), self.device, False, None)
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

    def register_hook(self, fn) -> _HookHandle:
        """Call fn(grad) when this tensor's gradient is computed; if it returns a Tensor (of the same shape and
        dtype), that replaces it. Returns a handle whose `remove()` unregisters the hook, as in torch."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.register_hook(fn)
            return _HookHandle(self.grad_fn._hooks, fn)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def backward(
        self, grad=None, retain_graph=None, create_graph: bool = False, *, gradient=None
    ) -> None:
        """Accumulate the gradient of this tensor into the `.grad` of every leaf that requires grad.

        `grad` (or torch's keyword `gradient=`) is needed when the tensor has more than one element (it is
        d(something)/d(self)). The graph is freed afterwards unless retain_graph=True; create_graph=True
        records the backward itself.
        """
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward: pass the gradient once, as grad= or gradient=, not both")
            grad = gradient
        autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def to(self, device=None, dtype=None) -> Tensor:
        """Move to a device and/or cast to a dtype; differentiable, a no-op when nothing changes.

        As in torch, the first argument may also be a dtype (`x.to(mg.float64)`) or a tensor whose device
        and dtype to take (`x.to(other)`)."""
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype if dtype is None else dtype
        elif (device is not None and not isinstance(device, (str, Device))) or device in backend._DTYPES:
            if dtype is not None:
                raise TypeError("to: pass the dtype once (to(dtype) or to(device, dtype))")
            device, dtype = None, device
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
        s = self.device.xp.asarray(src.data if isinstance(src, Tensor) else src)
        try:
            fits = backend.broadcast_shapes(s.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"copy_: the source of shape {s.shape} does not broadcast to this tensor's shape {self.shape}"
            )
        # as in torch, values are cast to this tensor's dtype (1.5 -> 1 in an integer tensor)
        self.device.xp.copyto(self.data, s, casting="unsafe")
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

    # comparisons (boolean results) and bitwise & | ^ ~ (integers and bools, as in torch): not differentiable
    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        if other is None:
            return False  # as in torch: `t == None` is a plain False, not an elementwise comparison
        return ops.compare("eq", self, other)

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        if other is None:
            return True
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
        return ops.bitwise_and(self, other)

    def __or__(self, other) -> Tensor:
        return ops.bitwise_or(self, other)

    def __xor__(self, other) -> Tensor:
        return ops.bitwise_xor(self, other)

    def __invert__(self) -> Tensor:
        return ops.bitwise_not(self)

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
        return ops.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(
        self,
        axis=None,
        keepdims: bool = False,
        correction: int = 1,
        *,
        dim=None,
        keepdim=None,
        unbiased=None,
    ) -> Tensor:
        return F.var(
            self, axis, keepdims, correction, dim=dim, keepdim=keepdim, unbiased=unbiased
        )

    def std(
        self,
        axis=None,
        keepdims: bool = False,
        correction: int = 1,
        *,
        dim=None,
        keepdim=None,
        unbiased=None,
    ) -> Tensor:
        return F.std(
            self, axis, keepdims, correction, dim=dim, keepdim=keepdim, unbiased=unbiased
        )

    def logsumexp(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return F.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def softmax(self, axis: int = -1, *, dim=None) -> Tensor:
        return F.softmax(self, F._axis(axis, dim))

    def log_softmax(self, axis: int = -1, *, dim=None) -> Tensor:
        return F.log_softmax(self, F._axis(axis, dim))

    def argmax(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
        return ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

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
        # PyTorch's -1 keeps a size (only of an existing axis: a new leading axis needs its size)
        offset = len(shape) - self.ndim
        if any(s == -1 for s in shape[: max(offset, 0)]):
            raise ValueError(
                f"expand: -1 is not allowed for the new leading axes of {tuple(shape)} (the tensor has "
                f"shape {self.shape}); give their sizes"
            )
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


from . import autograd, creation, ops  # noqa: E402  (the methods above forward to these modules)
from . import functional as F  # noqa: E402
