"""Public tools for testing gradients: gradcheck, gradgradcheck, hypothesis strategies and the op-check table.

Check a function's gradients against central finite differences (float64)::

    import minigrad as mg
    from minigrad.testing import gradcheck, gradgradcheck

    x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    w = mg.randn(4, 2, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda x, w: (x @ w).tanh(), (x, w))
    assert gradgradcheck(lambda x, w: (x @ w).tanh(), (x, w))  # second derivatives too

Test a new op with one table row (needs hypothesis)::

    import numpy as np
    from hypothesis import given, strategies as st
    from minigrad.testing import OpSpec, check_op

    SPEC = OpSpec("softplus", lambda x: (1 + x.exp()).log(), lambda a: np.log1p(np.exp(a)), domain=(-4, 4))

    @given(data=st.data())
    def test_softplus(data):
        check_op(SPEC, data)  # forward vs NumPy, gradcheck, gradgradcheck, no mutation, float32, no_grad

Strategies for your own property tests: `shapes`, `broadcastable_shapes`, `tensors`, `valid_axes`,
`spaced_floats`. The hypothesis-based names load on first use, so `gradcheck` works without hypothesis.
"""

from .gradcheck import GradcheckError, gradcheck, gradgradcheck

_LAZY = {
    "shapes": "strategies",
    "broadcastable_shapes": "strategies",
    "tensors": "strategies",
    "valid_axes": "strategies",
    "spaced_floats": "strategies",
    "OpSpec": "opcheck",
    "check_op": "opcheck",
    "op_test": "opcheck",
}

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'minigrad.testing' has no attribute {name!r}")
    from importlib import import_module

    try:
        return getattr(import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("hypothesis"):
            raise
        raise ImportError(
            f"minigrad.testing.{name} needs hypothesis: pip install 'minigrad[test]' ({e})"
        ) from None
