"""Recycled CPU arrays (backend.recycled): large float results reuse the memory of arrays nobody holds
any more, and an array that anything still references is never handed out again."""

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import backend

SHAPE = (64, 64)  # 4,096 elements: just large enough to be recycled


@pytest.fixture(autouse=True)
def fresh_cache():
    limit = backend.cache_info()["limit"]
    backend.empty_cache()
    yield
    backend.set_cache_limit(limit)
    backend.empty_cache()


def _randn(*shape, seed=0, requires_grad=False):
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return mg.tensor(data, requires_grad=requires_grad)


def test_the_memory_of_a_dropped_result_is_reused():
    a, b = _randn(*SHAPE, seed=1), _randn(*SHAPE, seed=2)
    y = a * b
    address = y.data.ctypes.data
    del y
    z = a * b
    assert z.data.ctypes.data == address
    assert backend.cache_info()["arrays"] == 1  # the same array again, not a new one
    np.testing.assert_array_equal(z.numpy(), a.numpy() * b.numpy())


def test_small_integer_and_mixed_results_are_not_recycled():
    small = _randn(8, 8)
    _ = small * small
    ints = mg.tensor(np.arange(4096).reshape(SHAPE))
    _ = ints + ints
    a64 = mg.tensor(np.ones(SHAPE))
    _ = _randn(*SHAPE) * a64  # float32 * float64
    assert backend.cache_info()["arrays"] == 0


def test_an_array_anything_still_references_is_never_overwritten():
    a = _randn(*SHAPE, seed=1, requires_grad=True)
    b = _randn(*SHAPE, seed=2)
    expected = {}

    kept_tensor = a * b
    expected["tensor"] = kept_tensor.numpy().copy()
    as_numpy = (a + b).numpy()  # the caller's array, no tensor left
    expected["numpy"] = as_numpy.copy()
    view = (a - b).data[1:, ::2]  # only a view of the result survives
    expected["view"] = view.copy()
    buffer = memoryview((a * 2.0).detach().numpy())
    expected["memoryview"] = np.asarray(buffer).copy()
    loss = (a.tanh() * b).sum()  # tanh's output lives on only inside the graph, saved for backward
    detached = (b.exp()).detach()
    expected["detached"] = detached.numpy().copy()

    for k in range(50):  # plenty of new results of the same shape and dtype
        _ = (a * b + float(k)).sigmoid()
    np.testing.assert_array_equal(kept_tensor.numpy(), expected["tensor"])
    np.testing.assert_array_equal(as_numpy, expected["numpy"])
    np.testing.assert_array_equal(view, expected["view"])
    np.testing.assert_array_equal(np.asarray(buffer), expected["memoryview"])
    np.testing.assert_array_equal(detached.numpy(), expected["detached"])
    loss.backward()
    t = np.tanh(a.numpy().astype(np.float64))
    np.testing.assert_allclose(a.grad.numpy(), b.numpy() * (1 - t * t), rtol=1e-5, atol=1e-6)


_OPS = {
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "tanh": (lambda x, y: x.tanh(), lambda x, y: np.tanh(x)),
    "sigmoid": (lambda x, y: x.sigmoid(), lambda x, y: 1 / (1 + np.exp(-x))),
    "matmul": (lambda x, y: (x @ y) * 0.1, lambda x, y: (x @ y) * np.float32(0.1)),
}


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(_OPS)), st.integers(0, 1000), st.integers(0, 1000)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_random_programs_never_change_a_result_that_is_still_held(program, keep):
    """Results are kept or dropped at random while new ones of the same shape are made; every kept result
    must still equal the NumPy value it had when it was made."""
    pool = [_randn(*SHAPE, seed=1), _randn(*SHAPE, seed=2)]
    held = [(t, t.numpy().copy()) for t in pool]
    for (name, i, j), k in zip(program, keep):
        x, y = held[i % len(held)][0], held[j % len(held)][0]
        fn, ref = _OPS[name]
        out = fn(x, y)
        want = ref(x.numpy(), y.numpy()).astype(np.float32)
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)
        if k:
            held.append((out, out.numpy().copy()))
        del out
    for t, value in held:
        np.testing.assert_array_equal(t.numpy(), value)


