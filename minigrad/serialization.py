"""Checkpoints: `save` and `load` nested dicts of tensors in the safetensors format (never pickle).

Tensors are stored under their dotted path ('model.fc.weight', 'optimizer.state.0.exp_avg'); everything
else (ints, floats, strings, bools, None, lists, the shape of the nesting and the type of each key) goes
into the file's ``__metadata__`` as one JSON string, so `load` rebuilds the exact structure. A flat state
dict is a plain safetensors file that PyTorch's ``safetensors.torch.load_file`` reads as is.
"""

from __future__ import annotations

import json
import os
import secrets
import stat

from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from . import backend
from .tensor import Tensor

_META_KEY = "minigrad"
# safetensors dtypes that NumPy can hold (BF16 and the FP8 types cannot)
_NUMPY_DTYPES = {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}
# the NumPy dtypes those are (what save accepts: anything else could be written but not read back)
_SAVABLE = {
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
    "float16", "float32", "float64",
}  # fmt: skip
_FORMAT_VERSION = 1


def save(obj: dict, path) -> None:
    """Write a state dict, or a nested dict of them with plain metadata, to `path` atomically.

    The file is written to a temporary file in the same folder, flushed and fsynced, then renamed over
    `path`: if anything fails part-way, the previous file at `path` is left untouched and the temporary
    file is removed.

    Parameters
    ----------
    obj : dict
        Keys are str (or int, e.g. optimizer state indices); values are Tensors, numpy/cupy arrays, dicts,
        lists/tuples, or plain values (int, float, str, bool, None).
        Example: ``{'model': model.state_dict(), 'optimizer': opt.state_dict(), 'step': 10}``.
    path : str or os.PathLike
        The checkpoint file (by convention ``*.safetensors``).
    """
    if not isinstance(obj, dict):
        raise TypeError(
            f"save: expected a dict (e.g. model.state_dict()), got {type(obj).__name__}"
        )
    tensors: dict = {}
    try:
        tree = _encode(obj, (), tensors)
        metadata = {_META_KEY: json.dumps({"version": _FORMAT_VERSION, "tree": tree})}
    except RecursionError:
        raise ValueError("save: the dict is nested too deeply to store; flatten it") from None
    data = _st_save(tensors, metadata=metadata)
    _atomic_write(os.fsdecode(os.fspath(path)), data)


def load(path, device=None) -> dict:
    """Read a checkpoint written by `save` (or any safetensors file) back into dicts of Tensors.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    device : str or Device, optional
        Where the returned tensors live (default: cpu).

    Returns
    -------
    dict
        The nested structure given to `save`, arrays and Tensors coming back as Tensors (requires_grad
        False). A safetensors file written elsewhere (e.g. by ``safetensors.torch.save_file``) comes back
        as a flat dict name -> Tensor.

    Raises
    ------
    FileNotFoundError
        When `path` does not exist.
    ValueError
        When the file is not a valid safetensors checkpoint (truncated, corrupt, or another format such
        as a pickle or a torch.save zip). Nothing in the file is ever executed or unpickled.
    """
    path = os.fspath(path)
    dev = backend.device(device)
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"load: no checkpoint file at '{path}'", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"load: '{path}' is a directory, not a checkpoint file", path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        header = _read_header(data)
        unsupported = None
        for name, info in header.items():
            if name != "__metadata__" and info["dtype"] not in _NUMPY_DTYPES:
                unsupported = (name, info["dtype"])
        if unsupported is None:
            arrays = _st_load(data)
    except Exception as e:  # SafetensorError, bad JSON, ...: all mean the same thing to the caller
        raise ValueError(
            f"load: '{path}' is not a valid safetensors checkpoint ({type(e).__name__}: {e}); it may be "
            "truncated or written in another format (minigrad never unpickles files)"
        ) from None
    if unsupported is not None:
        raise ValueError(
            f"load: '{path}' holds tensor '{unsupported[0]}' of dtype {unsupported[1]}, which minigrad "
            "cannot represent (it holds bool, integer and float16/32/64 data); convert it before saving, "
            "e.g. tensor.float() in PyTorch"
        )
    metadata = header.get("__metadata__")

    tensors = {name: _to_tensor(array, dev) for name, array in arrays.items()}
    if metadata is None or _META_KEY not in metadata:
        return tensors  # a plain safetensors file, e.g. written by PyTorch: a flat state dict
    try:
        header = json.loads(metadata[_META_KEY])
        version = header["version"]
        if version != _FORMAT_VERSION:
            raise ValueError(
                f"load: '{path}' uses minigrad checkpoint format version {version!r}; this minigrad reads "
                f"version {_FORMAT_VERSION} (upgrade minigrad to read it)"
            )
        return _decode(header["tree"], tensors)
    except ValueError as e:
        if str(e).startswith("load:"):
            raise
        raise ValueError(
            f"load: '{path}' is not a valid safetensors checkpoint: its minigrad metadata is damaged ({e})"
        ) from None
    except (KeyError, TypeError, IndexError, RecursionError) as e:
        raise ValueError(
            f"load: '{path}' is not a valid safetensors checkpoint: its minigrad metadata is damaged ({e})"
        ) from None


