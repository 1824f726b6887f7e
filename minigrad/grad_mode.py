"""Grad mode: whether ops record a graph, per thread. `no_grad`, `enable_grad` and `set_grad_enabled`
switch it, as context managers or decorators."""

from __future__ import annotations

import functools
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

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad:
    """Context manager and decorator: ops run but record nothing (use it for inference and optimizer steps)."""

    _mode_value = False

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._mode_value

    def __exit__(self, *exc):
        _mode.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that turns recording back on inside `no_grad`."""

    _mode_value = True
