"""Tests of minigrad.nn, plus helpers shared by them."""

from minigrad.testing import gradcheck


def module_gradcheck(module, *inputs, **kwargs) -> bool:
    """gradcheck module(*inputs) with respect to the inputs that require grad and every parameter.

    gradcheck calls fn with fresh copies of its arguments, so the parameters are swapped into the module
    for each call (plain attribute writes that bypass Module.__setattr__) and restored afterwards.
    """
    slots = []
    for name, p in module.named_parameters():
        owner = module
        *path, attr = name.split(".")
        for part in path:
            owner = owner[int(part)] if part.isdigit() else getattr(owner, part)
        slots.append((owner, attr, p))

    def fn(*args):
        xs, ps = args[: len(inputs)], args[len(inputs) :]
        for (owner, attr, _), p in zip(slots, ps):
            object.__setattr__(owner, attr, p)
        try:
            return module(*xs)
        finally:
            for owner, attr, p in slots:
                object.__setattr__(owner, attr, p)

    return gradcheck(fn, (*inputs, *(p for _, _, p in slots)), **kwargs)
