"""Tests of the creation functions: dtype inference, shapes given as a tuple or as sizes, dtype= and
device=, random functions and their seeding."""

import numpy as np
import pytest

import minigrad as mg

# ---- dtype inference --------------------------------------------------------------------------------


def test_float_numpy_arrays_keep_their_dtype():
    assert mg.tensor(np.zeros(3, dtype=np.float64)).dtype == mg.float64
    assert mg.tensor(np.zeros(3, dtype=np.float32)).dtype == mg.float32
    assert mg.tensor(np.zeros(3, dtype=np.float16)).dtype == mg.float16


def test_python_numbers_and_lists():
    assert mg.tensor(1.5).dtype == mg.float32
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([[1, 2], [3, 4]]).dtype == mg.int64
    assert mg.tensor(3).dtype == mg.int64
    assert mg.tensor([True, False]).dtype == mg.bool_
    assert (
        mg.tensor(np.arange(3, dtype=np.int32)).dtype == mg.int32
    )  # arrays keep integer dtypes too


def test_explicit_dtype_wins_and_strings_work():
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == mg.float64
    assert mg.tensor([1.0], dtype="float64").dtype == mg.float64
    assert mg.tensor([1.0], dtype="double").dtype == mg.float64
    assert mg.tensor([1.7], dtype="int64").tolist() == [1]


def test_tensor_copies_its_data(device):
    a = np.array([1.0, 2.0])
    t = mg.tensor(a, device=device)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0]
    assert mg.tensor(t).data is not t.data


def test_ragged_lists_raise():
    with pytest.raises(ValueError, match="rectangular"):
        mg.tensor([[1.0, 2.0], [3.0]])


def test_default_dtype_can_be_changed():
    try:
        mg.set_default_dtype(mg.float64)
        assert mg.tensor([1.0]).dtype == mg.float64 and mg.zeros(2).dtype == mg.float64
    finally:
        mg.set_default_dtype(mg.float32)
    assert mg.get_default_dtype() == mg.float32
    with pytest.raises(TypeError, match="floating"):
        mg.set_default_dtype(mg.int64)


# ---- creation functions ------------------------------------------------------------------------------


@pytest.mark.parametrize("fn, value", [(mg.zeros, 0.0), (mg.ones, 1.0), (mg.empty, None)])
def test_zeros_ones_shapes_as_tuple_or_sizes(fn, value, device):
    for t in (fn(2, 3, device=device), fn((2, 3), device=device), fn([2, 3], device=device)):
        assert t.shape == (2, 3) and t.dtype == mg.float32 and t.device == device
        if value is not None:
            assert (t.numpy() == value).all()
    assert fn(4, dtype=mg.float64, device=device).dtype == mg.float64
    assert fn((), device=device).shape == ()
    assert fn(2, requires_grad=True, device=device).requires_grad


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="non-negative"):
        mg.zeros(-1)
    with pytest.raises(ValueError, match="non-negative"):
        mg.ones(2.5)


def test_full_arange_linspace_eye(device):
    f = mg.full((2, 2), 7.0, device=device)
    assert f.tolist() == [[7.0, 7.0], [7.0, 7.0]] and f.dtype == mg.float32
    assert mg.full((3,), 2, device=device).dtype == mg.int64
    assert mg.full((3,), 2, dtype=mg.float64, device=device).dtype == mg.float64
    a = mg.arange(5, device=device)
    assert a.tolist() == [0, 1, 2, 3, 4] and a.dtype == mg.int64
    b = mg.arange(0, 1, 0.25, device=device)
    assert b.dtype == mg.float32 and b.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(1, 7, 2, dtype=mg.float64, device=device).tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="step"):
        mg.arange(0, 3, 0)
    np.testing.assert_allclose(mg.linspace(0, 1, 5, device=device).numpy(), np.linspace(0, 1, 5))
    e = mg.eye(3, device=device)
    np.testing.assert_array_equal(e.numpy(), np.eye(3))
    assert mg.eye(2, 3, dtype=mg.float64, device=device).shape == (2, 3)


def test_like_functions(device):
    t = mg.tensor(np.zeros((2, 3), dtype=np.float64), device=device)
    for like in (mg.zeros_like(t), mg.ones_like(t), mg.full_like(t, 4.0)):
        assert like.shape == (2, 3) and like.dtype == mg.float64 and like.device == device
    assert mg.ones_like(t).numpy().sum() == 6
    assert mg.full_like(t, 4.0).numpy()[0, 0] == 4.0
    assert mg.zeros_like(t, dtype=mg.float32).dtype == mg.float32


def test_random_creation_shapes_dtypes_and_ranges(device):
    assert mg.randn(2, 3, device=device).shape == (2, 3)
    assert mg.randn((2, 3), dtype=mg.float64, device=device).dtype == mg.float64
    r = mg.rand(1000, device=device).numpy()
    assert r.dtype == np.float32 and (r >= 0).all() and (r < 1).all()
    u = mg.uniform(500, low=-2.0, high=-1.0, device=device).numpy()
    assert (u >= -2).all() and (u < -1).all()
    i = mg.randint(3, 7, (50,), device=device)
    assert i.dtype == mg.int64 and set(i.tolist()) <= {3, 4, 5, 6}
    p = mg.randperm(10, device=device)
    assert sorted(p.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="low <= high"):
        mg.uniform(3, low=1.0, high=0.0)


def test_manual_seed_makes_random_functions_reproducible(device):
    def draw():
        return [
            mg.randn(3, device=device).tolist(),
            mg.rand(2, 2, device=device).tolist(),
            mg.uniform(3, low=-1.0, high=1.0, device=device).tolist(),
            mg.randint(0, 100, (4,), device=device).tolist(),
            mg.randperm(6, device=device).tolist(),
        ]

    mg.manual_seed(123)
    first = draw()
    mg.manual_seed(123)
    assert draw() == first
    mg.manual_seed(124)
    assert draw() != first


def test_manual_seed_rejects_bad_seeds():
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="non-negative integer"):
            mg.manual_seed(bad)
