"""One table of bad inputs across the public API: each row must raise the right exception type, with a
message that names the problem, and must leave everything as it was (parameters, gradients, version
counters, optimizer state and groups, scheduler, the random generator, files on disk).

Every row gets a fresh `World`: a small trained setup (Linear, 2-layer LSTM, Embedding, Adam with state,
a StepLR, a checkpoint on disk). The snapshot is taken after the row's optional `prepare` step.
"""

import copy
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend

Opt = mg.optim
NF = mg.nn.functional


class World:
    """Everything a bad input could damage."""

    def __init__(self, tmp_path):
        mg.manual_seed(0)
        self.x = mg.randn(4, 3, requires_grad=True)
        self.lin = mg.nn.Linear(3, 2)
        self.lstm = mg.nn.LSTM(3, 5, num_layers=2)
        self.emb = mg.nn.Embedding(10, 3)
        self.modules = {"lin": self.lin, "lstm": self.lstm, "emb": self.emb}
        self.params = [p for m in self.modules.values() for p in m.parameters()]
        self.seq = mg.randn(6, 2, 3)  # (L, N, H_in)
        self.h0 = mg.zeros(2, 2, 5)  # (num_layers, N, H)
        self.opt = Opt.Adam(self.params, lr=1e-2)
        out, _ = self.lstm(self.seq)
        loss = out.sum() + self.lin(self.x).sum() + self.emb(mg.tensor([1, 2])).sum()
        loss.backward()
        self.opt.step()  # the optimizer now has state worth protecting; the gradients stay in place
        self.sched = Opt.lr_scheduler.StepLR(self.opt, step_size=2)
        self.plain_opt = Opt.SGD(self.lin.parameters(), lr=0.1)  # no scheduler attached yet
        self.dir = tmp_path
        self.ckpt = tmp_path / "ckpt.safetensors"
        mg.save(
            {"model": self.lin.state_dict(), "optimizer": self.opt.state_dict(), "step": 1},
            self.ckpt,
        )
        (tmp_path / "truncated.safetensors").write_bytes(self.ckpt.read_bytes()[:40])

    def snapshot(self) -> dict:
        tensors = {"x": self.x}
        for mname, m in self.modules.items():
            for pname, p in m.named_parameters():
                tensors[f"{mname}.{pname}"] = p
        return {
            "data": {k: t.numpy().tobytes() for k, t in tensors.items()},
            "grads": {
                k: None if t.grad is None else t.grad.numpy().tobytes() for k, t in tensors.items()
            },
            "versions": {k: t._version for k, t in tensors.items()},
            "opt": _plain(self.opt.state_dict()),
            "plain_opt": _plain(self.plain_opt.state_dict()),
            "sched": _plain(self.sched.state_dict()),
            "training": {k: [s.training for s in m.modules()] for k, m in self.modules.items()},
            "rng": copy.deepcopy(backend.cpu.rng.bit_generator.state),
            "files": {p: (self.dir / p).read_bytes() for p in sorted(os.listdir(self.dir))},
        }


def _plain(obj):
    """State dicts with Tensors replaced by (shape, dtype, bytes): comparable with ==."""
    if isinstance(obj, mg.Tensor):
        return (obj.shape, str(obj.dtype), obj.numpy().tobytes())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


@dataclass
class Row:
    call: Callable[..., Any]  # call(world) or call(world, prepared)
    exc: type
    match: str  # a regex the message must contain: the problem, named
    prepare: Callable[[World], Any] | None = None


# ---- rows that need some set-up before the snapshot ----------------------------------------------------


def _backward_once(w):
    y = (w.x * w.x).sum()
    y.backward()
    return y


def _saved_then_modified(w):
    c = mg.ones(4, 3)
    y = (w.x * c).sum()
    c += 1.0  # allowed (c needs no grad), but Mul saved it
    return y


def _nan_gradient(w):
    w.lin.weight.grad = mg.full(w.lin.weight.shape, float("nan"))


def _bad_grad_on_last_param(w):
    w.params[-1].grad = mg.ones(w.params[-1].shape[0] + 1)  # earlier parameters have good gradients


def _other_model_optimizer_state(w):
    other = mg.nn.Linear(4, 2)
    opt = Opt.Adam(other.parameters(), lr=1e-2)
    other(mg.ones(1, 4)).sum().backward()
    opt.step()
    return opt.state_dict()


def _other_model_checkpoint(w):
    path = w.dir / "other.safetensors"
    mg.save(mg.nn.Linear(5, 2).state_dict(), path)
    return path


