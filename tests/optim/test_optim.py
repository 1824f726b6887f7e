"""Optimizers: step-by-step against PyTorch (when installed) and against written-out NumPy update formulas
(always), state_dict round trips, parameter groups, argument checking."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import optim

try:
    import torch
except ImportError:  # the NumPy-formula tests below still run
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed (the formula tests cover this)"
)

STEPS = 20
SHAPES = [(3, 4), (5,), ()]


# ---- the problem: fixed starting values and gradients that depend on the current parameters -------------
def initial_values(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


_NOISE = np.random.default_rng(1)
NOISE = [[_NOISE.standard_normal(shape) for shape in SHAPES] for _ in range(STEPS)]


def gradient(t, i, value):
    """The gradient fed to parameter i at step t, or None (that parameter is then skipped)."""
    if i == 1 and t % 3 == 1:
        return None
    if i == 2 and t < 2:
        return None  # its state starts two steps late
    return np.asarray(np.cos(3 * value) + 0.5 * NOISE[t][i] + 0.1 * value, dtype=value.dtype)


# ---- written-out update formulas (the textbook forms), one parameter at a time ---------------------------
def ref_sgd(p, g, s, lr, momentum, dampening, weight_decay, nesterov, maximize):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum != 0:
        s["buf"] = g.copy() if "buf" not in s else momentum * s["buf"] + (1 - dampening) * g
        g = g + momentum * s["buf"] if nesterov else s["buf"]
    return p - lr * g


def ref_adam(p, g, s, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=False):
    beta1, beta2 = betas
    g = -g if maximize else g
    s["t"] = s.get("t", 0) + 1
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    v = s["v"]
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", 0.0), v)
        v = s["vmax"]
    m_hat = s["m"] / (1 - beta1 ** s["t"])
    v_hat = v / (1 - beta2 ** s["t"])
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, s, **kw):
    return ref_adam(p, g, s, decoupled=True, **kw)


def ref_rmsprop(p, g, s, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    g = -g if maximize else g
    g = g + weight_decay * p
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    if centered:
        s["g_avg"] = alpha * s.get("g_avg", 0.0) + (1 - alpha) * g
        avg = np.sqrt(s["v"] - s["g_avg"] ** 2) + eps
    else:
        avg = np.sqrt(s["v"]) + eps
    if momentum > 0:
        s["buf"] = momentum * s.get("buf", 0.0) + g / avg
        return p - lr * s["buf"]
    return p - lr * g / avg


def ref_adagrad(p, g, s, lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize):
    g = -g if maximize else g
    s["t"] = s.get("t", 0) + 1
    g = g + weight_decay * p
    clr = lr / (1 + (s["t"] - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


# name -> (minigrad class, reference, the reference's defaults = PyTorch's defaults)
OPTIMIZERS = {
    "SGD": (optim.SGD, ref_sgd, dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)),
    "Adam": (optim.Adam, ref_adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)),
    "AdamW": (optim.AdamW, ref_adamw, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False)),
    "RMSprop": (optim.RMSprop, ref_rmsprop, dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False)),
    "Adagrad": (optim.Adagrad, ref_adagrad, dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False)),
}  # fmt: skip

CASES = [
    ("SGD", {}),
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    (
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True, "maximize": True},
    ),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"alpha": 0.3, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.1, "maximize": True, "eps": 1e-3}),
]

# flat: one group; groups: the third parameter in its own group with its own lr and weight decay
GROUPINGS = {
    "flat": None,
    "groups": [([0, 1], {}), ([2], {"lr": 0.01, "weight_decay": 0.05})],
}


def _case_id(case):
    name, kw = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


def _params_arg(params, grouping):
    if GROUPINGS[grouping] is None:
        return list(params)
    return [dict(options, params=[params[i] for i in idx]) for idx, options in GROUPINGS[grouping]]


def run_minigrad(name, kwargs, grouping="flat", steps=STEPS, dtype=np.float64, device="cpu"):
    params = [mg.tensor(v, requires_grad=True, device=device) for v in initial_values(dtype)]
    opt = OPTIMIZERS[name][0](_params_arg(params, grouping), **kwargs)
    for t in range(steps):
        for i, p in enumerate(params):
            g = gradient(t, i, p.numpy())
            p.grad = None if g is None else mg.tensor(g, device=device)
        opt.step()
    return [p.numpy() for p in params]


def run_reference(name, kwargs, grouping="flat", steps=STEPS):
    _, ref, defaults = OPTIMIZERS[name]
    values = initial_values()
    options = [dict(defaults, **kwargs) for _ in values]
    if GROUPINGS[grouping] is not None:
        for idx, group_options in GROUPINGS[grouping]:
            for i in idx:
                options[i].update(group_options)
    states = [{} for _ in values]
    for t in range(steps):
        grads = [gradient(t, i, v) for i, v in enumerate(values)]
        for i, g in enumerate(grads):
            if g is not None:
                values[i] = ref(values[i], g, states[i], **options[i])
    return values


def run_torch(name, kwargs, grouping="flat", steps=STEPS, dtype=np.float64):
    params = [torch.tensor(v, requires_grad=True) for v in initial_values(dtype)]
    opt = getattr(torch.optim, name)(_params_arg(params, grouping), **kwargs)
    for t in range(steps):
        for i, p in enumerate(params):
            g = gradient(t, i, p.detach().numpy())
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_all_close(got, want, rtol=1e-6, atol=1e-6):
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"parameter {i}")


@pytest.mark.parametrize("grouping", list(GROUPINGS))
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_written_out_formula(case, grouping):
    name, kwargs = case
    start = initial_values()
    got = run_minigrad(name, kwargs, grouping)
    assert_all_close(got, run_reference(name, kwargs, grouping), rtol=1e-9, atol=1e-10)
    assert all(not np.allclose(a, b) for a, b in zip(got, start)), "every parameter must have moved"


@needs_torch
@pytest.mark.parametrize("grouping", list(GROUPINGS))
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_torch(case, grouping):
    name, kwargs = case
    want = run_torch(name, kwargs, grouping)
    assert_all_close(run_minigrad(name, kwargs, grouping), want)
    assert_all_close(
        run_reference(name, kwargs, grouping), want
    )  # the formula tests check the right thing


@needs_torch
@pytest.mark.parametrize("case", [c for c in CASES if c[1]][::3], ids=_case_id)
def test_matches_torch_float32(case):
    name, kwargs = case
    got = run_minigrad(name, kwargs, dtype=np.float32)
    assert all(a.dtype == np.float32 for a in got)
    assert_all_close(got, run_torch(name, kwargs, dtype=np.float32), rtol=1e-4, atol=1e-4)


# random hyperparameters: valid ranges of every option
HYPER = {
    "SGD": st.fixed_dictionaries(
        {
            "lr": st.floats(0.0, 0.2),
            "momentum": st.sampled_from([0.0, 0.3, 0.9]),
            "weight_decay": st.floats(0.0, 0.2),
            "maximize": st.booleans(),
        }
    ),
    "Adam": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-4, 0.1),
            "betas": st.tuples(st.floats(0.0, 0.95), st.floats(0.5, 0.999)),
            "eps": st.sampled_from([1e-8, 1e-4]),
            "weight_decay": st.floats(0.0, 0.2),
            "amsgrad": st.booleans(),
            "maximize": st.booleans(),
        }
    ),
    "RMSprop": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-4, 0.05),
            "alpha": st.floats(0.5, 0.999),
            "momentum": st.sampled_from([0.0, 0.5]),
            "centered": st.booleans(),
            "weight_decay": st.floats(0.0, 0.2),
        }
    ),
    "Adagrad": st.fixed_dictionaries(
        {
            "lr": st.floats(1e-4, 0.2),
            "lr_decay": st.floats(0.0, 0.5),
            "initial_accumulator_value": st.floats(0.0, 1.0),
            "weight_decay": st.floats(0.0, 0.2),
        }
    ),
}
HYPER["AdamW"] = HYPER["Adam"]


@settings(max_examples=10, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(OPTIMIZERS)))
def test_random_hyperparameters(data, name):
    kwargs = data.draw(HYPER[name], label="kwargs")
    if kwargs.get("momentum", 0) > 0 and name == "SGD":
        kwargs["nesterov"] = data.draw(st.booleans(), label="nesterov")
    got = run_minigrad(name, kwargs, steps=8)
    assert_all_close(got, run_reference(name, kwargs, steps=8), rtol=1e-8, atol=1e-9)
    if torch is not None:
        assert_all_close(got, run_torch(name, kwargs, steps=8))


def test_on_device_matches_cpu(device):
    for name, kwargs in [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("Adam", {"amsgrad": True}),
    ]:
        assert_all_close(
            run_minigrad(name, kwargs, device=device, steps=5),
            run_reference(name, kwargs, steps=5),
            1e-9,
            1e-10,
        )


# ---- bookkeeping -------------------------------------------------------------------------------------
def test_params_without_grad_are_skipped_and_get_no_state():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.tensor([1.0, -1.0])
    opt.step()
    assert b.numpy().tolist() == [3.0]
    assert b not in opt.state and opt.state[a]["step"] == 1
    np.testing.assert_allclose(a.numpy(), [0.9, 2.1])  # Adam's first step moves by lr * sign(grad)


def test_params_that_do_not_require_grad_are_accepted_and_skipped():
    # PyTorch accepts frozen parameters (Embedding.from_pretrained) and step() leaves them alone
    model = mg.nn.Sequential(
        mg.nn.Embedding.from_pretrained(mg.tensor([[1.0, 2.0], [3.0, 4.0]])), mg.nn.Linear(2, 1)
    )
    frozen = model[0].weight
    assert not frozen.requires_grad
    for opt in [
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        optim.Adam(model.parameters(), lr=0.1),
        optim.SGD([mg.tensor([1.0])], lr=0.1),
    ]:
        model(mg.tensor([0, 1])).sum().backward()
        opt.step()
        assert frozen.grad is None and frozen not in opt.state
        np.testing.assert_array_equal(frozen.numpy(), [[1.0, 2.0], [3.0, 4.0]])
        model.zero_grad()


@needs_torch
def test_params_that_do_not_require_grad_match_torch():
    frozen, trained = mg.tensor([1.0, 2.0]), mg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([frozen, trained], lr=0.1, momentum=0.9)
    tf, tt = torch.tensor([1.0, 2.0]), torch.tensor([3.0], requires_grad=True)
    topt = torch.optim.SGD([tf, tt], lr=0.1, momentum=0.9)
    for _ in range(2):
        trained.grad, tt.grad = mg.tensor([1.0]), torch.tensor([1.0])
        opt.step()
        topt.step()
    np.testing.assert_allclose(trained.numpy(), tt.detach().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(frozen.numpy(), tf.numpy())
    assert len(opt.state_dict()["state"]) == len(topt.state_dict()["state"]) == 1


def test_zero_grad():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    a.grad = mg.tensor([1.0, -1.0])
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and a.grad.numpy().tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


def test_step_updates_in_place_and_bumps_version():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    data = a.data
    y = (a * a).sum()
    opt = optim.SGD([a], lr=0.5)
    a.grad = mg.tensor([1.0, 1.0])
    opt.step()
    assert a.data is data and a.numpy().tolist() == [0.5, 1.5]
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()  # the graph saw the old values: the engine must notice the update


def test_step_does_not_change_grad():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    for opt in [
        optim.SGD([a], lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True),
        optim.Adam([a], weight_decay=0.1),
    ]:
        a.grad = mg.tensor([0.25, -0.5])
        opt.step()
        opt.step()
        assert a.grad.numpy().tolist() == [0.25, -0.5]


def test_closure_is_called_with_grad_enabled_and_its_loss_returned():
    w = mg.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    assert w.numpy().tolist() == [1.0]  # 2 - 0.25 * 4


def test_training_with_backward_reduces_the_loss():
    mg.manual_seed(0)
    x = mg.randn(64, 3, dtype=mg.float64)
    true_w = mg.tensor([[1.5], [-2.0], [0.5]], dtype=mg.float64)
    y = x @ true_w + 0.3
    cases = [
        (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (optim.Adam, {"lr": 0.1}),
        (optim.AdamW, {"lr": 0.1, "weight_decay": 0.0}),
        (optim.RMSprop, {"lr": 0.03}),
        (optim.Adagrad, {"lr": 0.5}),
    ]
    for opt_cls, kw in cases:
        w = mg.zeros(3, 1, dtype=mg.float64, requires_grad=True)
        b = mg.zeros(1, dtype=mg.float64, requires_grad=True)
        opt = opt_cls([w, b], **kw)
        losses = []
        for _ in range(100):
            opt.zero_grad()
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 1e-2 * losses[0], (opt_cls.__name__, losses[0], losses[-1])


def test_accepts_parameters():
    p = mg.nn.Parameter(mg.ones(2, 2))
    opt = optim.SGD([p], lr=1.0)
    p.grad = mg.ones(2, 2)
    opt.step()
    assert np.all(p.numpy() == 0.0)


def test_param_groups_and_add_param_group():
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([1.0], requires_grad=True)
    c = mg.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    opt.add_param_group({"params": [c], "lr": 0.25})
    assert opt.param_groups[2]["momentum"] == 0.9
    for p in (a, b, c):
        p.grad = mg.tensor([1.0])
    opt.step()
    assert [p.item() for p in (a, b, c)] == pytest.approx([0.9, 0.5, 0.75])
    with pytest.raises(ValueError, match="another parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [mg.tensor([1.0], requires_grad=True)], "lr": -1.0})
    assert len(opt.param_groups) == 3


def _p():
    return mg.tensor([1.0, 2.0], requires_grad=True)


BAD_ARGS = [
    (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: optim.Adam(iter([])), "empty parameter list"),
    (lambda: optim.SGD([np.ones(2)], lr=0.1), r"params\[0\].*not a Tensor"),
    (lambda: optim.SGD([_p(), "w"], lr=0.1), r"params\[1\].*not a Tensor"),
    (lambda: optim.SGD([_p() * 2], lr=0.1), "not a leaf"),
    (lambda: optim.SGD([_p()] * 2, lr=0.1), "appears twice"),
    (lambda: optim.SGD([_p()], lr=-0.1), "lr"),
    (lambda: optim.SGD([_p()], lr=float("nan")), "lr"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=-0.5), "momentum"),
    (lambda: optim.SGD([_p()], lr=0.1, weight_decay=-1e-4), "weight_decay"),
    (lambda: optim.SGD([_p()], lr=0.1, nesterov=True), "nesterov"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda: optim.Adam([_p()], lr=-1e-3), "lr"),
    (lambda: optim.Adam([_p()], betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda: optim.Adam([_p()], betas=(0.9, -0.1)), r"betas\[1\]"),
    (lambda: optim.Adam([_p()], betas=(0.9,)), "betas"),
    (lambda: optim.AdamW([_p()], eps=-1e-8), "eps"),
    (lambda: optim.AdamW([_p()], weight_decay=-0.1), "weight_decay"),
    (lambda: optim.RMSprop([_p()], alpha=-0.1), "alpha"),
    (lambda: optim.RMSprop([_p()], momentum=-0.1), "momentum"),
    (lambda: optim.RMSprop([_p()], eps=-1.0), "eps"),
    (lambda: optim.Adagrad([_p()], lr_decay=-0.1), "lr_decay"),
    (lambda: optim.Adagrad([_p()], initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda: optim.Adagrad([_p()], eps=-1.0), "eps"),
]


@pytest.mark.parametrize("make, match", BAD_ARGS)
def test_bad_arguments_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_single_tensor_is_not_a_parameter_list():
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(_p(), lr=0.1)


# ---- state_dict ----------------------------------------------------------------------------------------
RESUME_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1}),
]


def _train(opt, params, steps, start):
    for t in range(start, start + steps):
        for i, p in enumerate(params):
            g = gradient(t, i, p.numpy())
            p.grad = None if g is None else mg.tensor(g)
        opt.step()


@pytest.mark.parametrize("case", RESUME_CASES, ids=_case_id)
def test_state_dict_resume_gives_the_identical_trajectory(case, tmp_path):
    name, kwargs = case
    cls = OPTIMIZERS[name][0]
    params = [mg.tensor(v, requires_grad=True) for v in initial_values()]
    opt = cls(_params_arg(params, "groups"), **kwargs)
    _train(opt, params, 10, 0)
    mg.save(
        {"params": [p.detach() for p in params], "optimizer": opt.state_dict()},
        tmp_path / "ckpt.safetensors",
    )
    _train(opt, params, 10, 10)

    ckpt = mg.load(tmp_path / "ckpt.safetensors")
    resumed = [mg.tensor(p, requires_grad=True) for p in ckpt["params"]]
    opt2 = cls(_params_arg(resumed, "groups"), **kwargs)
    opt2.load_state_dict(ckpt["optimizer"])
    _train(opt2, resumed, 10, 10)
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt2.param_groups[1]["lr"] == 0.01 and opt2.param_groups[1]["params"] == [resumed[2]]


def test_state_dict_structure():
    params = [mg.tensor(v, requires_grad=True) for v in initial_values()]
    opt = optim.Adam(_params_arg(params, "groups"), lr=0.05, amsgrad=True)
    _train(opt, params, 3, 0)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.01 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 1, 2]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert [sd["state"][i]["step"] for i in range(3)] == [
        3,
        2,
        1,
    ]  # parameter 1 skipped once, 2 twice
    assert sd["state"][0]["exp_avg"].shape == SHAPES[0]
    # a snapshot: later steps leave it alone
    before = sd["state"][0]["exp_avg"].numpy().copy()
    _train(opt, params, 1, 3)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)


@needs_torch
@pytest.mark.parametrize("case", RESUME_CASES, ids=_case_id)
def test_state_keys_match_torch(case):
    name, kwargs = case
    params = [mg.tensor(v, requires_grad=True) for v in initial_values()]
    opt = OPTIMIZERS[name][0](params, **kwargs)
    _train(opt, params, 3, 0)
    tparams = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    for t in range(3):
        for i, p in enumerate(tparams):
            g = gradient(t, i, p.detach().numpy())
            p.grad = None if g is None else torch.tensor(g)
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    for i in sd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i])
        for key, value in sd["state"][i].items():
            want = tsd["state"][i][key]
            if key == "step":
                assert value == int(want.item())
            else:
                np.testing.assert_allclose(value.numpy(), want.numpy(), rtol=1e-6, atol=1e-9)
    own = set(sd["param_groups"][0])
    assert own <= set(tsd["param_groups"][0])


def test_load_state_dict_validates_before_changing_anything():
    params = [mg.tensor(v, requires_grad=True) for v in initial_values()]
    opt = optim.SGD(_params_arg(params, "groups"), lr=0.05, momentum=0.9)
    _train(opt, params, 2, 0)
    good = opt.state_dict()
    snapshot = opt.state_dict()

    def unchanged():
        now = opt.state_dict()
        assert now["param_groups"] == snapshot["param_groups"]
        for i in snapshot["state"]:
            np.testing.assert_array_equal(
                now["state"][i]["momentum_buffer"].numpy(),
                snapshot["state"][i]["momentum_buffer"].numpy(),
            )

    bad_count = {"state": {}, "param_groups": good["param_groups"][:1]}
    bad_size = {
        "state": {},
        "param_groups": [good["param_groups"][0], dict(good["param_groups"][1], params=[2, 3])],
    }
    bad_shape = {
        "state": {0: {"momentum_buffer": mg.zeros(2, 2, dtype=mg.float64)}},
        "param_groups": [dict(good["param_groups"][0], lr=123.0), good["param_groups"][1]],
    }
    bad_index = {
        "state": {7: {"momentum_buffer": mg.zeros(3)}},
        "param_groups": good["param_groups"],
    }
    bad_lr = {
        "state": {},
        "param_groups": [dict(good["param_groups"][0], lr=-1.0), good["param_groups"][1]],
    }
    for bad, match in [
        (bad_count, "1 parameter group"),
        (bad_size, r"param_groups\[1\] holds 2"),
        (bad_shape, r"shape \(2, 2\).*shape \(3, 4\)"),
        (bad_index, "refers to no parameter"),
        (bad_lr, "lr"),
        ({"state": {}}, "param_groups"),
    ]:
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(bad)
        unchanged()


def test_load_state_dict_copies_and_casts_buffers():
    p = mg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    buf = np.full(3, 0.5)  # float64 in the file, float32 parameter
    opt.load_state_dict(
        {
            "state": {"0": {"momentum_buffer": buf}},
            "param_groups": [dict(opt.param_groups[0], params=[0], lr=0.2)],
        }
    )
    loaded = opt.state[p]["momentum_buffer"]
    assert loaded.dtype == np.float32 and opt.param_groups[0]["lr"] == 0.2
    p.grad = mg.ones(3)
    opt.step()
    np.testing.assert_allclose(p.numpy(), 1 - 0.2 * (0.9 * 0.5 + 1.0), rtol=1e-6)
    assert buf.tolist() == [0.5, 0.5, 0.5]  # the source is never written to


def test_gradient_of_the_wrong_shape_is_an_error():
    a = _p()
    opt = optim.Adam([a])
    a.grad = mg.ones(3)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) has a gradient of shape \(3,\)"):
        opt.step()
    assert a.numpy().tolist() == [1.0, 2.0] and a not in opt.state
