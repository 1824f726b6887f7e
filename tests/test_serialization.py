"""Checkpoints: mg.save / mg.load round trips, atomic writes, corrupt files, pickles, PyTorch interop."""

import json
import math
import os
import pickle

import stat

import numpy as np
import pytest
from safetensors.numpy import load_file as np_load_file
from safetensors.numpy import save as np_save
from safetensors.numpy import save_file as np_save_file

import minigrad as mg
from minigrad import serialization

try:
    import torch
    from safetensors.torch import load_file as torch_load_file
    from safetensors.torch import save_file as torch_save_file
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "i64": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "strided": np.arange(12.0).reshape(3, 4).T[::2],  # not C-contiguous
    }


def _checkpoint():
    w = mg.tensor(_arrays()["f32"], requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.01, amsgrad=True)
    w.grad = mg.ones(3, 4)
    opt.step()
    meta = {
        "name": "run-1",
        "lr": 0.1,
        "flag": True,
        "off": False,
        "count": 7,
        "none": None,
        "tags": ["a", "b"],
        "mixed": [1, 2.5, None, True, "x"],
        "pair": (3, 4),
        "nan": math.nan,
        "inf": -math.inf,
        "big": 2**62,
        "int_keys": {0: "zero", "0": "string zero", 7: [1, {"deep": 1.5}]},
    }
    return {
        "model": {"fc.weight": w.detach(), "fc.bias": mg.zeros(4, dtype=mg.float64)},
        "optimizer": opt.state_dict(),
        "arrays": _arrays(),
        "step": 10,
        "meta": meta,
    }


def _assert_same(got, want, path="<top>"):
    if isinstance(want, (mg.Tensor, np.ndarray)):
        want_arr = want.numpy() if isinstance(want, mg.Tensor) else want
        assert isinstance(got, mg.Tensor), path
        assert got.dtype == want_arr.dtype and got.shape == want_arr.shape, path
        np.testing.assert_array_equal(got.numpy(), want_arr, err_msg=path)
        assert not got.requires_grad
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want), path  # same keys, key types and order
        for key in want:
            _assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want)):
            _assert_same(a, b, f"{path}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), path
    else:
        assert type(got) is type(want) and got == want, path


def test_round_trip_nested_checkpoint(tmp_path):
    ckpt = _checkpoint()
    path = tmp_path / "ckpt.safetensors"
    assert mg.save(ckpt, path) is None
    loaded = mg.load(path)
    _assert_same(loaded, ckpt)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(loaded["optimizer"]["state"]) == [0]  # int keys stay ints
    # the loaded arrays are independent and writable
    loaded["model"]["fc.bias"].data[0] = 5.0
    assert ckpt["model"]["fc.bias"].numpy()[0] == 0.0


def test_tensors_are_stored_under_dotted_names(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mg.save(_checkpoint(), path)
    names = set(np_load_file(str(path)))
    assert {
        "model.fc.weight",
        "optimizer.state.0.exp_avg",
        "optimizer.state.0.max_exp_avg_sq",
        "arrays.i64",
    } <= names
    assert not any(name.startswith("meta") or name == "step" for name in names)


def test_load_on_device(tmp_path, device):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(2, 3), "a": np.arange(3)}, path)
    loaded = mg.load(path, device=device)
    assert loaded["w"].device == mg.device(device) and loaded["a"].device == mg.device(device)
    assert loaded["a"].dtype == np.int64 and loaded["a"].tolist() == [0, 1, 2]


def test_save_from_device(tmp_path, device):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.full((2,), 3.0, device=device)}, path)
    assert mg.load(path)["w"].tolist() == [3.0, 3.0]


def test_module_and_optimizer_round_trip(tmp_path):
    mg.manual_seed(0)
    model = mg.nn.Linear(4, 3)
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = mg.randn(8, 4)
    model(x).sum().backward()
    opt.step()
    mg.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
        tmp_path / "c.safetensors",
    )

    ckpt = mg.load(tmp_path / "c.safetensors")
    model2 = mg.nn.Linear(4, 3)
    opt2 = mg.optim.SGD(model2.parameters(), lr=0.5, momentum=0.9)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 3 and opt2.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(model2(x).numpy(), model(x).numpy())


