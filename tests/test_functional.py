"""Tests of the compositions in functional.py beyond the op table: argument forms, edge cases, tie and
boundary gradients, and error messages. (Forward, gradcheck and gradgradcheck of each are in test_ops.)"""

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck


def _t(values, device, requires_grad=True):
    return mg.tensor(
        np.asarray(values, dtype=np.float64), device=device, requires_grad=requires_grad
    )


def test_var_and_std_corrections(device):
    a = np.array([[1.0, 2.0, 4.0], [0.5, 0.5, 3.0]])
    x = _t(a, device)
    np.testing.assert_allclose(mg.var(x).numpy(), a.var(ddof=1))  # PyTorch's default correction=1
    np.testing.assert_allclose(mg.var(x, axis=1, correction=0).numpy(), a.var(axis=1))
    np.testing.assert_allclose(
        mg.std(x, axis=0, keepdims=True).numpy(), a.std(axis=0, ddof=1, keepdims=True)
    )
    assert np.isnan(mg.var(_t([1.0], device)).item())  # no degrees of freedom: nan, as in torch
    assert gradcheck(lambda t: mg.std(t, axis=1), x)


def test_mean_of_integers_and_empty_axis(device):
    assert mg.mean(mg.tensor([1, 2], device=device)).item() == pytest.approx(1.5)
    out = mg.mean(mg.zeros(0, 3, device=device), axis=0)  # nan, as in torch
    assert out.shape == (3,) and np.isnan(out.numpy()).all()


def test_softmax_rows_sum_to_one_and_dim_keyword(device):
    x = _t(np.arange(12.0).reshape(3, 4) / 3, device)
    s = x.softmax(dim=0)
    np.testing.assert_allclose(s.numpy().sum(axis=0), np.ones(4))
    np.testing.assert_allclose(x.log_softmax(dim=-1).exp().numpy().sum(axis=-1), np.ones(3))


@pytest.mark.filterwarnings("ignore:divide by zero")  # log(0) = -inf is the expected answer here
def test_logsumexp_handles_minus_infinity(device):
    x = mg.tensor([[-np.inf, -np.inf], [0.0, -np.inf]], dtype=mg.float64, device=device)
    out = mg.logsumexp(x, axis=1).numpy()
    assert out[0] == -np.inf and out[1] == 0.0


def test_minimum_and_maximum_split_ties_like_pytorch(device):
    x, y = _t([1.0, 2.0], device), _t([1.0, 3.0], device)
    mg.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0] and y.grad.tolist() == [0.5, 1.0]
    x.grad = y.grad = None
    mg.minimum(x, y).sum().backward()
    assert x.grad.tolist() == [0.5, 1.0] and y.grad.tolist() == [0.5, 0.0]


def test_max_reduction_splits_ties(device):
    x = _t([3.0, 1.0, 3.0], device)
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


def test_clip_gradient_passes_at_the_bounds_like_torch_clamp(device):
    x = _t([-2.0, -1.0, 0.0, 1.0, 2.0], device)
    out = mg.clip(x, -1.0, 1.0)
    assert out.tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="at least one of min and max"):
        mg.clip(x)


def test_relu_and_abs_gradients_at_zero(device):
    x = _t([-1.0, 0.0, 2.0], device)
    (x.relu() + x.abs()).sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 2.0]  # relu'(0) = 0 and sign(0) = 0, as PyTorch


def test_squeeze_unsqueeze_flatten_errors(device):
    x = mg.zeros(2, 1, 3, device=device)
    assert mg.squeeze(x).shape == (2, 3) and mg.squeeze(x, 1).shape == (2, 3)
    assert mg.squeeze(x, 0).shape == (2, 1, 3)  # not of size 1: left alone, as in torch
    assert mg.expand_dims(x, -1).shape == (2, 1, 3, 1)
    assert mg.flatten(x, 1).shape == (2, 3)
    with pytest.raises(ValueError, match="start_dim"):
        mg.flatten(x, 2, 0)
    assert mg.flatten(mg.tensor(1.0, device=device)).shape == (1,)


