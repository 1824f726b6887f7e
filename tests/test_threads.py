"""Grad mode is per thread: `no_grad` in one thread leaves another thread recording.

Threads are interleaved deterministically with `threading.Event`s, so each check happens while the
other thread is known to be inside (or outside) its `no_grad` block.
"""

import threading

import numpy as np

import minigrad as mg

TIMEOUT = 10  # seconds; a wait that runs out means a thread died, which the assertions then report


def _run_threads(*targets):
    errors = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # hand the failure to the main thread
                errors.append(e)

        return run

    threads = [threading.Thread(target=guard(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    a_inside = threading.Event()
    b_recorded = threading.Event()
    results = {}

    def thread_a():
        x = mg.randn(3, requires_grad=True)
        with mg.no_grad():
            a_inside.set()
            assert b_recorded.wait(TIMEOUT)
            y = x * 2.0  # B has recorded meanwhile; A is still inside no_grad
            results["a"] = (mg.is_grad_enabled(), y.requires_grad, y.grad_fn)
        results["a_after"] = mg.is_grad_enabled()

    def thread_b():
        assert a_inside.wait(TIMEOUT)  # A is inside no_grad now
        x = mg.randn(3, requires_grad=True)
        y = mg.tanh(x * 2.0)
        results["b"] = (mg.is_grad_enabled(), y.requires_grad, y.grad_fn)
        y.sum().backward()
        results["b_grad"] = (x.grad.numpy(), x.numpy())
        b_recorded.set()

    _run_threads(thread_a, thread_b)
    assert results["a"] == (False, False, None)
    assert results["a_after"] is True
    enabled, requires_grad, grad_fn = results["b"]
    assert enabled and requires_grad and grad_fn is not None
    g, x = results["b_grad"]
    np.testing.assert_allclose(g, 2.0 * (1.0 - np.tanh(2.0 * x) ** 2), rtol=1e-5)


def test_set_grad_enabled_and_enable_grad_are_per_thread():
    a_off = threading.Event()
    b_checked = threading.Event()
    seen = {}

    def thread_a():
        with mg.set_grad_enabled(False):
            a_off.set()
            assert b_checked.wait(TIMEOUT)
            with mg.enable_grad():
                seen["a_nested"] = mg.is_grad_enabled()
            seen["a"] = mg.is_grad_enabled()

    def thread_b():
        assert a_off.wait(TIMEOUT)
        seen["b"] = mg.is_grad_enabled()
        b_checked.set()

    _run_threads(thread_a, thread_b)
    assert seen == {"a_nested": True, "a": False, "b": True}


def test_a_new_thread_records_even_when_the_main_thread_is_in_no_grad():
    seen = {}

    def worker():
        x = mg.randn(2, requires_grad=True)
        seen["recorded"] = (x * x).grad_fn is not None

    with mg.no_grad():
        _run_threads(worker)
        assert not mg.is_grad_enabled()
    assert seen == {"recorded": True}
    assert mg.is_grad_enabled()


def test_no_grad_decorator_in_a_thread_leaves_main_recording():
    inside = threading.Event()
    release = threading.Event()

    @mg.no_grad()
    def blocked():
        inside.set()
        assert release.wait(TIMEOUT)

    t = threading.Thread(target=blocked)
    t.start()
    try:
        assert inside.wait(TIMEOUT)
        x = mg.randn(2, requires_grad=True)
        assert (x * 3.0).grad_fn is not None  # main thread records while the worker sits in no_grad
    finally:
        release.set()
        t.join(TIMEOUT)


def test_two_threads_training_separate_models_get_the_single_thread_result():
    def train(seed):
        rng = np.random.default_rng(seed)
        w = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
        x = mg.tensor(rng.standard_normal((8, 4)))
        for _ in range(50):
            loss = (mg.tanh(x @ w) ** 2).mean()
            loss.backward()
            with mg.no_grad():
                w -= 0.1 * w.grad
            w.grad = None
        return w.numpy().copy()

    expected = {0: train(0), 1: train(1)}
    got = {}
    start = threading.Barrier(2, timeout=TIMEOUT)

    def worker(seed):
        def run():
            start.wait()  # both threads train at the same time
            got[seed] = train(seed)

        return run

    _run_threads(worker(0), worker(1))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
