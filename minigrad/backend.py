"""Devices and array backends: the one module that imports numpy (and, lazily, cupy).

A `Device` carries `.xp` (the array namespace: numpy or cupy) and a seeded random generator. Everything
else in minigrad reaches arrays through a tensor's device, so the same code runs on the CPU and the GPU.
At the end: the recycler of large CPU arrays (`empty_cache`, `set_cache_limit`, `cache_info`).
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_DTYPES = {
    "float16": float16, "half": float16,
    "float32": float32, "float": float32,
    "float64": float64, "double": float64,
    "int32": int32, "int": int32, "int64": int64, "long": int64,
    "uint8": uint8, "bool": bool_,
}  # fmt: skip

_default_dtype = float32


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype that Python floats and random/creation functions use (float32 or float64)."""
    global _default_dtype
    d = as_dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_dtype = d


def as_dtype(dtype):
    """Turn a dtype spec ('float32', np.float64, mg.int64, ...) into a numpy dtype, or raise TypeError."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise TypeError(f"unknown dtype '{dtype}'; use one of {sorted(_DTYPES)}")
        return _DTYPES[dtype]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"unknown dtype {dtype!r}; use e.g. mg.float32, mg.float64, mg.int64"
        ) from None
    if d.kind not in "fiub":
        raise TypeError(f"unsupported dtype {d}; minigrad handles float, int, uint and bool data")
    return d


class Device:
    """A place where arrays live. `xp` is its array module; `rng` its random generator."""

    def __init__(self, type: str, index: int | None, xp, rng_factory):
        self.type = type
        self.index = index
        self.xp = xp
        self._rng_factory = rng_factory
        self.rng = rng_factory(None)
        self.array_type = xp.ndarray

    def manual_seed(self, seed: int) -> None:
        self.rng = self._rng_factory(seed)

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')"
            if self.index is None
            else f"device(type='{self.type}', index={self.index})"
        )

    def __str__(self) -> str:
        return (
            self.type if self.index is None or self.type == "cpu" else f"{self.type}:{self.index}"
        )

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, RuntimeError):
                return False
        return self is other

    def __hash__(self) -> int:
        return hash(str(self))

    def __deepcopy__(self, memo) -> Device:
        return self  # devices are singletons compared with `is`; copy.deepcopy(tensor) keeps its device

    def __reduce__(self):
        return device, (str(self),)  # pickled by name (e.g. to another process): the same singleton back


cpu = Device("cpu", None, np, np.random.default_rng)
_cuda_devices: dict[int, Device] = {}


def _import_cupy():
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "the 'cuda' device needs CuPy, which is not installed; "
            "install it with `pip install minigrad[cuda12]` (cupy-cuda12x) on a machine with an NVIDIA GPU"
        ) from None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise RuntimeError(f"CuPy is installed but no CUDA GPU is usable: {e}") from None
    if n == 0:
        raise RuntimeError("CuPy is installed but no CUDA GPU was found")
    return cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and at least one GPU is visible."""
    try:
        _import_cupy()
        return True
    except RuntimeError:
        return False


def _cuda(index: int) -> Device:
    if index not in _cuda_devices:
        cupy = _import_cupy()
        if index >= cupy.cuda.runtime.getDeviceCount():
            raise RuntimeError(
                f"cuda:{index} does not exist; this machine has {cupy.cuda.runtime.getDeviceCount()} GPU(s)"
            )

        def rng_factory(seed, _i=index):
            with cupy.cuda.Device(_i):
                return cupy.random.default_rng(seed)

        dev = Device("cuda", index, cupy, rng_factory)
        if _seed is not None:  # a device first used after manual_seed is seeded too
            dev.manual_seed(_seed)
        _cuda_devices[index] = dev
    return _cuda_devices[index]