def test_permute_and_swapaxes(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(a, device=device)
    np.testing.assert_array_equal(mg.permute(x, 2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(mg.permute(x, (2, 0, 1)).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(mg.swapaxes(x, 0, -1).numpy(), np.swapaxes(a, 0, -1))
    with pytest.raises(ValueError, match="permutation"):
        mg.permute(x, 0, 0, 1)


def test_stack_and_concatenate_forms(device):
    a, b = mg.ones(2, 3, device=device), mg.zeros(2, 3, device=device)
    assert mg.stack([a, b], axis=-1).shape == (2, 3, 2)
    assert mg.stack((a, b), axis=1).shape == (2, 2, 3)
    assert mg.cat([a, b], axis=-1).shape == (2, 6)
    with pytest.raises(ValueError, match="non-empty"):
        mg.stack([])
    with pytest.raises(ValueError, match="non-empty"):
        mg.concatenate([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        mg.concatenate([mg.tensor(1.0), mg.tensor(2.0)])


def test_split_and_chunk_sizes_match_pytorch(device):
    x = mg.tensor(np.arange(10.0), device=device)
    assert [p.shape[0] for p in mg.split(x, 3)] == [3, 3, 3, 1]
    assert [p.shape[0] for p in mg.split(x, [2, 8])] == [2, 8]
    assert [p.shape[0] for p in mg.chunk(x, 4)] == [3, 3, 3, 1]
    assert [p.shape[0] for p in mg.chunk(x, 6)] == [2, 2, 2, 2, 2]  # like torch.chunk: fewer pieces
    with pytest.raises(ValueError, match="do not add up to 10"):
        mg.split(x, [2, 3])
    with pytest.raises(ValueError, match="positive"):
        mg.split(x, 0)
    with pytest.raises(ValueError, match="positive"):
        mg.chunk(x, 0)
    torch = pytest.importorskip("torch")
    for n in range(1, 12):
        expected = [len(p) for p in torch.arange(10).chunk(n)]
        assert [p.shape[0] for p in mg.chunk(x, n)] == expected, n


def test_take_and_index_select(device):
    a = np.arange(12.0).reshape(3, 4)
    x = _t(a, device)
    np.testing.assert_array_equal(
        mg.take(x, [[0, 11], [5, 5]]).numpy(), np.take(a, [[0, 11], [5, 5]])
    )
    np.testing.assert_array_equal(mg.take(x, [3, -1], axis=1).numpy(), np.take(a, [3, -1], axis=1))
    out = mg.index_select(x, 0, mg.tensor([2, 2, 0], device=device))
    np.testing.assert_array_equal(out.numpy(), a[[2, 2, 0]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1] * 4, [0] * 4, [2] * 4])
    with pytest.raises(ValueError, match="1-D integer"):
        mg.index_select(x, 0, [[0, 1]])
    with pytest.raises(ValueError, match="1-D integer"):
        mg.index_select(x, 0, np.array([0.5]))


def test_masked_fill(device):
    x = _t([[1.0, 2.0], [3.0, 4.0]], device)
    mask = mg.tensor([True, False], device=device)  # broadcasts over rows
    out = mg.masked_fill(x, mask, -9.0)
    assert out.tolist() == [[-9.0, 2.0], [-9.0, 4.0]]
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_flip_all_axes_by_default(device):
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mg.flip(mg.tensor(a, device=device)).numpy(), a[::-1, ::-1])


def test_sub_with_python_numbers(device):
    x = mg.tensor([1.0, 2.0], device=device)
    assert mg.sub(x, 1).tolist() == [0.0, 1.0]
    assert mg.sub(1, x).tolist() == [0.0, -1.0]
    assert mg.sub(x, 1).dtype == mg.float32
