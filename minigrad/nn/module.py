"""Module, the base class of every layer, and the containers Sequential, ModuleList and ModuleDict.

A Module finds its parameters, buffers and sub-modules by walking its own attributes, in the order their
names first held a Parameter or Module (as in PyTorch); there is no registration step besides
`register_buffer` for non-learnable state.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# Instance attributes that hold the Module's own bookkeeping, never parameters or children.
_INTERNAL = frozenset({"training", "_buffers", "_kinds", "_modules", "_module_names"})


class Module:
    """Base class for layers and models, with PyTorch's interface.

    Subclass it, assign parameters and sub-modules as attributes in `__init__`, and write `forward`::

        class MLP(mg.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = mg.nn.Linear(4, 8)
                self.fc2 = mg.nn.Linear(8, 1)

            def forward(self, x):
                return self.fc2(self.fc1(x).tanh())

    Parameters, buffers and child modules are found by walking the instance attributes in the order their
    names were first given a Parameter or Module (a name that held None or a number before goes last,
    one refilled after `self.bias = None` keeps its place, as in PyTorch): a `Parameter` is a parameter,
    a `Module` a child, and lists, tuples and dicts are searched too (a list `self.layers = [...]` names
    its entries `layers.0`, `layers.1`, ... exactly like `ModuleList`). Plain Tensors are only part of
    the module's state when registered with `register_buffer`. Calling the module runs `forward`.
    """

    training = True

    def __init__(self):
        self.training = True
        self._buffers = {}  # buffer name -> persistent (saved in state_dict)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __setattr__(self, name: str, value) -> None:
        # The same rules as PyTorch: a name that holds (or held, and is now None) a Parameter takes only a
        # Parameter or None; one that holds a Module takes a Module, a Parameter or None; a buffer takes
        # a Tensor or None, or stops being a buffer when given a Parameter or Module.
        d = self.__dict__
        kinds = d.setdefault("_kinds", {})  # name -> "param" | "module", kept while it holds None
        buffers = d.get("_buffers", {})
        kind, old = _kind(value), kinds.get(name) or _kind(d.get(name))
        what = f"'{type(value).__name__}' as"
        if old == "param" and value is not None and kind != "param":
            raise TypeError(
                f"cannot assign {what} parameter '{name}' of {type(self).__name__} (Parameter or None "
                f"expected); assign mg.nn.Parameter(value), update it in place with "
                f"`with mg.no_grad(): self.{name}.copy_(value)`, or `del self.{name}` first"
            )
        if old == "module" and value is not None and kind is None:
            raise TypeError(
                f"cannot assign {what} child module '{name}' of {type(self).__name__} (Module or None "
                f"expected); `del self.{name}` first to reuse the name"
            )
        if name in buffers and kind is None and value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"cannot assign {what} buffer '{name}' of {type(self).__name__} (Tensor or None "
                f"expected); `del self.{name}` first to reuse the name"
            )
        if kind is not None:
            buffers.pop(name, None)  # a buffer given a Parameter or Module becomes one
            if old != kind:  # a new parameter or module goes last, like PyTorch's registration
                d.pop(name, None)
            kinds[name] = kind
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        # a later value under this name starts afresh: a plain Tensor is not a buffer, any type is allowed
        self.__dict__.get("_buffers", {}).pop(name, None)
        self.__dict__.get("_kinds", {}).pop(name, None)
        object.__delattr__(self, name)

    # ---- walking the attributes ------------------------------------------------------------------
    def _entries(self):
        """(name, value) pairs that may hold parameters, buffers or children: the instance attributes."""
        for name, value in vars(self).items():
            if name not in _INTERNAL:
                yield name, value

    def _members(self):
        """Yield ("param" | "buffer" | "module", dotted name, value) for this module's direct members."""
        buffers = self.__dict__.get("_buffers", {})
        for name, value in self._entries():
            if name in buffers:
                if value is not None:
                    yield "buffer", name, value
            else:
                yield from _walk(name, value)

    def _all(self, kind: str):
        """(name, value) for every direct member of one kind, repeats included (state_dict and repr list
        a tensor or module held under two names under both, like PyTorch)."""
        for k, name, value in self._members():
            if k == kind:
                yield name, value

    def _own(self, kind: str):
        """_all(kind), each value once (named_parameters and friends)."""
        seen = set()
        for name, value in self._all(kind):
            if id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def named_children(self):
        """Yield (name, module) for each direct child module (each module once)."""
        yield from self._own("module")

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix: str = ""):
        """Yield (dotted name, module) for this module ('') and every module below it, depth first."""
        if memo is None:
            memo = set()
        if self in memo:  # (a set of modules, as in torch: a caller may pass modules to skip)
            return
        memo.add(self)
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(memo, prefix + ("." if prefix else "") + name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def _named_state(self, kind: str, prefix: str = "", recurse: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in module._own(kind):
                if id(value) not in seen:  # a tensor shared by two modules is listed once
                    seen.add(id(value))
                    yield mod_prefix + ("." if mod_prefix else "") + name, value

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path `target` ('' is this module), as torch's get_submodule."""
        module = self
        for part in target.split(".") if target else ():
            children = dict(module.named_children())
            if part not in children:
                raise AttributeError(
                    f"get_submodule: {type(module).__name__} has no submodule '{part}' (of '{target}')"
                )
            module = children[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path `target` (e.g. 'rnn.weight_hh_l0'), as in torch."""
        return self._get_own("parameter", target)

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path `target`, as in torch."""
        return self._get_own("buffer", target)

    def _get_own(self, what: str, target: str):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        named = module.named_parameters if what == "parameter" else module.named_buffers
        entries = dict(named(recurse=False))
        if name not in entries:
            raise AttributeError(f"get_{what}: no {what} '{target}'")
        return entries[name]

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield (dotted name, Parameter), e.g. ('encoder.layers.0.weight', ...), each Parameter once."""
        yield from self._named_state("param", prefix, recurse)

    def parameters(self, recurse: bool = True):
        """Yield every Parameter of this module and (with recurse) of its descendants, each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_state("buffer", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Attach non-learnable state (a running mean, a mask) that moves with `.to()` and, when
        persistent, is saved in `state_dict()`. It is then read and assigned as `self.<name>`."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(
                f"register_buffer: buffer name must be a non-empty string without '.', got {name!r}"
            )
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}"
            )
        if isinstance(tensor, Parameter):
            raise KeyError(
                f"register_buffer: '{name}' is a Parameter; a buffer must be a plain Tensor"
            )
        if "_buffers" not in self.__dict__:
            object.__setattr__(self, "_buffers", {})
        if name not in self._buffers and hasattr(self, name):
            raise KeyError(
                f"register_buffer: attribute '{name}' already exists on {type(self).__name__}; "
                f"choose another name, or `del module.{name}` first"
            )
        self._buffers[name] = bool(persistent)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Same as `self.<name> = param` (PyTorch spelling); param must be a Parameter or None.

        None reserves the slot: the name then takes only a Parameter (or None), which keeps its place."""
        self._check_new_name("register_parameter", "parameter", name, "param")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}"
            )
        setattr(self, name, param)
        if param is None:
            self._kinds[name] = "param"

    def add_module(self, name: str, module: Module | None) -> None:
        """Same as `self.<name> = module` (PyTorch spelling); module must be a Module or None.

        None reserves the slot, like `register_parameter(name, None)`."""
        self._check_new_name("add_module", "module", name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"add_module: '{name}' must be a Module or None, got {type(module).__name__}"
            )
        setattr(self, name, module)
        if module is None:
            self._kinds[name] = "module"

    def _check_new_name(self, op: str, what: str, name, kind: str) -> None:
        """torch's rules for a registered name: a non-empty string without '.', not already another
        attribute (a method such as `forward`, a plain value, or an entry of another kind)."""
        if not isinstance(name, str):
            raise TypeError(f"{op}: {what} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{op}: {what} name must be a non-empty string without '.', got {name!r}")
        kinds = self.__dict__.get("_kinds", {})
        if hasattr(self, name) and (kinds.get(name) or _kind(self.__dict__.get(name))) != kind:
            raise KeyError(
                f"{op}: attribute '{name}' already exists on {type(self).__name__}; choose another name"
            )

    # ---- modes and gradients ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (True) or evaluation mode (False) on this module and all below it."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)  # (as in torch: a child's own train() override is honoured)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout passes inputs through unchanged. Same as train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default) or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                p.grad.data.fill(0)

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(
        self, destination=None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict:
        """An ordered name -> Tensor mapping of every parameter and persistent buffer.

        Per module, its own parameters come first, then its buffers, then its children's entries (the
        order PyTorch uses; a tensor or module reachable under two names is saved under both). The
        tensors are detached but share memory with the module (clone them to keep a snapshot); with
        keep_vars=True the Parameters themselves are returned. `prefix` is prepended to every name as is
        (e.g. 'enc.').
        """
        out = OrderedDict() if destination is None else destination
        persistent = self.__dict__.get("_buffers", {})
        for name, p in self._all("param"):
            out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._all("buffer"):
            if persistent.get(name, True):
                out[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._all("module"):
            child.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors or numpy/cupy arrays) into the parameters and buffers, in place.

        Everything is checked before anything is written: with strict=True, missing and unexpected keys
        are errors; shape mismatches and values that are not arrays always are. All problems are reported
        together in one RuntimeError and the module is left exactly as it was. Values are cast to each
        tensor's dtype and moved to its device. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"load_state_dict: expected a dict of name -> Tensor, got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append(
                "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
            )
        if strict and unexpected:
            errors.append(
                "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + "."
            )
        updates = []
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if isinstance(value, Tensor):
                value = value.data
            elif not backend.is_array(value) and hasattr(value, "__array__"):
                value = backend.cpu.xp.asarray(value)  # e.g. a torch state_dict() as it is
            if not backend.is_array(value):
                errors.append(
                    f"value for {name} is a {type(value).__name__}, not a Tensor or array."
                )
                continue
            if tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {name}: copying a param with shape {tuple(value.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(target.shape)}."
                )
                continue
            updates.append((target, value))
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        for target, value in updates:
            if backend.device_of(value) is not target.device:
                value = target.device.xp.asarray(backend.to_numpy(value))
            with no_grad():
                target.copy_(
                    Tensor._make(value.astype(target.dtype, copy=False), target.device, False, None)
                )
        return IncompatibleKeys(missing, unexpected)

    # ---- devices and dtypes --------------------------------------------------------------------------
    def _apply_to_tensors(self, fn) -> Module:
        """Replace the array of every parameter and buffer (and gradient) by fn(tensor), in place, so
        Parameters keep their identity (optimizers holding them stay valid)."""
        for t in list(self.parameters()) + list(self.buffers()):
            new = fn(t)
            t.data, t.device = new.data, new.device
            if t.grad is not None:
                g = fn(t.grad)
                t.grad = Tensor._make(g.data, g.device, False, None)
        return self

    def to(self, device=None, dtype=None) -> Module:
        """Move parameters and buffers to `device` and/or cast the floating ones to `dtype`, in place.

        Returns self, like PyTorch. Parameters stay the same objects and keep their requires_grad. As in
        torch, the first argument may also be a dtype (`m.to(mg.float64)`) or a tensor whose device and
        dtype to take.
        """
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype if dtype is None else dtype
        elif (device is not None and not isinstance(device, (str, backend.Device))) or (
            device in backend._DTYPES
        ):
            if dtype is not None:
                raise TypeError("Module.to: pass the dtype once (to(dtype) or to(device, dtype))")
            device, dtype = None, device
        if dtype is not None:
            dtype = backend.as_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to: dtype must be a floating point dtype, got {dtype}")
        dev = backend.device(device) if device is not None else None

        def convert(t: Tensor) -> Tensor:
            with no_grad():
                if dtype is not None and t.dtype.kind == "f":
                    t = t.astype(dtype)
                if dev is not None:
                    t = t.to(dev)
            return t

        return self._apply_to_tensors(convert)

    def float(self) -> Module:
        return self.to(dtype=backend.float32)

    def double(self) -> Module:
        return self.to(dtype=backend.float64)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def apply(self, fn) -> Module:
        """Call fn(module) on every child (recursively) and then on self; e.g. custom initialisation."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- printing ------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr(), e.g. 'in_features=2, out_features=3'."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, child in self._all("module"):
            child_repr = repr(child).replace("\n", "\n  ")
            child_lines.append(f"({name}): {child_repr}")
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if len(extra_lines) == 1 and not child_lines:
            main += extra_lines[0]
        elif lines:
            main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _kind(value) -> str | None:
    if isinstance(value, Parameter):
        return "param"
    return "module" if isinstance(value, Module) else None


