"""Checkpoint safety from a training run's point of view: a save that fails part-way never costs the
previous checkpoint (it still resumes training exactly), and a pickle under a checkpoint's name is refused
without running anything.

tests/test_serialization.py covers the file format itself; this file covers what a user relies on.
"""

import os
import pickle
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization


def _model_and_optimizer(seed: int = 0):
    mg.manual_seed(seed)
    model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Tanh(), mg.nn.Linear(8, 2))
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    return model, opt


def _train(model, opt, start: int, stop: int) -> None:
    for step in range(start, stop):
        rng = np.random.default_rng(step)  # the data of a step depends on the step only
        x = mg.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        y = mg.tensor(rng.standard_normal((5, 2)).astype(np.float32))
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _checkpoint(model, opt, step: int) -> dict:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}


def _params(model) -> dict:
    return {name: p.numpy().copy() for name, p in model.named_parameters()}


# ---- a save that fails part-way ---------------------------------------------------------------------


def _fail_after(fraction: float, exc: BaseException):
    def write(f, data):
        f.write(data[: int(len(data) * fraction)])
        f.flush()  # the partial bytes really reach the temporary file
        raise exc

    return write


FAILURES = [
    pytest.param(0.0, OSError(28, "No space left on device"), id="nothing-written"),
    pytest.param(0.5, OSError(28, "No space left on device"), id="half-written"),
    pytest.param(0.999, OSError(5, "Input/output error"), id="all-but-the-end"),
    pytest.param(0.3, KeyboardInterrupt(), id="ctrl-c"),
]


@pytest.mark.parametrize("fraction,exc", FAILURES)
def test_interrupted_save_keeps_the_previous_checkpoint_resumable(
    tmp_path, monkeypatch, fraction, exc
):
    path = tmp_path / "run.safetensors"
    model, opt = _model_and_optimizer()
    _train(model, opt, 0, 5)
    mg.save(_checkpoint(model, opt, 5), path)
    saved_bytes = path.read_bytes()

    _train(model, opt, 5, 10)  # the run goes on, then the next save fails part-way
    monkeypatch.setattr(serialization, "_write_bytes", _fail_after(fraction, exc))
    with pytest.raises(type(exc)):
        mg.save(_checkpoint(model, opt, 10), path)
    monkeypatch.undo()

    assert path.read_bytes() == saved_bytes  # byte-identical
    assert sorted(os.listdir(tmp_path)) == ["run.safetensors"]  # no temporary file left behind

    # the old checkpoint is whole: resuming from it replays steps 5..10 exactly
    ckpt = mg.load(path)
    assert ckpt["step"] == 5
    resumed, resumed_opt = _model_and_optimizer(seed=123)  # different initial weights, overwritten
    resumed.load_state_dict(ckpt["model"])
    resumed_opt.load_state_dict(ckpt["optimizer"])
    _train(resumed, resumed_opt, 5, 10)
    expected = _params(model)
    for name, value in _params(resumed).items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


def test_failed_first_save_leaves_no_file_at_all(tmp_path, monkeypatch):
    model, opt = _model_and_optimizer()
    monkeypatch.setattr(
        serialization, "_write_bytes", _fail_after(0.5, OSError(28, "No space left"))
    )
    with pytest.raises(OSError, match="No space left"):
        mg.save(_checkpoint(model, opt, 0), tmp_path / "run.safetensors")
    assert os.listdir(tmp_path) == []


def test_failed_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.safetensors"
    model, opt = _model_and_optimizer()
    mg.save(_checkpoint(model, opt, 0), path)
    before = path.read_bytes()
    _train(model, opt, 0, 2)

    def replace_fails(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(serialization.os, "replace", replace_fails)
    with pytest.raises(PermissionError):
        mg.save(_checkpoint(model, opt, 2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["run.safetensors"]


def test_a_successful_save_after_a_failed_one_works(tmp_path, monkeypatch):
    path = tmp_path / "run.safetensors"
    model, opt = _model_and_optimizer()
    mg.save(_checkpoint(model, opt, 0), path)
    monkeypatch.setattr(
        serialization, "_write_bytes", _fail_after(0.5, OSError(28, "No space left"))
    )
    with pytest.raises(OSError):
        mg.save(_checkpoint(model, opt, 1), path)
    monkeypatch.undo()
    _train(model, opt, 0, 3)
    mg.save(_checkpoint(model, opt, 3), path)
    ckpt = mg.load(path)
    assert ckpt["step"] == 3
    for name, value in _params(model).items():
        np.testing.assert_array_equal(ckpt["model"][name].numpy(), value)


# ---- pickles under a checkpoint's name ----------------------------------------------------------------


class _Payload:
    """Unpickling this creates the marker folder: proof that the pickle ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _pickle_bytes(marker, protocol):
    model, _ = _model_and_optimizer()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["payload"] = _Payload(marker)
    return pickle.dumps(state, protocol=protocol)


def _zip_pickle_bytes(marker, protocol):
    """A torch.save-style file: a zip archive holding data.pkl (made without torch)."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "archive/data.pkl", pickle.dumps({"payload": _Payload(marker)}, protocol=protocol)
        )
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def _npy_pickle_bytes(marker, protocol):
    """np.save of an object array: a .npy header followed by a pickle."""
    import io

    buf = io.BytesIO()
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


PAYLOADS = [
    pytest.param(_pickle_bytes, 0, id="pickle-protocol-0"),
    pytest.param(_pickle_bytes, 2, id="pickle-protocol-2"),
    pytest.param(_pickle_bytes, pickle.HIGHEST_PROTOCOL, id="pickle-highest"),
    pytest.param(_zip_pickle_bytes, 2, id="torch-style-zip"),
    pytest.param(_npy_pickle_bytes, None, id="npy-object-array"),
]
NAMES = ["model.safetensors", "checkpoint.pt", "weights.bin", "last"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("make,protocol", PAYLOADS)
def test_pickle_under_a_checkpoint_name_is_rejected_unexecuted(
    tmp_path, monkeypatch, make, protocol, name
):
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_bytes(make(str(marker), protocol))
    before = path.read_bytes()

    unpickled = []

    def spy(*args, **kwargs):
        unpickled.append(args)
        raise AssertionError("mg.load must never unpickle")

    monkeypatch.setattr(pickle, "load", spy)
    monkeypatch.setattr(pickle, "loads", spy)
    monkeypatch.setattr(pickle, "Unpickler", spy)
    with pytest.raises(ValueError, match=r"not a valid safetensors checkpoint.*never unpickles"):
        mg.load(path)
    monkeypatch.undo()

    assert not marker.exists()
    assert unpickled == []
    assert path.read_bytes() == before  # loading never writes
    assert sorted(os.listdir(tmp_path)) == [name]


def test_payload_really_runs_when_unpickled(tmp_path):
    # the check above would prove nothing if the payload were harmless
    marker = tmp_path / "pwned"
    pickle.loads(_pickle_bytes(str(marker), 2))
    assert marker.is_dir()


def test_real_torch_save_file_is_rejected_unexecuted(tmp_path):
    # without PyTorch the torch-style zip payloads above cover the same ground
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    torch.save({"weight": torch.ones(2, 2), "payload": _Payload(str(marker))}, path)
    with pytest.raises(ValueError, match="not a valid safetensors checkpoint"):
        mg.load(path)
    assert not marker.exists()


def test_rejected_file_leaves_the_model_untouched(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(_pickle_bytes(str(marker), 2))
    model, _ = _model_and_optimizer()
    before = _params(model)
    with pytest.raises(ValueError):
        model.load_state_dict(mg.load(path))
    for name, value in _params(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert not marker.exists()