def device(spec=None) -> Device:
    """Resolve a device spec: None or 'cpu' -> cpu; 'cuda' or 'cuda:N' -> a CuPy device; a Device as is."""
    if spec is None:
        return cpu
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(
            f"device must be a string like 'cpu' or 'cuda:0' or a Device, got {type(spec).__name__}"
        )
    name, _, idx = spec.partition(":")
    if name == "cpu" and not idx:
        return cpu
    if name == "cuda":
        if idx and not idx.isdigit():
            raise ValueError(f"bad device string '{spec}'; expected 'cuda' or 'cuda:N'")
        return _cuda(int(idx) if idx else 0)
    raise ValueError(f"unknown device '{spec}'; use 'cpu', 'cuda' or 'cuda:N'")


def device_of(array) -> Device:
    """The device an array lives on (numpy -> cpu)."""
    if isinstance(array, np.ndarray):
        return cpu
    dev = getattr(array, "device", None)
    if dev is not None and hasattr(dev, "id"):
        return _cuda(dev.id)
    raise TypeError(f"expected a numpy or cupy array, got {type(array).__name__}")


def to_numpy(array):
    """Copy an array to host memory as a numpy array (no copy for numpy input)."""
    if isinstance(array, np.ndarray):
        return array
    return array.get()


def is_array(obj) -> bool:
    if isinstance(obj, np.ndarray):
        return True
    return type(obj).__module__.startswith("cupy") and hasattr(obj, "shape")


def is_scalar(obj) -> bool:
    return isinstance(obj, (int, float, bool, np.generic))


def manual_seed(seed: int) -> None:
    """Seed the random generators of every device (created GPU devices too), for reproducible runs."""
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _seed = int(seed)
    cpu.manual_seed(_seed)
    for dev in _cuda_devices.values():
        dev.manual_seed(_seed)


_seed = None


def broadcast_shapes(*shapes):
    return np.broadcast_shapes(*shapes)


# ---- recycled CPU arrays ------------------------------------------------------------------------------
# NOTE: a training step allocates the same large arrays every time, and the C allocator hands a step's
# memory back to the OS when the step frees it, so the next step touches fresh pages: one page fault per
# 4 KiB. Measured on a virtual machine: ~5,000 faults per step of bench/lstm_lm.py, 10-20% of its time.
# CuPy keeps a memory pool on the GPU; this is the same idea for NumPy: an op writes a large float result
# into an array recycled from an earlier step (and a fault-free step is what the recycler buys).
_CACHE_MIN = 4096  # elements: smaller arrays are cheap to allocate, and a lookup would cost more
_SEARCH = 1024  # a free array is looked for among at most this many entries (a miss costs that)
_EVICT_EVERY = 256  # at the limit, free arrays are dropped once per this many misses (O(held))


def _refs_when_free() -> int | None:
    """What sys.getrefcount(arrays[i]) reads for an array that only a list holds (interpreters differ),
    or None where reference counts cannot tell (a build without the GIL, PyPy): recycling is then off."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)() or not hasattr(sys, "getrefcount"):
        return None
    arrays = [np.empty(1)]
    return sys.getrefcount(arrays[0])


class _Recycler:
    """Arrays by (shape, dtype). One is handed out again only when the recycler's own reference is the
    last one (sys.getrefcount): an array still held by a tensor, a saved activation, a view or a caller
    of .numpy() is never overwritten, so recycling is invisible except in speed and held memory."""

    def __init__(self, limit: int):
        self.free_refs = _refs_when_free()
        self.limit = limit
        self.held = 0  # bytes
        self.misses = 0  # at the limit, since the last eviction
        self.arrays: dict = {}  # (shape, dtype) -> [list of arrays, where the next search starts]
        self.lock = threading.Lock()

    def get(self, shape, dtype):
        if self.free_refs is None or dtype.kind != "f":
            return None
        key = (shape, dtype)
        getrefcount, free = sys.getrefcount, self.free_refs
        with self.lock:
            entry = self.arrays.get(key)
            if entry is None:
                entry = self.arrays[key] = [[], 0]
            arrays, start = entry
            n = len(arrays)
            # NOTE: the search starts after the last array handed out: in a step's steady state that
            # one is free. An array is added only when none is free (within _SEARCH entries), so the
            # list does not outgrow the most arrays in use at once.
            for k in range(min(n, _SEARCH)):
                i = (start + k) % n
                if getrefcount(arrays[i]) == free:
                    entry[1] = i + 1
                    return arrays[i]
            nbytes = dtype.itemsize * math.prod(shape)
            if self.held + nbytes > self.limit:
                self.misses += 1
                if self.misses < _EVICT_EVERY:
                    return None  # (the caller allocates as usual)
                self.evict()  # the step's shapes changed, or it outgrew the limit
                if self.held + nbytes > self.limit:
                    return None
                entry = self.arrays.setdefault(key, [[], 0])
            out = np.empty(shape, dtype)
            entry[0].append(out)
            self.held += nbytes
            return out

    def evict(self) -> None:
        """Drop every free array (the lock is held)."""
        self.misses = 0
        if self.free_refs is None:
            return  # (nothing was ever kept)
        getrefcount, free = sys.getrefcount, self.free_refs
        for key, entry in list(self.arrays.items()):
            arrays = entry[0]
            keep = [arrays[i] for i in range(len(arrays)) if getrefcount(arrays[i]) != free]
            self.held -= sum(a.nbytes for a in arrays) - sum(a.nbytes for a in keep)
            if keep:
                entry[0], entry[1] = keep, 0
            else:
                del self.arrays[key]


_recycler = _Recycler(limit=256 * 2**20)


def empty_cache() -> None:
    """Let go of the recycled CPU arrays that nothing uses (like torch.cuda.empty_cache): their memory
    returns to the C allocator."""
    with _recycler.lock:
        _recycler.evict()


def set_cache_limit(nbytes: int) -> None:
    """Recycle at most `nbytes` of CPU arrays (default 256 MiB); 0 turns recycling off."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"set_cache_limit expects a non-negative number of bytes, got {nbytes!r}")
    with _recycler.lock:
        _recycler.limit = nbytes
        _recycler.evict()