# ---- atomic writes ----------------------------------------------------------------------------------------
def _dir_listing(folder):
    return sorted(os.listdir(folder))


def test_failed_write_leaves_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(1000), "step": 1}, path)
    before = path.read_bytes()

    def write_half_then_fail(f, data):
        f.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_bytes", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        mg.save({"w": mg.zeros(1000), "step": 2}, path)
    assert path.read_bytes() == before
    assert _dir_listing(tmp_path) == ["ckpt.safetensors"]
    assert mg.load(path)["step"] == 1


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failure_in_fsync_or_rename_leaves_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(10)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(5, f"simulated {failing} failure")

    monkeypatch.setattr(serialization.os, failing, fail)
    with pytest.raises(OSError, match="simulated"):
        mg.save({"w": mg.zeros(10)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _dir_listing(tmp_path) == ["ckpt.safetensors"]


def test_interrupt_during_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(10)}, path)
    before = path.read_bytes()

    def interrupted(f, data):
        f.write(data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"w": mg.zeros(10)}, path)
    assert path.read_bytes() == before and _dir_listing(tmp_path) == ["ckpt.safetensors"]


def test_save_of_unsupported_object_writes_nothing(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot store a set at 'meta.tags'"):
        mg.save({"w": mg.zeros(3), "meta": {"tags": {"a"}}}, path)
    assert path.read_bytes() == before and _dir_listing(tmp_path) == ["ckpt.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_overwrite_keeps_file_mode_and_new_files_are_readable(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(3)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o644
    os.chmod(path, 0o600)
    mg.save({"w": mg.zeros(3)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "obj, exc, match",
    [
        ([mg.ones(2)], TypeError, "expected a dict"),
        ({"w": object()}, TypeError, "cannot store a object at 'w'"),
        ({(1, 2): mg.ones(2)}, TypeError, "keys must be str or int"),
        ({"a.b": mg.ones(2), "a": {"b": mg.zeros(2)}}, ValueError, "'a.b'"),
    ],
)
def test_save_rejects_bad_objects(tmp_path, obj, exc, match):
    with pytest.raises(exc, match=match):
        mg.save(obj, tmp_path / "x.safetensors")
    assert _dir_listing(tmp_path) == []


# ---- bad files ---------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        mg.load(path)


def _valid_bytes(tmp_path):
    path = tmp_path / "good.safetensors"
    mg.save({"w": mg.ones(100), "step": 1}, path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) - 7],  # truncated data
        lambda b: b[:20],  # truncated header
        lambda b: b"",  # empty
        lambda b: b"\x00" * 3,
        lambda b: (2**60).to_bytes(8, "little") + b[8:],  # absurd header size
        lambda b: b[:9] + b"#" + b[10:],  # broken header JSON
        lambda b: b"hello, world: this is not a checkpoint at all",
        lambda b: b"PK\x03\x04" + b[4:],  # zip magic (torch.save files are zips)
    ],
)
def test_corrupt_files_raise_value_error(tmp_path, damage):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(damage(_valid_bytes(tmp_path)))
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        mg.load(path)


def test_damaged_minigrad_metadata_raises_value_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    for meta in ["not json", '{"version": 1}', '{"version": 1, "tree": {"t": "missing"}}']:
        path.write_bytes(np_save({"w": np.ones(2)}, metadata={"minigrad": meta}))
        with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
            mg.load(path)


