"""nn.init: distributions and bounds from PyTorch's formulas, in-place writes that record no graph, seeding."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import init


def _param(*shape, dtype=None):
    return nn.Parameter(mg.zeros(*shape, dtype=dtype))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "x")
    torch = pytest.importorskip("torch")
    for name, param in [
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv2d", None),
    ]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )


def test_initialisers_write_in_place_and_record_nothing():
    p = _param(3, 4)
    data_before = p.data
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_, init.orthogonal_, init.zeros_, init.ones_, init.trunc_normal_):  # fmt: skip
        assert fn(p) is p
        assert p.data is data_before  # the same array: optimizers holding p stay valid
        assert p.is_leaf and p.requires_grad and isinstance(p, nn.Parameter)
    assert init.constant_(p, 0.25) is p
    np.testing.assert_array_equal(p.numpy(), np.full((3, 4), 0.25, np.float32))
    assert p.dtype == mg.float32


def test_uniform_and_normal_statistics():
    mg.manual_seed(0)
    u = init.uniform_(_param(200, 100), -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.05 and abs(u.std() - 5 / math.sqrt(12)) < 0.03
    n = init.normal_(_param(200, 100), 1.0, 0.5).numpy()
    assert abs(n.mean() - 1.0) < 0.02 and abs(n.std() - 0.5) < 0.02
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(_param(2), 1.0, 0.0)


def test_xavier_bounds_and_std():
    mg.manual_seed(0)
    w = init.xavier_uniform_(_param(300, 200), gain=2.0).numpy()
    bound = 2.0 * math.sqrt(6 / (300 + 200))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = init.xavier_normal_(_param(300, 200)).numpy()
    assert abs(w.std() - math.sqrt(2 / 500)) < 0.03 * math.sqrt(2 / 500)


def test_kaiming_uses_fan_and_gain():
    mg.manual_seed(0)
    w = init.kaiming_uniform_(_param(64, 400), a=math.sqrt(5)).numpy()  # PyTorch's Linear default
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = init.kaiming_normal_(_param(400, 50), mode="fan_out", nonlinearity="relu").numpy()
    std = math.sqrt(2) / math.sqrt(400)
    assert abs(w.std() - std) < 0.03 * std
    w = init.kaiming_uniform_(_param(8, 4, 3, 3)).numpy()  # conv-shaped: fan_in = 4 * 3 * 3
    assert np.abs(w).max() <= math.sqrt(2 / (1 + 0.01**2)) * math.sqrt(3 / 36)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode 'fan_avg'"):
        init.kaiming_normal_(_param(2, 2), mode="fan_avg")


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (2, 3, 2)])
def test_orthogonal(shape):
    mg.manual_seed(0)
    w = init.orthogonal_(_param(*shape, dtype=mg.float64), gain=1.5).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, 1.5**2 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(w.T @ w, 1.5**2 * np.eye(cols), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(_param(3))


def test_trunc_normal_and_eye():
    mg.manual_seed(0)
    w = init.trunc_normal_(_param(100, 100), std=1.0, a=-0.5, b=0.5).numpy()
    assert w.min() >= -0.5 and w.max() <= 0.5 and w.std() > 0.2
    np.testing.assert_array_equal(init.eye_(_param(2, 3)).numpy(), np.eye(2, 3, dtype=np.float32))


def test_seeding_makes_initialisation_reproducible():
    mg.manual_seed(123)
    a = nn.Linear(4, 3)
    mg.manual_seed(123)
    b = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    c = nn.Linear(4, 3)
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())


def test_init_inside_a_recording_context_is_allowed():
    # initialisers run under no_grad themselves, so calling them while grad mode is on is fine
    p = _param(2, 2)
    assert mg.is_grad_enabled()
    init.normal_(p)
    assert p.grad_fn is None and p.grad is None
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.normal_(np.zeros((2, 2)))