def _walk(name: str, value):
    """Parameters and modules inside an attribute value, looking into lists, tuples and dicts."""
    if isinstance(value, Parameter):
        yield "param", name, value
    elif isinstance(value, Module):
        yield "module", name, value
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(f"{name}.{i}", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                yield from _walk(f"{name}.{k}", v)


# ---- containers ---------------------------------------------------------------------------------------


class ModuleList(Module):
    """A list of modules, indexed like a Python list; its entries are named '0', '1', ...

    The entries are attributes too, as in PyTorch: `getattr(layers, '0')`, and `setattr(layers, '0', m)`
    replaces the first entry.

    Parameters
    ----------
    modules : iterable of Module, optional
    """

    def __init__(self, modules=None):
        super().__init__()
        self._modules = []
        if modules is not None:
            self.extend(modules)

    def _names(self) -> list:
        """The entries' names, in order."""
        return [str(i) for i in range(len(self.__dict__.get("_modules", ())))]

    def _entries(self):
        yield from zip(self._names(), self._modules)
        yield from super()._entries()

    def __getattr__(self, name: str):
        names = self._names()
        if name in names:
            return self._modules[names.index(name)]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        names = self._names()
        if name in names:  # the entry is replaced in place, as in PyTorch
            self._modules[names.index(name)] = self._check(value)
        else:
            super().__setattr__(name, value)

    def _check(self, module) -> Module:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        return module

    def append(self, module: Module) -> ModuleList:
        self._modules.append(self._check(module))
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._modules.insert(index, self._check(module))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self._modules[index])
        return self._modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._modules[index] = self._check(module)

    def __delitem__(self, index) -> None:
        del self._modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleList has no forward: iterate over it in your own forward (for layer in self.layers: ...), "
            "or use Sequential"
        )


