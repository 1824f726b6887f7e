"""Tests of Tensor: attributes and methods, operators, len and iteration (creation: test_creation.py)."""

import numpy as np
import pytest

import minigrad as mg

# ---- attributes and methods ----------------------------------------------------------------------------


def test_attributes(device):
    t = mg.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == mg.float64
    assert t.device == device and t.requires_grad and t.grad is None
    assert t.is_leaf and t.grad_fn is None
    y = t * 2
    assert not y.is_leaf and y.grad_fn is not None and y.grad_fn.name() == "Mul"
    assert t.dim() == 2 and t.numel() == 6


def test_numpy_item_tolist(device):
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert mg.tensor([5.0], device=device).item() == 5.0
    assert isinstance(mg.tensor(3, device=device).item(), int)
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert float(mg.tensor(2.5)) == 2.5 and int(mg.tensor(7)) == 7


def test_numpy_shares_memory_on_cpu():
    t = mg.tensor([1.0, 2.0])
    t.numpy()[0] = 9.0
    assert t.tolist() == [9.0, 2.0]


def test_requires_grad_(device):
    t = mg.tensor([1.0, 2.0], device=device)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    y = mg.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_to_float_double_astype(device):
    t = mg.tensor([1.5, 2.5], device=device, requires_grad=True)
    d = t.double()
    assert d.dtype == mg.float64 and d.requires_grad and d.device == device
    assert d.float().dtype == mg.float32
    assert t.to(dtype=mg.float64).dtype == mg.float64
    assert t.to(device) is t  # nothing to do
    assert t.to() is t
    assert t.astype("float64").dtype == mg.float64
    i = t.astype(mg.int64)
    assert i.dtype == mg.int64 and i.tolist() == [1, 2] and not i.requires_grad
    (d * d).sum().backward()  # the cast is differentiable, and the gradient comes back as float32
    assert t.grad.dtype == mg.float32
    np.testing.assert_allclose(t.grad.numpy(), [3.0, 5.0])


def test_repr_shows_data_dtype_and_grad_fn():
    t = mg.tensor([1.5, -2.0], requires_grad=True)
    r = repr(t)
    assert (
        r.startswith("tensor(")
        and "1.5" in r
        and "-2." in r
        and "float32" in r
        and "requires_grad=True" in r
    )
    r = repr(t * 2)
    assert "grad_fn=<Mul>" in r and "3." in r
    assert "int64" in repr(mg.tensor([1, 2]))
    assert "device" not in repr(mg.tensor([1.0]))  # cpu is the default: not shown


def test_array_protocol_and_from_numpy():
    t = mg.tensor([[1.0, 2.0]])
    a = np.asarray(t)
    assert a.shape == (1, 2) and a.dtype == np.float32
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.sum(np.array(t)) == 3.0
    base = np.array([1.0, 2.0, 3.0])
    shared = mg.from_numpy(base)
    assert shared.dtype == mg.float64
    base[1] = 20.0
    assert shared.tolist() == [1.0, 20.0, 3.0]
    shared.numpy()[0] = -1.0
    assert base[0] == -1.0
    with pytest.raises(TypeError, match="numpy.ndarray"):
        mg.from_numpy([1.0, 2.0])


def test_bool_of_tensors():
    assert bool(mg.tensor([1.0])) and not bool(mg.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))


def test_methods_forward_to_ops(device):
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    t = mg.tensor(a, device=device)
    pairs = [
        (t.exp(), np.exp(a)),
        (t.abs().log(), np.log(np.abs(a))),
        (t.abs().sqrt(), np.sqrt(np.abs(a))),
        (t.tanh(), np.tanh(a)),
        (t.relu(), np.maximum(a, 0)),
        (t.clip(-0.5, 1.0), np.clip(a, -0.5, 1.0)),
        (t.clamp(min=0.0), np.clip(a, 0.0, None)),
        (t.sum(dim=1, keepdim=True), a.sum(axis=1, keepdims=True)),
        (t.mean(axis=0), a.mean(axis=0)),
        (t.max(dim=1), a.max(axis=1)),
        (t.min(), a.min()),
        (t.var(dim=1), a.var(axis=1, ddof=1)),
        (t.std(dim=1, correction=0), a.std(axis=1)),
        (t.reshape(3, 2), a.reshape(3, 2)),
        (t.view(-1), a.reshape(-1)),
        (t.T, a.T),
        (t.transpose(0, 1), a.T),
        (t.permute(1, 0), a.T),
        (t.unsqueeze(0), a[None]),
        (t.flatten(), a.reshape(-1)),
        (t.flip(dims=(1,)), a[:, ::-1]),
        (t.expand(4, -1, -1), np.broadcast_to(a, (4, 2, 3))),
        (t.pow(2), a**2),
        (t.maximum(mg.tensor(0.1, dtype=mg.float64, device=device)), np.maximum(a, 0.1)),
        (t.take([0, 5]), a.reshape(-1)[[0, 5]]),
        (t.index_select(1, [2, 0]), a[:, [2, 0]]),
        (t.masked_fill(t > 1, 0.0), np.where(a > 1, 0.0, a)),
    ]
    for ours, expected in pairs:
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    assert [p.shape for p in t.split(2, dim=1)] == [(2, 2), (2, 1)]
    assert [p.shape for p in t.chunk(2, axis=0)] == [(1, 3), (1, 3)]