def cache_info() -> dict:
    """What the recycler holds: {'arrays': count, 'bytes': total, 'limit': bytes}."""
    with _recycler.lock:
        n = sum(len(entry[0]) for entry in _recycler.arrays.values())
        return {"arrays": n, "bytes": _recycler.held, "limit": _recycler.limit}


def recycled(shape, dtype):
    """An uninitialised NumPy float array that nothing references any more (or a new one the recycler
    keeps for later), or None: recycling off, not a float dtype, or the limit reached."""
    return _recycler.get(shape, dtype)


def out_like(x, y=None):
    """A recycled array shaped and typed like x for an elementwise result, or None (the op allocates as
    usual) for small, non-NumPy or mismatched operands. Used as ``xp.multiply(x, y, out=out_like(x, y))``."""
    if (
        x.size < _CACHE_MIN
        or x.__class__ is not np.ndarray
        or (
            y is not None
            and (y.__class__ is not np.ndarray or y.shape != x.shape or y.dtype != x.dtype)
        )
    ):
        return None
    return _recycler.get(x.shape, x.dtype)


def out_matmul(x, y):
    """Like out_like, for the (n, m) result of 2-D x (n, k) @ y (k, m)."""
    if (
        x.__class__ is not np.ndarray
        or y.__class__ is not np.ndarray
        or x.ndim != 2
        or y.ndim != 2
        or x.shape[0] * y.shape[1] < _CACHE_MIN
        or x.dtype != y.dtype
    ):
        return None
    return _recycler.get((x.shape[0], y.shape[1]), x.dtype)


def out_concat(arrays):
    """Like out_like, for the concatenation of equally typed NumPy arrays along axis 0."""
    a = arrays[0]
    if a.__class__ is not np.ndarray or a.size * len(arrays) < _CACHE_MIN:
        return None
    for b in arrays:
        if b.__class__ is not np.ndarray or b.dtype != a.dtype or b.shape[1:] != a.shape[1:]:
            return None
    return _recycler.get((sum(b.shape[0] for b in arrays),) + a.shape[1:], a.dtype)


def zeros(xp, shape, dtype):
    """xp.zeros(shape, dtype), in a recycled array when it is a large NumPy float array."""
    out = _recycler.get(shape, dtype) if xp is np and math.prod(shape) >= _CACHE_MIN else None
    if out is None:
        return xp.zeros(shape, dtype=dtype)
    out.fill(0)
    return out