ROWS = {
    # -- tensor creation
    "tensor-ragged": Row(lambda w: mg.tensor([[1.0, 2.0], [3.0]]), ValueError, r"rectangular"),
    "tensor-strings": Row(lambda w: mg.tensor(["a", "b"]), TypeError, r"tensor: data must be numeric"),
    "tensor-int-requires-grad": Row(
        lambda w: mg.tensor([1, 2], requires_grad=True), TypeError, r"only floating point.*dtype=mg\.float32"
    ),
    "zeros-negative-size": Row(lambda w: mg.zeros(-1, 2), ValueError, r"non-negative integers, got \(-1, 2\)"),
    "randn-unknown-dtype": Row(lambda w: mg.randn(2, dtype="float7"), TypeError, r"unknown dtype 'float7'"),
    "zeros-unknown-device": Row(lambda w: mg.zeros(2, device="tpu"), ValueError, r"unknown device 'tpu'"),
    "randint-empty-range": Row(lambda w: mg.randint(5, 2, (3,)), ValueError, r"randint: need low < high"),
    "manual-seed-negative": Row(lambda w: mg.manual_seed(-1), ValueError, r"non-negative integer, got -1"),
    # -- ops, one or more per family
    "add-broadcast": Row(lambda w: w.x + mg.ones(5), ValueError, r"add: shapes \(4, 3\) and \(5,\) cannot be broadcast"),
    "matmul-inner-dims": Row(lambda w: w.x @ mg.ones(2, 2), ValueError, r"matmul: shapes \(4, 3\) and \(2, 2\) are not aligned"),
    "pow-int-negative": Row(lambda w: mg.tensor([1, 2]) ** -1, ValueError, r"pow: integers to negative integer powers"),
    "neg-bool": Row(lambda w: -mg.tensor([True]), TypeError, r"neg: .*bool.*~mask"),
    "sum-axis-range": Row(lambda w: w.x.sum(axis=2), IndexError, r"sum: axis 2 is out of range for a tensor with 2"),
    "max-empty": Row(lambda w: mg.max(mg.zeros(0)), ValueError, r"max: cannot reduce an empty tensor"),
    "reshape-size": Row(lambda w: w.x.reshape(5, 5), ValueError, r"reshape: cannot reshape a tensor of shape \(4, 3\)"),
    "getitem-out-of-bounds": Row(lambda w: w.x[10], IndexError, r"getitem: .*index 10 is out of bounds"),
    "concatenate-shapes": Row(lambda w: mg.concatenate([w.x, mg.ones(4, 2, 1)]), ValueError, r"concatenate: shapes"),
    "log-softmax-axis": Row(lambda w: mg.log_softmax(w.x, 3), IndexError, r"log_softmax: axis 3"),
    # -- backward misuse
    "backward-non-scalar": Row(lambda w: (w.x * 2).backward(), RuntimeError, r"only for scalar outputs.*\(4, 3\)"),
    "backward-grad-shape": Row(
        lambda w: (w.x * 2).backward(mg.ones(2)), RuntimeError, r"grad has shape \(2,\) but the output has shape \(4, 3\)"
    ),
    "backward-no-graph": Row(lambda w: mg.ones(1).backward(), RuntimeError, r"does not require grad.*requires_grad=True"),
    "backward-twice": Row(
        lambda w, y: y.backward(), RuntimeError, r"backward through the graph a second time.*retain_graph=True", _backward_once
    ),
    "backward-after-inplace": Row(
        lambda w, y: y.backward(), RuntimeError, r"Mul: .*\(shape \(4, 3\)\) was modified in place", _saved_then_modified
    ),
    "inplace-on-leaf": Row(lambda w: w.x.__iadd__(1.0), RuntimeError, r"\+=: in-place update of a leaf.*mg\.no_grad"),
    "grad-unused-input": Row(
        lambda w: mg.grad((w.x * 2).sum(), [mg.ones(2, requires_grad=True)]), RuntimeError, r"not used.*allow_unused=True"
    ),
    # -- modules
    "linear-features": Row(lambda w: w.lin(mg.ones(4, 5)), ValueError, r"linear: input of shape \(4, 5\).*in_features=3"),
    "load-state-dict-shape": Row(
        lambda w: w.lin.load_state_dict({"weight": mg.ones(3, 3), "bias": mg.ones(2)}), RuntimeError,
        r"size mismatch for weight.*\(3, 3\).*\(2, 3\)",
    ),
    "load-state-dict-keys": Row(
        lambda w: w.lin.load_state_dict({"weight": mg.ones(2, 3), "extra": mg.ones(1)}), RuntimeError,
        r"(?s)Missing key\(s\).*\"bias\".*Unexpected key\(s\).*\"extra\"",
    ),
    "load-state-dict-other-model": Row(
        lambda w, path: w.lin.load_state_dict(mg.load(path)), RuntimeError, r"size mismatch for weight", _other_model_checkpoint
    ),
    "embedding-index": Row(lambda w: w.emb(mg.tensor([10])), IndexError, r"embedding: index 10 is out of range.*10 rows"),
    "dropout-probability": Row(lambda w: mg.nn.Dropout(1.5), ValueError, r"probability has to be between 0 and 1, but got 1\.5"),
    "cross-entropy-class": Row(
        lambda w: NF.cross_entropy(w.x, mg.tensor([0, 1, 2, 3])), IndexError, r"cross_entropy: target class index 3 is out of range for 3 classes"
    ),
    "mse-shapes": Row(lambda w: NF.mse_loss(w.x, mg.ones(3, 4)), ValueError, r"mse_loss: target shape \(3, 4\) differs from input shape \(4, 3\)"),
    # -- recurrent layers
    "lstm-rank": Row(lambda w: w.lstm(mg.ones(6, 2, 3, 1)), ValueError, r"LSTM: Expected input to be 2D or 3D, got 4D"),
    "lstm-features": Row(lambda w: w.lstm(mg.ones(6, 2, 4)), RuntimeError, r"LSTM: input.size\(-1\) must be equal to input_size. Expected 3, got 4"),
    "lstm-h0-shape": Row(
        lambda w: w.lstm(w.seq, (mg.zeros(2, 3, 5), w.h0)), RuntimeError, r"LSTM: Expected h_0 of shape \(2, 2, 5\).*got \(2, 3, 5\)"
    ),
    "lstm-c0-shape": Row(
        lambda w: w.lstm(w.seq, (w.h0, mg.zeros(1, 2, 5))), RuntimeError, r"LSTM: Expected c_0 of shape \(2, 2, 5\).*got \(1, 2, 5\)"
    ),
    "lstm-state-not-a-tuple": Row(lambda w: w.lstm(w.seq, w.h0), TypeError, r"LSTM: hx must be a tuple \(h_0, c_0\)"),
    "lstm-lengths-count": Row(lambda w: w.lstm(w.seq, lengths=[6]), ValueError, r"one length per batch element \(2\), got 1"),
    "lstm-lengths-zero": Row(lambda w: w.lstm(w.seq, lengths=[0, 6]), ValueError, r"every length must be in \[1, 6\].*\[0, 6\]"),
    "lstm-lengths-too-long": Row(lambda w: w.lstm(w.seq, lengths=[7, 1]), ValueError, r"every length must be in \[1, 6\].*\[7, 1\]"),
    "lstm-dtype": Row(lambda w: w.lstm(w.seq.double()), ValueError, r"LSTM: input has dtype float64 but the parameters are float32"),
    "gru-batch-first-h0": Row(
        lambda w, gru: gru(mg.ones(2, 6, 3), mg.zeros(2, 1, 5)), RuntimeError, r"GRU: Expected h_0 of shape \(1, 2, 5\)",
        lambda w: mg.nn.GRU(3, 5, batch_first=True),
    ),
    "rnn-nonlinearity": Row(lambda w: mg.nn.RNN(3, 5, nonlinearity="gelu"), ValueError, r"Unknown nonlinearity 'gelu'"),
    "lstm-dropout": Row(lambda w: mg.nn.LSTM(3, 5, dropout=1.5), ValueError, r"LSTM: dropout .*range \[0, 1\].*1\.5"),
    "lstm-proj-size": Row(lambda w: mg.nn.LSTM(3, 5, proj_size=5), ValueError, r"proj_size has to be smaller than hidden_size"),
    # -- optimizers and clipping
    "optimizer-empty": Row(lambda w: Opt.SGD([], lr=0.1), ValueError, r"SGD: optimizer got an empty parameter list"),
    "optimizer-negative-lr": Row(lambda w: Opt.Adam(w.params, lr=-1), ValueError, r"Adam: invalid lr=-1"),
    "optimizer-betas": Row(lambda w: Opt.Adam(w.params, betas=(1.5, 0.9)), ValueError, r"Adam: invalid betas\[0\]=1\.5"),
    "optimizer-momentum": Row(lambda w: Opt.SGD(w.params, lr=0.1, momentum=-0.5), ValueError, r"SGD: invalid momentum=-0\.5"),
    "optimizer-not-a-tensor": Row(lambda w: Opt.SGD([1.0], lr=0.1), ValueError, r"SGD: params\[0\] is a float, not a Tensor"),
    "optimizer-state-other-model": Row(
        lambda w, sd: w.plain_opt.load_state_dict(sd),
        ValueError, r"has shape \(2, 4\) but its parameter has shape \(2, 3\)", _other_model_optimizer_state,
    ),
    "optimizer-state-groups": Row(
        lambda w: w.opt.load_state_dict({"state": {}, "param_groups": []}), ValueError, r"0 parameter group\(s\) but this optimizer has 1"
    ),
    "optimizer-step-bad-grad": Row(
        lambda w, _: w.opt.step(), RuntimeError, r"Adam\.step: parameter of shape \(10, 3\) has a gradient of shape \(11,\)",
        _bad_grad_on_last_param,
    ),
    "clip-non-finite": Row(
        lambda w, _: mg.nn.utils.clip_grad_norm_(w.params, 1.0, error_if_nonfinite=True), RuntimeError, r"clip_grad_norm_: .*non-finite", _nan_gradient
    ),
    "clip-negative-max-norm": Row(lambda w: mg.nn.utils.clip_grad_norm_(w.params, -1.0), ValueError, r"max_norm must be >= 0"),
    # -- schedulers
    "steplr-step-size": Row(lambda w: Opt.lr_scheduler.StepLR(w.plain_opt, step_size=0), ValueError, r"StepLR: step_size must be a positive int, got 0"),
    "cosine-t-max": Row(lambda w: Opt.lr_scheduler.CosineAnnealingLR(w.plain_opt, T_max=0), ValueError, r"T_max must be a positive"),
    "lambdalr-not-callable": Row(lambda w: Opt.lr_scheduler.LambdaLR(w.plain_opt, lr_lambda="x"), TypeError, r"lr_lambda must be callable"),
    "scheduler-not-an-optimizer": Row(lambda w: Opt.lr_scheduler.StepLR(w.lin, step_size=2), TypeError, r"must be a minigrad\.optim\.Optimizer.*got Linear"),
    # -- checkpoints
    "load-missing-file": Row(lambda w: mg.load(w.dir / "nope.safetensors"), FileNotFoundError, r"no checkpoint file at .*nope\.safetensors"),
    "load-truncated": Row(lambda w: mg.load(w.dir / "truncated.safetensors"), ValueError, r"not a valid safetensors checkpoint"),
    "load-folder": Row(lambda w: mg.load(w.dir), IsADirectoryError, r"is a directory, not a checkpoint file"),
    "save-unstorable-object": Row(
        lambda w: mg.save({"model": w.lin.state_dict(), "meta": {1, 2}}, w.ckpt), TypeError, r"save: cannot store a set at 'meta'"
    ),
    "save-not-a-dict": Row(lambda w: mg.save([w.lin.state_dict()], w.ckpt), TypeError, r"save: expected a dict"),
    "save-missing-folder": Row(
        lambda w: mg.save(w.lin.state_dict(), w.dir / "sub" / "x.safetensors"), FileNotFoundError, r"sub"
    ),
}  # fmt: skip