# ---- operators -------------------------------------------------------------------------------------------


def test_arithmetic_operators_and_reflected_forms(device):
    a = np.array([1.0, 2.0, 4.0])
    b = np.array([0.5, -1.0, 2.0])
    x, y = mg.tensor(a, device=device), mg.tensor(b, device=device)
    pairs = [
        (x + y, a + b),
        (x - y, a - b),
        (x * y, a * b),
        (x / y, a / b),
        (x**y, a**b),
        (-x, -a),
        (+x, a),
        (abs(y), np.abs(b)),
        (x + 1, a + 1),
        (1 + x, 1 + a),
        (x - 1, a - 1),
        (1 - x, 1 - a),
        (x * 3, a * 3),
        (3 * x, 3 * a),
        (x / 2, a / 2),
        (2 / x, 2 / a),
        (x**2, a**2),
        (2**x, 2**a),
        (x + b, a + b),
        (b + x, b + a),  # numpy array on the left: __array_priority__ hands over to Tensor
        (b * x, b * a),
    ]
    for ours, expected in pairs:
        assert isinstance(ours, mg.Tensor)
        assert ours.dtype == mg.float64, ours
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)


def test_scalars_keep_the_tensor_dtype(device):
    x = mg.tensor([1.0, 2.0], device=device)  # float32
    assert (
        (x * 2.5).dtype == mg.float32
        and (2.5 - x).dtype == mg.float32
        and (x**2).dtype == mg.float32
    )
    i = mg.tensor([1, 2], device=device)
    assert (i + 1).dtype == mg.int64
    assert (i / 2).dtype.kind == "f"  # true division of integers gives floats
    assert (i * 1.5).dtype.kind == "f" and (i * 1.5).tolist() == [1.5, 3.0]


def test_matmul_operators(device):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    x, v = mg.tensor(a, device=device), mg.tensor(b, device=device)
    np.testing.assert_allclose((x @ v).numpy(), a @ b)
    np.testing.assert_allclose((v @ x.T).numpy(), b @ a.T)
    np.testing.assert_allclose((a.T @ x).numpy(), a.T @ a)  # reflected with a numpy array


def test_comparison_operators_give_booleans(device):
    x = mg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for result, expected in [
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
        (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]),
        (x == 2, [False, True, False]),
        (x != 2, [True, False, True]),
        (2 < x, [False, False, True]),
        (x == mg.tensor([1.0, 0.0, 3.0], device=device), [True, False, True]),
    ]:
        assert result.dtype == mg.bool_ and not result.requires_grad
        assert result.tolist() == expected


def test_getitem_forms(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    t = mg.tensor(a, device=device)
    for index in [
        1,
        -1,
        (0, 2),
        (slice(None), 1),
        (Ellipsis, 0),
        (None, 0),
        (slice(None, None, -1),),
        np.array([1, 1, 0]),
        (slice(None), [2, 0, 2]),
        a > 10,
        a[:, :, 0] > 5,
    ]:
        np.testing.assert_array_equal(t[index].numpy(), a[index])
    np.testing.assert_array_equal(t[mg.tensor([1, 0], device=device)].numpy(), a[[1, 0]])
    np.testing.assert_array_equal(t[t > 10].numpy(), a[a > 10])
    with pytest.raises(IndexError, match=r"\(2, 3, 4\)"):
        t[5]


def test_getitem_gradient_adds_repeated_indices(device):
    x = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64, device=device, requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_len_and_iteration(device):
    t = mg.tensor(np.arange(6.0).reshape(3, 2), device=device, requires_grad=True)
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    assert rows[2].tolist() == [4.0, 5.0]
    sum(r.sum() * i for i, r in enumerate(rows)).backward()  # iteration is differentiable
    assert t.grad.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(mg.tensor(1.0))


def test_tensor_is_hashable_by_identity():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    assert len({a, b}) == 2
