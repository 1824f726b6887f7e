"""Tests of the backend: only backend.py imports numpy/cupy, device and dtype parsing, seeding."""

import ast
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend

PACKAGE = Path(mg.__file__).parent
ARRAY_MODULES = {"numpy", "cupy"}


def _array_imports(source: str) -> list:
    """(line, statement) of every import of numpy/cupy (or a submodule) in real code, at any depth.

    Parsed rather than grepped, so a docstring that shows `import numpy as np` to users does not count.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name.split(".")[0] in ARRAY_MODULES for name in names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_only_backend_imports_numpy_or_cupy():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "backend.py":
            continue
        for line, statement in _array_imports(path.read_text()):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {statement}")
    assert not offenders, "use tensor.device.xp or minigrad.backend.cpu.xp instead:\n" + "\n".join(
        offenders
    )


def test_the_import_check_catches_every_spelling():
    bad = [
        "import numpy",
        "import numpy as np",
        "from numpy import ndarray",
        "from numpy.linalg import norm",
        "import numpy.random",
        "import os, cupy",
        "from cupy.cuda import Device",
        "def f():\n    import cupy\n    return cupy",
    ]
    for source in bad:
        assert _array_imports(source), source
    fine = [
        "import numbers",
        "from .backend import cpu",
        "import hypothesis.extra.numpy as hnp",
        '"""import numpy"""',
    ]
    for source in fine:
        assert not _array_imports(source), source
    assert _array_imports((PACKAGE / "backend.py").read_text())  # the one allowed place is seen


def test_device_parsing():
    assert mg.device() is backend.cpu
    assert mg.device("cpu") is backend.cpu
    assert mg.device(backend.cpu) is backend.cpu
    assert backend.cpu.xp is np
    assert str(backend.cpu) == "cpu" and backend.cpu == "cpu" and backend.cpu != "cuda:7"
    assert repr(backend.cpu) == "device(type='cpu')"


@pytest.mark.parametrize(
    "spec, error, pattern",
    [
        ("tpu", ValueError, "unknown device 'tpu'"),
        ("cpu:0", ValueError, "unknown device 'cpu:0'"),
        ("CUDA", ValueError, "unknown device"),
        ("cuda:one", ValueError, "expected 'cuda' or 'cuda:N'"),
        (3, TypeError, "device must be a string"),
    ],
)
def test_bad_device_specs(spec, error, pattern):
    with pytest.raises(error, match=pattern):
        mg.device(spec)


@pytest.mark.skipif(
    mg.cuda_is_available(), reason="checks the message shown when CuPy/GPU is missing"
)
def test_cuda_without_cupy_raises_with_install_hint():
    assert mg.cuda_is_available() is False
    with pytest.raises(RuntimeError, match="cuda|CuPy|GPU"):
        mg.device("cuda")
    with pytest.raises(RuntimeError):
        mg.zeros(2, device="cuda:0")


@pytest.mark.skipif(not mg.cuda_is_available(), reason="needs CuPy and a CUDA GPU")
def test_cuda_device_parsing():
    d = mg.device("cuda")
    assert d is mg.device("cuda:0") and d.type == "cuda" and d.index == 0 and str(d) == "cuda:0"
    with pytest.raises(RuntimeError, match="does not exist"):
        mg.device("cuda:99")


def test_dtype_parsing():
    assert backend.as_dtype("float32") == mg.float32 and backend.as_dtype("float") == mg.float32
    assert backend.as_dtype("long") == mg.int64 and backend.as_dtype("bool") == mg.bool_
    assert backend.as_dtype(np.float64) == mg.float64 and backend.as_dtype(None) is None
    with pytest.raises(TypeError, match="unknown dtype 'f8x'"):
        backend.as_dtype("f8x")
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        backend.as_dtype(np.complex128)
    with pytest.raises(TypeError, match="unknown dtype"):
        backend.as_dtype(object())


def test_device_rng_is_seeded_by_manual_seed(device):
    mg.manual_seed(7)
    a = mg.device(device).rng.standard_normal(3)
    mg.manual_seed(7)
    b = mg.device(device).rng.standard_normal(3)
    np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(b))


def test_to_numpy_and_device_of():
    a = np.ones(2)
    assert backend.to_numpy(a) is a
    assert backend.device_of(a) is backend.cpu
    with pytest.raises(TypeError, match="numpy or cupy"):
        backend.device_of([1.0])