def _lstm_grads():
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(16, 64)  # (N, 4H) = (32, 256) gates: recycled
    x = _randn(12, 32, 16, seed=3)
    out, (h, c) = lstm(x)
    ((out * out).sum() + h.sum() + c.sum()).backward()
    return {name: p.grad.numpy().copy() for name, p in lstm.named_parameters()}


def test_recycling_changes_no_gradient_bit():
    with_cache = _lstm_grads()
    assert backend.cache_info()["arrays"] > 0
    backend.set_cache_limit(0)
    without = _lstm_grads()
    assert backend.cache_info()["arrays"] == 0
    for name, g in with_cache.items():
        np.testing.assert_array_equal(g, without[name], err_msg=name)


def test_the_limit_bounds_what_is_held_and_empty_cache_keeps_what_is_in_use():
    a = _randn(*SHAPE)
    backend.set_cache_limit(3 * a.data.nbytes)
    ks = [mg.full(SHAPE, float(k)) for k in range(10)]
    held = [a * k for k in ks]  # more than the limit allows: the rest are plain arrays
    info = backend.cache_info()
    assert info["arrays"] == 3 and info["bytes"] == 3 * a.data.nbytes
    for k, t in enumerate(held):
        np.testing.assert_array_equal(t.numpy(), a.numpy() * np.float32(k))
    del held[:2]
    backend.empty_cache()  # two of the three are free now
    assert backend.cache_info()["arrays"] == 1
    del held
    backend.empty_cache()
    assert backend.cache_info() == {"arrays": 0, "bytes": 0, "limit": 3 * a.data.nbytes}


@pytest.mark.parametrize("bad", [-1, 1.5, True, "1GB"])
def test_a_bad_limit_is_refused(bad):
    with pytest.raises(ValueError, match="set_cache_limit"):
        backend.set_cache_limit(bad)


def test_threads_recycling_at_once_get_their_own_arrays():
    errors = []

    def work(seed):
        a, b = _randn(*SHAPE, seed=seed), _randn(*SHAPE, seed=seed + 100)
        want = (a.numpy() * b.numpy() + a.numpy()).astype(np.float32)
        for _ in range(200):
            out = a * b + a
            if not np.array_equal(out.numpy(), want):
                errors.append(seed)
                return

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_at_the_limit_arrays_of_shapes_no_longer_used_make_room(monkeypatch):
    monkeypatch.setattr(backend, "_EVICT_EVERY", 4)
    a = _randn(*SHAPE)
    b = _randn(128, 32)  # as many elements, another shape
    backend.set_cache_limit(a.data.nbytes)
    _ = a * a  # the one array the limit allows, free again at once
    assert backend.cache_info()["arrays"] == 1
    for _ in range(3):  # misses at the limit: plain arrays
        _ = b * b
    assert backend.cache_info()["arrays"] == 1
    _ = b * b  # the 4th miss drops the free (64, 64) array and recycles a (128, 32) one
    key_shapes = [shape for shape, _ in backend._recycler.arrays]
    assert key_shapes == [(128, 32)]


def test_where_reference_counts_cannot_tell_nothing_is_recycled(monkeypatch):
    monkeypatch.setattr(backend._recycler, "free_refs", None)  # as on PyPy or without the GIL
    a = _randn(*SHAPE)
    y = a * a
    np.testing.assert_array_equal(y.numpy(), a.numpy() * a.numpy())
    backend.empty_cache()
    assert backend.cache_info()["arrays"] == 0


def test_the_recycler_adds_an_array_only_when_none_is_free():
    a, b = _randn(*SHAPE, seed=1), _randn(*SHAPE, seed=2)
    held = [a * b for _ in range(40)]  # 40 in use at once
    assert backend.cache_info()["arrays"] == 40
    del held[20:34]  # 14 free, none among the 16 after the last one handed out
    for _ in range(3):
        more = [a + b for _ in range(13)]  # 14 are free: all 13 are found, none is added
        assert backend.cache_info()["arrays"] == 40
        del more
    np.testing.assert_array_equal(held[0].numpy(), a.numpy() * b.numpy())