class _Payload:
    """Unpickling this creates a marker file: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_pickle_payload_is_rejected_without_being_executed(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(pickle.dumps({"w": _Payload(str(marker))}, protocol=protocol))
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        mg.load(path)
    assert not marker.exists()
    # sanity check of the test itself: unpickling really would create the marker
    with open(path, "rb") as f:
        pickle.load(f)["w"].close()
    assert marker.exists()


@needs_torch
def test_torch_save_file_is_rejected_without_being_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.ones(2), "payload": _Payload(str(marker))}, path)
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        mg.load(path)
    assert not marker.exists()


# ---- files from and for other libraries --------------------------------------------------------------
def test_plain_safetensors_file_loads_as_flat_dict(tmp_path):
    path = tmp_path / "plain.safetensors"
    arrays = {"weight": np.ones((3, 4), dtype=np.float32), "bias": np.arange(3, dtype=np.float32)}
    np_save_file(arrays, str(path))
    loaded = mg.load(path)
    _assert_same(dict(sorted(loaded.items())), dict(sorted(arrays.items())))
    model = mg.nn.Linear(4, 3)
    model.load_state_dict(loaded)
    np.testing.assert_array_equal(model.weight.numpy(), arrays["weight"])


def test_minigrad_file_is_a_plain_safetensors_file(tmp_path):
    path = tmp_path / "model.safetensors"
    model = mg.nn.Linear(4, 3)
    mg.save(model.state_dict(), path)
    loaded = np_load_file(str(path))
    assert set(loaded) == {"weight", "bias"}
    np.testing.assert_array_equal(loaded["weight"], model.weight.numpy())


@needs_torch
def test_torch_written_state_dict_loads_into_minigrad_module(tmp_path):
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    path = tmp_path / "torch.safetensors"
    torch_save_file(tmodel.state_dict(), str(path))
    model = mg.nn.Sequential(mg.nn.Linear(5, 4), mg.nn.Tanh(), mg.nn.Linear(4, 2))
    model.load_state_dict(mg.load(path))
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_allclose(
        model(mg.tensor(x)).numpy(), tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


@needs_torch
def test_minigrad_written_state_dict_loads_into_torch_module(tmp_path):
    mg.manual_seed(0)
    model = mg.nn.Sequential(mg.nn.Linear(5, 4), mg.nn.Tanh(), mg.nn.Linear(4, 2))
    path = tmp_path / "minigrad.safetensors"
    mg.save(model.state_dict(), path)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tmodel.load_state_dict(torch_load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_allclose(
        model(mg.tensor(x)).numpy(), tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_dtype_numpy_cannot_hold_gets_a_clear_error(tmp_path):
    # a well-formed safetensors file (8-byte header length, JSON header, data) holding a bfloat16 tensor
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\x80\x3f\x80\x3f")
    with pytest.raises(ValueError, match="'w' of dtype BF16"):
        mg.load(path)
    if torch is not None:
        torch_save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(path))
        with pytest.raises(ValueError, match="'w' of dtype BF16"):
            mg.load(path)


# ---- audited (2026-12-07): each failed before its fix -------------------------------------------------


def test_save_refuses_what_load_could_not_read_and_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "c.safetensors"
    mg.save({"keep": mg.ones(2)}, path)
    with pytest.raises(TypeError, match=r"cannot store 'x' of dtype complex64"):
        mg.save({"x": np.ones(2, np.complex64)}, path)  # safetensors would write it; load could not
    with pytest.raises(TypeError, match=r"cannot store 'y' of dtype <U1"):
        mg.save({"y": np.array(["a"])}, path)
    np.testing.assert_array_equal(mg.load(path)["keep"].numpy(), [1.0, 1.0])


def test_a_new_checkpoint_follows_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        mg.save({"x": mg.ones(1)}, tmp_path / "private.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "private.safetensors").st_mode) == 0o600


def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    real, link = tmp_path / "ckpt_1.safetensors", tmp_path / "latest.safetensors"
    mg.save({"x": mg.zeros(1)}, real)
    os.symlink(real.name, link)
    mg.save({"x": mg.ones(1)}, link)
    assert os.path.islink(link)
    np.testing.assert_array_equal(mg.load(real)["x"].numpy(), [1.0])


def test_bytes_paths_save_and_load(tmp_path):
    path = os.fsencode(tmp_path / "b.safetensors")
    mg.save({"x": mg.ones(1)}, path)
    np.testing.assert_array_equal(mg.load(path)["x"].numpy(), [1.0])


def test_an_unknown_format_version_is_refused(tmp_path):
    meta = json.dumps({"version": 99, "tree": {"d": [["x", {"t": "x"}]]}})
    np_save_file({"x": np.ones(1, np.float32)}, str(tmp_path / "v.safetensors"), metadata={"minigrad": meta})
    with pytest.raises(ValueError, match="format version 99"):
        mg.load(tmp_path / "v.safetensors")


def test_nesting_too_deep_is_a_value_error(tmp_path):
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ValueError, match="nested too deeply"):
        mg.save(deep, tmp_path / "deep.safetensors")
