"""Learning-rate schedulers: the lr sequences against PyTorch (when installed) and closed-form formulas
(always), resuming from a state dict, argument checking."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed (the formula tests cover this)"
)

EPOCHS = 40
BASE_LRS = [0.1, 0.03]


def _halve_every_ten(epoch):
    return 0.5 ** (epoch // 10)


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 5)


# name -> (kwargs, closed form lr(base_lr, epoch))
SCHEDULES = {
    "StepLR": ({"step_size": 7, "gamma": 0.5}, lambda base, t: base * 0.5 ** (t // 7)),
    "StepLR-default-gamma": ({"step_size": 3}, lambda base, t: base * 0.1 ** (t // 3)),
    "ExponentialLR": ({"gamma": 0.9}, lambda base, t: base * 0.9**t),
    "CosineAnnealingLR": (
        {"T_max": 12, "eta_min": 0.001},
        lambda base, t: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * t / 12)) / 2,
    ),
    "CosineAnnealingLR-eta0": (
        {"T_max": 5},
        lambda base, t: base * (1 + math.cos(math.pi * t / 5)) / 2,
    ),
    "LambdaLR": ({"lr_lambda": _halve_every_ten}, lambda base, t: base * _halve_every_ten(t)),
}


def _optimizer(lib, lrs=BASE_LRS):
    if lib is torch:
        params = [torch.zeros(2, requires_grad=True) for _ in lrs]
        return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0)
    params = [mg.zeros(2, requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=1.0)


def _scheduler(lib, name, opt):
    kwargs, _ = SCHEDULES[name]
    cls_name = name.split("-")[0]
    module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
    return getattr(module, cls_name)(opt, **kwargs)


def lr_sequence(lib, name, epochs=EPOCHS):
    """The lrs of every group after construction and after each of `epochs` steps."""
    opt = _optimizer(lib)
    sched = _scheduler(lib, name, opt)
    seq = [[g["lr"] for g in opt.param_groups]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seq.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == seq[-1]
    return np.array(seq)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_closed_form(name):
    _, formula = SCHEDULES[name]
    want = np.array([[formula(base, t) for base in BASE_LRS] for t in range(EPOCHS + 1)])
    np.testing.assert_allclose(lr_sequence(mg, name), want, rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch(name):
    np.testing.assert_allclose(
        lr_sequence(mg, name), lr_sequence(torch, name), rtol=1e-12, atol=1e-15
    )


@settings(max_examples=15, deadline=None)
@given(
    step_size=st.integers(1, 6),
    gamma=st.floats(0.05, 1.5),
    T_max=st.integers(1, 9),
    eta_min=st.floats(0.0, 0.01),
)
def test_random_settings(step_size, gamma, T_max, eta_min):
    cases = [
        (
            "StepLR",
            {"step_size": step_size, "gamma": gamma},
            lambda b, t: b * gamma ** (t // step_size),
        ),
        ("ExponentialLR", {"gamma": gamma}, lambda b, t: b * gamma**t),
        (
            "CosineAnnealingLR",
            {"T_max": T_max, "eta_min": eta_min},
            lambda b, t: eta_min + (b - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2,
        ),
    ]
    for cls_name, kwargs, formula in cases:
        seqs = {}
        libs = [mg] if torch is None else [mg, torch]
        for lib in libs:
            opt = _optimizer(lib)
            module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
            sched = getattr(module, cls_name)(opt, **kwargs)
            seq = []
            for _ in range(15):
                seq.append([g["lr"] for g in opt.param_groups])
                opt.step()
                sched.step()
            seqs[lib.__name__] = np.array(seq)
        want = np.array([[formula(b, t) for b in BASE_LRS] for t in range(15)])
        np.testing.assert_allclose(seqs["minigrad"], want, rtol=1e-9, atol=1e-12)
        if torch is not None:
            np.testing.assert_allclose(seqs["minigrad"], seqs["torch"], rtol=1e-12, atol=1e-15)


def test_lambda_lr_with_one_function_per_group():
    opt = _optimizer(mg)
    sched = lr_scheduler.LambdaLR(opt, [_halve_every_ten, _warmup])
    lrs = []
    for _ in range(12):
        lrs.append(sched.get_last_lr())
        opt.step()
        sched.step()
    assert lrs[0] == [0.1, 0.03 * 0.2]
    assert lrs[4] == [0.1, 0.03]
    assert lrs[11] == [0.05, 0.03]
    with pytest.raises(ValueError, match="expected 2 lr_lambda"):
        lr_scheduler.LambdaLR(_optimizer(mg), [_warmup])


def test_scheduler_sets_initial_lr_and_base_lrs():
    opt = _optimizer(mg)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == BASE_LRS
    assert sched.base_lrs == BASE_LRS and sched.last_epoch == 0
    sched.step()
    assert sched.last_epoch == 1 and sched.get_last_lr() == [0.05, 0.015]
    assert opt.param_groups[0]["initial_lr"] == 0.1


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_resume(name, tmp_path):
    full = lr_sequence(mg, name, epochs=20)
    opt = _optimizer(mg)
    sched = _scheduler(mg, name, opt)
    for _ in range(9):
        opt.step()
        sched.step()
    mg.save(
        {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
        tmp_path / "ckpt.safetensors",
    )
    ckpt = mg.load(tmp_path / "ckpt.safetensors")

    opt2 = _optimizer(mg)
    sched2 = _scheduler(mg, name, opt2)  # as in PyTorch: build the scheduler, then load both states
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert sched2.last_epoch == 9 and sched2.get_last_lr() == list(full[9])
    seq = []
    for _ in range(11):
        opt2.step()
        sched2.step()
        seq.append([g["lr"] for g in opt2.param_groups])
    np.testing.assert_allclose(seq, full[10:], rtol=1e-12)


def test_resume_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_optimizer(mg), step_size=2, last_epoch=4)

    def cosine(base, t):
        return base * (1 + math.cos(math.pi * t / 10)) / 2

    # as in PyTorch: resuming keeps the optimizer's (restored) lr, and the next step continues from it
    opt = _optimizer(mg, [cosine(b, 5) for b in BASE_LRS])
    for g, base in zip(opt.param_groups, BASE_LRS):
        g["initial_lr"] = base
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    assert sched.last_epoch == 5 and sched.base_lrs == BASE_LRS
    np.testing.assert_allclose(sched.get_last_lr(), [cosine(b, 5) for b in BASE_LRS], rtol=1e-12)
    opt.step()
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [cosine(b, 6) for b in BASE_LRS], rtol=1e-12)


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Factor:
        def __init__(self):
            self.scale = 1.0

        def __call__(self, epoch):
            return self.scale

    f = Factor()
    sched = lr_scheduler.LambdaLR(_optimizer(mg, [0.1]), f)
    f.scale = 0.5
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"scale": 0.5}] and "optimizer" not in state
    g = Factor()
    sched2 = lr_scheduler.LambdaLR(_optimizer(mg, [0.1]), g)
    sched2.load_state_dict(state)
    assert g.scale == 0.5 and sched2.lr_lambdas == [g]
    sched_fn = lr_scheduler.LambdaLR(_optimizer(mg, [0.1]), _warmup)
    assert sched_fn.state_dict()["lr_lambdas"] == [None]


BAD = [
    (lambda: lr_scheduler.StepLR(_optimizer(mg), step_size=0), ValueError, "step_size"),
    (lambda: lr_scheduler.StepLR(_optimizer(mg), step_size=-3), ValueError, "step_size"),
    (lambda: lr_scheduler.StepLR(_optimizer(mg), step_size=2.5), ValueError, "step_size"),
    (lambda: lr_scheduler.StepLR(_optimizer(mg), step_size=2, gamma="x"), TypeError, "gamma"),
    (lambda: lr_scheduler.CosineAnnealingLR(_optimizer(mg), T_max=0), ValueError, "T_max"),
    (lambda: lr_scheduler.CosineAnnealingLR(_optimizer(mg), T_max=-5), ValueError, "T_max"),
    (lambda: lr_scheduler.ExponentialLR(_optimizer(mg), gamma=None), TypeError, "gamma"),
    (
        lambda: lr_scheduler.StepLR([mg.zeros(2, requires_grad=True)], step_size=2),
        TypeError,
        "optimizer",
    ),
    (lambda: lr_scheduler.ExponentialLR("sgd", gamma=0.9), TypeError, "optimizer"),
    (lambda: lr_scheduler.LambdaLR(None, _warmup), TypeError, "optimizer"),
    (lambda: lr_scheduler.LambdaLR(_optimizer(mg), 0.5), TypeError, "lr_lambda"),
    (
        lambda: lr_scheduler.StepLR(_optimizer(mg), step_size=2, last_epoch=-2),
        ValueError,
        "last_epoch",
    ),
]


@pytest.mark.parametrize("make, exc, match", BAD)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
