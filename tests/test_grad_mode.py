"""Tests of grad mode (grad_mode.py): no_grad, enable_grad and set_grad_enabled as context managers and
decorators. That the mode is per thread is tested in test_threads.py."""

import numpy as np
import pytest

import minigrad as mg


def _t(values, device, requires_grad=True):
    return mg.tensor(
        np.asarray(values, dtype=np.float64), device=device, requires_grad=requires_grad
    )


def test_no_grad_context_and_decorator(device):
    x = _t([1.0, 2.0], device)
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @mg.no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad and mg.is_grad_enabled()


def test_enable_grad_inside_no_grad(device):
    x = _t([1.0, 2.0], device)
    with mg.no_grad():
        with mg.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad

    @mg.enable_grad()
    def record(t):
        return t * 3

    with mg.no_grad():
        w = record(x)
    assert w.requires_grad
    w.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_set_grad_enabled(device):
    x = _t([1.0], device)
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with mg.set_grad_enabled(True):
        assert (x * 2).requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            raise ZeroDivisionError
    assert mg.is_grad_enabled()


def test_decorators_apply_to_each_step_of_a_generator(device):
    # torch wraps generator functions so that the mode holds inside every step (and not between them)
    x = _t([1.0], device)

    @mg.no_grad()
    def without(t):
        yield (t * 2).requires_grad
        assert mg.is_grad_enabled() is False
        received = yield (t * 3).requires_grad
        return received

    gen = without(x)
    assert next(gen) is False
    assert mg.is_grad_enabled()  # the caller's mode between steps
    assert gen.send(None) is False
    with pytest.raises(StopIteration):
        gen.send("done")

    with mg.no_grad():

        @mg.enable_grad()
        def with_grad(t):
            yield (t * 2).requires_grad

        assert list(with_grad(x)) == [True]

    @mg.set_grad_enabled(False)
    def off(t):
        yield (t * 2).requires_grad

    assert list(off(x)) == [False]


def test_no_grad_decorator_without_parentheses(device):
    x = _t([1.0], device)

    @mg.no_grad
    def double(t):
        return t * 2

    assert not double(x).requires_grad and double.__name__ == "double"
    assert mg.is_grad_enabled()
    with pytest.raises(TypeError, match="takes no arguments"):
        mg.no_grad(3)