# ---- structure <-> JSON tree ----------------------------------------------------------------------
# A node is {"t": name} (a tensor in the file), {"v": value} (a plain value), {"d": [[key, node], ...]}
# (a dict; JSON keeps int keys apart from str keys), {"l": [node, ...]} (a list) or {"u": [...]} (a tuple).


def _path_str(path: tuple) -> str:
    return ".".join(str(k) for k in path)


def _encode(value, path: tuple, tensors: dict):
    if isinstance(value, Tensor):
        value = value.data
    if backend.is_array(value):
        name = _path_str(path)
        if name in tensors:
            raise ValueError(
                f"save: two tensors would both be stored under the name '{name}'; rename one of the keys "
                "(nested keys are joined with '.')"
            )
        if name == "__metadata__" or name == "":
            raise ValueError(f"save: '{name}' cannot name a tensor; nest it under another key")
        array = backend.to_numpy(value)
        if array.dtype.name not in _SAVABLE:
            raise TypeError(
                f"save: cannot store '{name}' of dtype {array.dtype}: checkpoints hold bool, integer and "
                "float16/32/64 tensors (what load can read back); convert it first, e.g. .astype(...)"
            )
        # NOTE: not ascontiguousarray, which turns 0-d arrays into 1-d ones
        tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"t": name}
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {key!r} ({type(key).__name__}) at "
                    f"'{_path_str(path) or '<top>'}'"
                )
            items.append([key, _encode(item, path + (key,), tensors)])
        return {"d": items}
    if isinstance(value, (list, tuple)):
        nodes = [_encode(item, path + (i,), tensors) for i, item in enumerate(value)]
        return {"u": nodes} if isinstance(value, tuple) else {"l": nodes}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"v": value}
    if isinstance(value, backend.cpu.xp.generic):
        return {"v": value.item()}  # a numpy scalar (np.float32(0.5)) is stored as a plain number
    raise TypeError(
        f"save: cannot store a {type(value).__name__} at '{_path_str(path)}'; checkpoints hold tensors, "
        "arrays, dicts, lists and plain values (int, float, str, bool, None), never pickled objects"
    )


def _decode(node: dict, tensors: dict):
    if "t" in node:
        return tensors[node["t"]]
    if "v" in node:
        return node["v"]
    if "d" in node:
        out = {}
        for key, item in node["d"]:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValueError(f"bad key {key!r}")
            out[key] = _decode(item, tensors)
        return out
    if "l" in node:
        return [_decode(item, tensors) for item in node["l"]]
    if "u" in node:
        return tuple(_decode(item, tensors) for item in node["u"])
    raise ValueError(f"unknown node {sorted(node)}")


def _read_header(data: bytes) -> dict:
    """The JSON header of safetensors bytes: name -> {dtype, shape, data_offsets}, plus __metadata__."""
    if len(data) < 8:
        raise ValueError(f"the file has {len(data)} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(
            f"the header claims {n} bytes but the file holds only {len(data) - 8} after it"
        )
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    return header


def _to_tensor(array, dev) -> Tensor:
    # NOTE: the arrays view the bytes read from the file (read-only): copy them onto the device
    arr = dev.xp.array(array, copy=True)
    return Tensor._make(arr, dev, False, None)


# ---- atomic write -------------------------------------------------------------------------------------
def _write_bytes(f, data: bytes) -> None:
    """Write all of data to the open file f (a separate function so tests can make it fail part-way)."""
    f.write(data)


def _atomic_write(path: str, data: bytes) -> None:
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace what a link (latest -> ckpt_7) points at, not the link
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"save: the folder {folder!r} does not exist; create it first (os.makedirs)"
        )
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # keep an existing checkpoint's permissions
    except FileNotFoundError:
        mode = None  # a new file: 0o666 less the umask, as open() would give
    tmp, fd = _create_temporary(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            _write_bytes(f, data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _create_temporary(folder: str, name: str) -> tuple:
    """A new file beside the checkpoint, created with mode 0o666 so that the umask applies (tempfile's
    own files are owner-only); (its path, an open descriptor)."""
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