KNOWN_BUGS: dict = {}  # name -> reason, for rows that document a bug not fixed yet (strict xfail)


def _params():
    for name, row in ROWS.items():
        marks = (
            [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])] if name in KNOWN_BUGS else []
        )
        yield pytest.param(row, id=name, marks=marks)


def test_the_table_is_broad():
    families = {name.split("-")[0] for name in ROWS}
    assert len(ROWS) >= 30 and len(families) >= 15


@pytest.mark.parametrize("row", list(_params()))
def test_bad_input(row, tmp_path):
    world = World(tmp_path)
    prepared = row.prepare(world) if row.prepare is not None else None
    before = world.snapshot()
    args = (world,) if row.prepare is None else (world, prepared)
    with pytest.raises(row.exc) as info:
        row.call(*args)
    assert type(info.value) is row.exc
    assert re.search(row.match, str(info.value)), f"message does not name the problem: {info.value}"
    after = world.snapshot()
    for part in before:
        assert after[part] == before[part], f"the failed call changed {part}"


def test_the_world_snapshot_sees_changes(tmp_path):
    # the comparison above would prove nothing if the snapshot missed changes
    world = World(tmp_path)
    before = world.snapshot()
    with mg.no_grad():
        world.lin.weight[0, 0] = 5.0
    world.opt.param_groups[0]["lr"] = 0.5
    mg.randn(1)
    (tmp_path / "new.txt").write_text("x")
    after = world.snapshot()
    changed = {part for part in before if before[part] != after[part]}
    assert {"data", "versions", "opt", "rng", "files"} <= changed
    np.testing.assert_array_equal(world.lin.weight.numpy()[0, 0], 5.0)
