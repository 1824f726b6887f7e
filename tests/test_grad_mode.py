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
