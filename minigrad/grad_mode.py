"""Grad mode: whether ops record a graph, per thread. `no_grad`, `enable_grad` and `set_grad_enabled`
switch it, as context managers or decorators."""

from __future__ import annotations

import functools
import inspect
import threading


class _GradMode(threading.local):
    enabled = True  # per thread: no_grad in one thread leaves the others recording
    anomaly_node = None  # the node whose backward is running in this thread, for anomaly messages


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns recording on (True) or off (False) in this thread."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev = _mode.enabled
        _mode.enabled = self.mode  # like torch: calling it as a function takes effect at once

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev

    def __call__(self, fn):
        _mode.enabled = self.prev  # used as a decorator: undo the eager switch from __init__
        return _decorate(fn, lambda: set_grad_enabled(self.mode))


class no_grad:
    """Context manager and decorator: ops run but record nothing (use it for inference and optimizer steps).
    As in torch, the decorator may be written with or without parentheses (`@no_grad()` or `@no_grad`)."""

    _mode_value = False

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is None:
            return self
        if not callable(fn):
            raise TypeError(f"{cls.__name__}() takes no arguments (or a function to decorate)")
        return self(fn)  # @no_grad without parentheses

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._mode_value

    def __exit__(self, *exc):
        _mode.enabled = self._prev

    def __call__(self, fn):
        return _decorate(fn, type(self))


def _decorate(fn, make_mode):
    """fn run under the grad mode that make_mode() enters. NOTE: a generator function gets the mode around
    each of its steps (not just the call, which only creates the generator), and the caller's mode back
    between them, as in torch."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            step, value = gen.send, None
            while True:
                try:
                    with make_mode():
                        request = step(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    value = yield request
                    step = gen.send
                except GeneratorExit:
                    with make_mode():
                        gen.close()
                    raise
                except BaseException as e:  # thrown into us: pass it on to fn's generator
                    step, value = gen.throw, e

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_mode():
            return fn(*args, **kwargs)

    return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that turns recording back on inside `no_grad`."""

    _mode_value = True