class Sequential(ModuleList):
    """Modules applied one after another: Sequential(a, b, c)(x) == c(b(a(x))).

    Entries are named '0', '1', ... or, when built from an OrderedDict, by its keys; either way they are
    attributes (`seq.fc`, and `seq.fc = m` replaces that entry). As in PyTorch, a slice keeps the names
    (`Sequential(a, b, c)[1:]` holds '1' and '2'), `append` names the new entry `str(len(seq))`, and
    deleting an entry renumbers all of them '0', '1', ...
    """

    def __init__(self, *args):
        Module.__init__(self)
        self._modules = []
        self._module_names = []
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self._modules.append(self._check(m))
                self._module_names.append(str(name))
        else:
            self.extend(args)

    def _names(self) -> list:
        return self.__dict__.get("_module_names", [])

    def _numbered(self) -> bool:
        return self._module_names == [str(i) for i in range(len(self._modules))]

    def append(self, module: Module) -> Sequential:
        name = str(len(self._modules))
        if name in self._module_names:
            raise KeyError(
                f"Sequential.append: the name '{name}' is already taken (this Sequential came from a "
                "slice or an OrderedDict); PyTorch would silently replace that entry. Build a new one "
                "instead: Sequential(OrderedDict([*seq.named_children(), ('new', module)]))"
            )
        self._modules.append(self._check(module))
        self._module_names.append(name)
        return self

    def insert(self, index: int, module: Module) -> None:
        if not self._numbered():
            raise NotImplementedError(
                "Sequential.insert: only supported when the entries are named '0', '1', ... in order"
            )
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} entries")
        self._modules.insert(index, self._check(module))
        self._module_names.append(str(len(self._module_names)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(zip(self._module_names[index], self._modules[index])))
        return self._modules[index]

    def __delitem__(self, index) -> None:
        del self._modules[index]
        self._module_names = [str(i) for i in range(len(self._modules))]

    def forward(self, x):
        for m in self._modules:
            x = m(x)
        return x


class ModuleDict(Module):
    """An ordered dict of modules, indexed by string keys (which become their names).

    The entries are attributes too, as in PyTorch: `d.enc` is `d['enc']`, `d.enc = m` sets `d['enc']`
    (assigning any Module attribute adds an entry) and `del d.enc` removes it.

    Parameters
    ----------
    modules : dict or iterable of (str, Module), optional
    """

    def __init__(self, modules=None):
        super().__init__()
        self._modules = {}
        if modules is not None:
            self.update(modules)

    def _entries(self):
        yield from self._modules.items()
        yield from super()._entries()

    def __getattr__(self, name: str):
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        if name in self.__dict__.get("_modules", {}) or isinstance(value, Module):
            self[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_modules", {}):
            del self._modules[name]
        else:
            super().__delattr__(name)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or "." in key or not key:
            raise KeyError(f"ModuleDict keys must be non-empty strings without '.', got {key!r}")
        if (key not in self._modules and key in self.__dict__) or hasattr(type(self), key):
            # e.g. 'training' or 'keys': the entry would hide the attribute (torch refuses it too)
            raise KeyError(f"ModuleDict: attribute '{key}' already exists; choose another key")
        if not isinstance(module, Module):
            raise TypeError(
                f"ModuleDict holds Modules, got {type(module).__name__} for key {key!r}"
            )
        self._modules[key] = module

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            "ModuleDict has no forward: pick its modules by key in your own forward"
        )
