"""Devices and array backends: the one module that imports numpy (and, lazily, cupy).

A `Device` carries `.xp` (the array namespace: numpy or cupy) and a seeded random generator. Everything
else in minigrad reaches arrays through a tensor's device, so the same code runs on the CPU and the GPU.
"""

from __future__ import annotations

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
