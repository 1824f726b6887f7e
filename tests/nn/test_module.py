"""Module bookkeeping: parameter discovery and names, buffers, modes, state dicts, dtype moves, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(mg.ones(2))
        self.fc = nn.Linear(2, 2)
        self.register_buffer("running", mg.zeros(2))
        self.register_buffer("scratch", mg.zeros(3), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 2)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3, bias=False)})
        self.extra = [nn.Linear(2, 2)]  # a plain list is searched too
        self.table = {"w": nn.Parameter(mg.zeros(4))}
        self.seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Tanh()))
        self.drop = nn.Dropout(0.5)
        self.bias = nn.Parameter(mg.zeros(1))

    def forward(self, idx):
        h = self.embed(idx)
        for b in self.blocks:
            h = b(h)
        return self.heads["a"](self.seq(self.drop(h))) + self.bias


NET_PARAMS = [
    "table.w",  # the module's own parameters come first, in assignment order, then its children's
    "bias",
    "embed.weight",
    "blocks.0.scale",
    "blocks.0.fc.weight",
    "blocks.0.fc.bias",
    "blocks.1.scale",
    "blocks.1.fc.weight",
    "blocks.1.fc.bias",
    "heads.a.weight",
    "heads.a.bias",
    "heads.b.weight",
    "extra.0.weight",
    "extra.0.bias",
    "seq.fc.weight",
    "seq.fc.bias",
]


# ---- Parameter ---------------------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_that_shares_data():
    t = mg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, mg.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    p.data[0, 0] = 42.0
    assert t.data[0, 0] == 42.0  # shared, like torch.nn.Parameter
    y = p * 2
    assert type(y) is mg.Tensor  # results of ops are plain tensors
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((2, 3), 2.0, dtype=np.float32))
    assert "Parameter containing" in repr(p)


def test_parameter_from_list_and_requires_grad_false():
    p = nn.Parameter([1.0, 2.0], requires_grad=False)
    assert not p.requires_grad and p.shape == (2,) and p.dtype == mg.float32
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(mg.tensor([1, 2]))


# ---- discovery and names -----------------------------------------------------------------------------


def test_named_parameters_walks_attributes_in_assignment_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == NET_PARAMS
    assert len(list(net.parameters())) == len(NET_PARAMS)
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert [n for n, _ in net.blocks[0].named_parameters(prefix="x")] == [
        "x.scale",
        "x.fc.weight",
        "x.fc.bias",
    ]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["table.w", "bias"]


def test_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_children()] == [
        "embed",
        "blocks",
        "heads",
        "extra.0",
        "seq",
        "drop",
    ]
    names = [n for n, _ in net.named_modules()]
    assert names[:5] == ["", "embed", "blocks", "blocks.0", "blocks.0.fc"]
    assert "heads.b" in names and "seq.act" in names and "extra.0" in names
    assert len(list(net.modules())) == len(names) == len({id(m) for m in net.modules()})
    assert next(iter(net.children())) is net.embed


def test_shared_parameter_is_listed_once_but_saved_under_both_names():
    a = nn.Linear(2, 2)
    m = nn.Sequential(a, nn.Tanh(), a)
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch


def test_parameters_in_a_plain_list_and_tuple():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = [nn.Parameter(mg.zeros(1)), nn.Parameter(mg.zeros(2))]
            self.pair = (nn.Tanh(), nn.Linear(1, 1))
            self.not_state = mg.zeros(3)  # a plain tensor that is not a buffer is not state

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["ws.0", "ws.1", "pair.1.weight", "pair.1.bias"]
    assert list(m.state_dict()) == ["ws.0", "ws.1", "pair.1.weight", "pair.1.bias"]


def test_module_without_super_init_still_works():
    class Lazy(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.ones(2))

        def forward(self, x):
            return x * self.w

    m = Lazy()
    assert m.training
    assert [n for n, _ in m.named_parameters()] == ["w"]
    m.register_buffer("b", mg.zeros(1))
    assert list(m.state_dict()) == ["w", "b"]
    assert m.eval().training is False


def test_assigning_a_plain_tensor_over_a_parameter_is_an_error():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight.*Parameter"):
        lin.weight = lin.weight * 2
    lin.weight = nn.Parameter(mg.zeros(2, 2))  # replacing with a Parameter is fine
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


def test_register_parameter_and_add_module_are_attribute_assignments():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(mg.zeros(2)))
    m.add_module("fc", nn.Linear(2, 1))
    m.register_parameter("unused", None)
    assert [n for n, _ in m.named_parameters()] == ["w", "fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("x", mg.zeros(1))
    with pytest.raises(TypeError, match="Module or None"):
        m.add_module("y", 3)


# ---- buffers ------------------------------------------------------------------------------------------


def test_buffers_and_persistence():
    b = Block()
    assert [n for n, _ in b.named_buffers()] == ["running", "scratch"]
    assert list(b.state_dict()) == ["scale", "running", "fc.weight", "fc.bias"]
    b.running = mg.ones(2)  # reassigning keeps it a buffer
    assert [n for n, _ in b.named_buffers()] == ["running", "scratch"]
    np.testing.assert_array_equal(b.state_dict()["running"].numpy(), np.ones(2, np.float32))
    assert "running" not in [n for n, _ in b.named_parameters()]
    b.register_buffer("maybe", None)
    assert [n for n, _ in b.named_buffers()] == ["running", "scratch"]
    del b.running
    b.running = mg.ones(2)  # deleted, then assigned again: now a plain attribute
    assert [n for n, _ in b.named_buffers()] == ["scratch"]


def test_register_buffer_errors():
    m = nn.Linear(1, 1)
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", mg.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("a", np.zeros(1))
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", mg.zeros(1))
    with pytest.raises(KeyError, match="Parameter"):
        m.register_buffer("other", nn.Parameter(mg.zeros(1)))


# ---- modes and gradients ----------------------------------------------------------------------------


def test_train_eval_propagate_to_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].fc.training and not net.training and not net.drop.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="bool"):
        net.train("no")


def test_zero_grad():
    lin = nn.Linear(3, 2)
    lin(mg.randn(4, 3)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.numpy(), np.zeros((2, 3), np.float32))
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_requires_grad_():
    lin = nn.Linear(2, 2).requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())


def test_apply_visits_children_before_self():
    seen = []
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.Tanh()))
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Tanh", "Sequential", "Sequential"]

    def init_zero(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_zero)
    assert float(net[0].weight.sum()) == 0.0


# ---- state_dict / load_state_dict ----------------------------------------------------------------------


def test_state_dict_order_and_detached_shared_memory():
    net = Net()
    sd = net.state_dict()
    expected = []
    for n in NET_PARAMS:
        expected.append(n)
        if n.endswith("scale"):  # Block: own params, own buffers, then children
            expected.append(n.replace("scale", "running"))
    assert list(sd) == expected
    assert all(not v.requires_grad and type(v) is mg.Tensor for v in sd.values())
    assert sd["embed.weight"].data is net.embed.weight.data  # shares memory like PyTorch
    kv = net.state_dict(keep_vars=True)
    assert kv["embed.weight"] is net.embed.weight


def test_state_dict_round_trip_restores_outputs():
    mg.manual_seed(0)
    a, b = Net().eval(), Net().eval()
    idx = mg.tensor([[0, 1], [4, 2]])
    assert not np.allclose(a(idx).numpy(), b(idx).numpy())
    snapshot = {
        k: v.numpy().copy() for k, v in a.state_dict().items()
    }  # plain numpy arrays load too
    params_before = list(b.parameters())
    result = b.load_state_dict(snapshot)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(idx).numpy(), b(idx).numpy())
    assert all(p is q for p, q in zip(params_before, b.parameters()))  # loaded in place
    b.load_state_dict(a.state_dict())  # Tensors too


def test_load_state_dict_casts_to_the_parameter_dtype():
    lin = nn.Linear(2, 1)
    lin.load_state_dict(
        {"weight": np.array([[1.0, 2.0]]), "bias": np.array([3.0])}
    )  # float64 arrays
    assert lin.weight.dtype == mg.float32
    np.testing.assert_array_equal(lin.weight.numpy(), np.array([[1.0, 2.0]], np.float32))


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = {k: v.numpy().copy() + 1 for k, v in net.state_dict().items()}
    del bad["heads.a.bias"]
    del bad["blocks.1.running"]
    bad["unknown.weight"] = np.zeros(2)
    bad["embed.weight"] = np.zeros((6, 2))
    bad["seq.fc.weight"] = np.zeros((2,))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "Net" in msg
    for name in ("heads.a.bias", "blocks.1.running", "unknown.weight"):
        assert f'"{name}"' in msg
    assert "size mismatch for embed.weight" in msg and "(6, 2)" in msg and "(5, 2)" in msg
    assert "size mismatch for seq.fc.weight" in msg and "(2,)" in msg and "(2, 2)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])  # untouched


def test_load_state_dict_non_strict():
    lin = nn.Linear(2, 2)
    result = lin.load_state_dict(
        {"weight": np.eye(2, dtype=np.float32), "other": np.zeros(1)}, strict=False
    )
    assert result == (["bias"], ["other"])
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(lin.weight.numpy(), np.eye(2, dtype=np.float32))
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        lin.load_state_dict(
            {"weight": np.zeros((3, 3))}, strict=False
        )  # shapes are checked regardless
    with pytest.raises(RuntimeError, match="not a Tensor or array"):
        lin.load_state_dict({"weight": [[1.0, 0.0], [0.0, 1.0]], "bias": np.zeros(2)})


def test_state_dict_matches_pytorch_names_and_loads_pytorch_weights():
    torch = pytest.importorskip("torch")

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(2))
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("running", torch.zeros(2))
            self.register_buffer("scratch", torch.zeros(3), persistent=False)

        def forward(self, x):
            return self.fc(x) * self.scale + self.running

    ours = nn.Sequential(Block(), nn.LayerNorm(2), nn.Linear(2, 3))
    theirs = torch.nn.Sequential(TorchBlock(), torch.nn.LayerNorm(2), torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(
        ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


# ---- devices, dtypes, copies ---------------------------------------------------------------------------


def test_to_double_keeps_parameters_and_converts_grads():
    net = Block()
    net.register_buffer("count", mg.tensor([3]))
    params = list(net.parameters())
    net(mg.randn(3, 2)).sum().backward()
    assert net.double() is net
    assert all(p is q for p, q in zip(params, net.parameters()))
    for p in net.parameters():
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.dtype == mg.float64
        assert p.grad.dtype == mg.float64
    assert net.running.dtype == mg.float64
    assert net.count.dtype == mg.int64  # only floating tensors are cast
    out = net(mg.randn(3, 2, dtype=mg.float64))
    assert out.dtype == mg.float64
    net.float()
    assert net.fc.weight.dtype == mg.float32
    assert net.to("cpu", dtype="float64") is net and net.fc.bias.dtype == mg.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(dtype=mg.int64)


def test_deepcopy_is_independent():
    a = Block()
    b = copy.deepcopy(a)
    assert isinstance(b.fc.weight, nn.Parameter) and b.fc.weight.device is a.fc.weight.device
    with mg.no_grad():
        b.fc.weight.fill_(0.0)
    assert float(a.fc.weight.abs().sum()) > 0


# ---- containers and repr --------------------------------------------------------------------------------


def test_containers():
    lst = nn.ModuleList([nn.Linear(1, 1)]).append(nn.Tanh())
    lst.extend([nn.ReLU()])
    lst.insert(0, nn.Identity())
    assert [type(m).__name__ for m in lst] == ["Identity", "Linear", "Tanh", "ReLU"]
    assert len(lst) == 4 and isinstance(lst[1:], nn.ModuleList) and len(lst[1:]) == 3
    del lst[0]
    assert [n for n, _ in lst.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError, match="Modules"):
        lst.append(3)

    d = nn.ModuleDict({"x": nn.Linear(1, 2)})
    d["y"] = nn.Linear(2, 1)
    assert list(d) == ["x", "y"] and "x" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["x.weight", "x.bias", "y.weight", "y.bias"]
    with pytest.raises(KeyError):
        d["a.b"] = nn.Tanh()

    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))
    assert seq.fc is seq[0] and isinstance(seq[:1], nn.Sequential)
    assert [n for n, _ in seq[:1].named_parameters()] == ["fc.weight", "fc.bias"]
    assert seq(mg.randn(4, 2)).shape == (4, 3)
    with pytest.raises(NotImplementedError, match="iterate"):
        lst(mg.zeros(1))


def test_repr_tree_like_pytorch():
    net = nn.Sequential(
        nn.Linear(2, 3),
        nn.Sequential(nn.ReLU(), nn.Dropout(0.1)),
        nn.LayerNorm(3),
        nn.Embedding(4, 3, padding_idx=0),
        nn.Softmax(dim=-1),
    )
    expected = (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        "  (2): LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "  (3): Embedding(4, 3, padding_idx=0)\n"
        "  (4): Softmax(dim=-1)\n"
        ")"
    )
    assert repr(net) == expected
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 3),
        torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(0.1)),
        torch.nn.LayerNorm(3),
        torch.nn.Embedding(4, 3, padding_idx=0),
        torch.nn.Softmax(dim=-1),
    )
    assert repr(theirs) == expected


# ---- end to end -----------------------------------------------------------------------------------------


def test_mlp_trains_on_synthetic_data_with_manual_sgd():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    # two interleaved spirals' worth of nonlinearity: the class is the sign of a smooth function
    x = rng.uniform(-2, 2, size=(256, 2)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + x[:, 1] ** 2 > 1.0).astype(np.int64) + (x[:, 0] > 1).astype(np.int64)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)
    )
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = mg.tensor(x), mg.tensor(y)
    first = None
    for _ in range(300):
        loss = loss_fn(model(xs), ys)
        if first is None:
            first = loss.item()
        model.zero_grad()
        loss.backward()
        with mg.no_grad():
            for p in model.parameters():
                p.data -= 0.5 * p.grad.data
    final = loss.item()
    assert final < 0.25 * first
    accuracy = (model(xs).argmax(axis=1).numpy() == y).mean()
    assert accuracy > 0.9


# ---- reassignment, registration order and containers as attributes (as in PyTorch) ------------------------


def test_assigning_a_named_sequential_entry_replaces_it_in_place():
    seq = nn.Sequential(OrderedDict(body=nn.Linear(2, 2), head=nn.Linear(2, 3)))
    new = nn.Linear(2, 1)
    seq.head = new
    assert seq.head is new and seq[1] is new and len(seq) == 2
    assert seq(mg.randn(1, 2)).shape == (1, 1)  # the old head no longer runs
    assert len(list(seq.parameters())) == 4
    assert list(seq.state_dict()) == ["body.weight", "body.bias", "head.weight", "head.bias"]
    assert repr(seq).count("(head)") == 1
    numbered = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 3))
    setattr(numbered, "1", nn.Linear(2, 1))
    assert numbered(mg.randn(1, 2)).shape == (1, 1) and len(list(numbered.parameters())) == 4
    with pytest.raises(TypeError, match="Modules"):
        seq.head = 3
    lst = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    setattr(lst, "1", nn.Tanh())
    assert isinstance(lst[1], nn.Tanh) and isinstance(getattr(lst, "0"), nn.Linear)


def test_module_dict_entries_are_attributes():
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    assert d.a is d["a"]
    d.a = nn.Tanh()  # replaces the entry
    assert isinstance(d["a"], nn.Tanh) and list(d) == ["a"]
    d.b = nn.ReLU()  # a new Module attribute is a new entry, as in PyTorch
    assert list(d) == ["a", "b"] and d.b is d["b"]
    del d.a
    assert list(d) == ["b"]
    with pytest.raises(AttributeError, match="no attribute 'a'"):
        _ = d.a


def test_sequential_slices_keep_their_names_and_deletion_renumbers():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1)
    seq = nn.Sequential(a, b, c)
    tail = seq[1:]
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"] and tail[0] is b
    named = nn.Sequential(OrderedDict(a=a, b=b, c=c))
    assert [n for n, _ in named[1:].named_children()] == ["b", "c"]
    assert list(named[::2].state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"]
    del named[1]  # PyTorch renumbers every entry after a deletion, named or not
    assert [n for n, _ in named.named_children()] == ["0", "1"]
    named.append(nn.Tanh())
    assert [n for n, _ in named.named_children()] == ["0", "1", "2"]
    with pytest.raises(KeyError, match="'2' is already"):
        tail.append(nn.Tanh())  # '2' (= len) is taken: PyTorch would silently replace that entry
    torch = pytest.importorskip("torch")
    t = torch.nn.Sequential(
        OrderedDict(a=torch.nn.Linear(1, 1), b=torch.nn.ReLU(), c=torch.nn.Linear(1, 1))
    )
    assert list(t[::2].state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"]
    assert list(torch.nn.Sequential(*t)[1:].state_dict()) == list(tail.state_dict())
    del t[1]
    assert list(t.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_buffer_reassigned_to_a_parameter_or_module_becomes_one():
    m = nn.Module()
    m.register_buffer("scale", mg.zeros(2))
    m.scale = nn.Parameter(mg.ones(2))
    assert [n for n, _ in m.named_parameters()] == ["scale"]
    assert [n for n, _ in m.named_buffers()] == []
    m = nn.Module()
    m.register_buffer("scale", mg.zeros(2))
    m.scale = nn.Linear(1, 1)
    assert list(m.state_dict()) == ["scale.weight", "scale.bias"]
    assert [n for n, _ in m.named_buffers()] == []


def test_assignments_that_pytorch_refuses():
    m = nn.Module()
    m.register_buffer("scale", mg.zeros(2))
    with pytest.raises(TypeError, match=r"cannot assign 'int' as buffer 'scale'.*Tensor or None"):
        m.scale = 3
    m.scale = None  # still a buffer, now empty
    assert list(m.state_dict()) == []
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'int' as parameter 'weight'"):
        lin.weight = 3
    lin.bias = None
    with pytest.raises(TypeError, match=r"as parameter 'bias'"):
        lin.bias = mg.zeros(2)  # a parameter set to None is still a parameter slot
    with pytest.raises(TypeError, match=r"as parameter 'weight'"):
        lin.weight = nn.Tanh()
    m.fc = nn.Linear(1, 1)
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module 'fc'"):
        m.fc = 3
    m.fc = nn.Parameter(mg.zeros(1))  # a Parameter may replace a module
    assert [n for n, _ in m.named_parameters()] == ["fc"]


@pytest.mark.parametrize("kind", ["module", "parameter", "plain"])
def test_register_buffer_over_an_existing_attribute_is_a_key_error(kind):
    m = nn.Module()
    m.foo = {"module": nn.Linear(1, 1), "parameter": nn.Parameter(mg.zeros(1)), "plain": 5}[kind]
    with pytest.raises(KeyError, match="attribute 'foo' already exists"):
        m.register_buffer("foo", mg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_buffer("forward", mg.zeros(1))  # methods and class attributes count too
    m.register_buffer("bar", mg.zeros(1))
    m.register_buffer("bar", mg.ones(1))  # registering a buffer again replaces it
    assert float(m.bar.sum()) == 1.0


def test_order_is_when_a_name_first_became_a_parameter_or_module():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = None  # a plain attribute for now
            self.w = None
            self.body = nn.Linear(1, 1)
            self.v = nn.Parameter(mg.zeros(1))
            self.head = nn.Linear(1, 1)
            self.w = nn.Parameter(mg.zeros(1))
            self.register_parameter("u", None)  # a slot: keeps its place when filled
            self.x = nn.Parameter(mg.zeros(1))
            self.u = nn.Parameter(mg.zeros(1))

    expected = ["v", "w", "u", "x", "body.weight", "body.bias", "head.weight", "head.bias"]
    assert list(M().state_dict()) == expected
    assert [n for n, _ in M().named_children()] == ["body", "head"]
    lin = nn.Linear(2, 2)
    lin.weight = None
    lin.weight = nn.Parameter(mg.zeros(2, 2))  # refilled: keeps its place
    assert list(lin.state_dict()) == ["weight", "bias"]
    torch = pytest.importorskip("torch")

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = None
            self.w = None
            self.body = torch.nn.Linear(1, 1)
            self.v = torch.nn.Parameter(torch.zeros(1))
            self.head = torch.nn.Linear(1, 1)
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.register_parameter("u", None)
            self.x = torch.nn.Parameter(torch.zeros(1))
            self.u = torch.nn.Parameter(torch.zeros(1))

    assert list(T().state_dict()) == expected


def test_a_parameter_under_two_names_is_saved_under_both():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(mg.zeros(2))
            self.b = self.a
            self.register_buffer("r", mg.zeros(1))
            self.register_buffer("q", self.r)

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["a"]  # listed once
    assert list(m.state_dict()) == ["a", "b", "r", "q"]  # but saved under every name, as PyTorch
    m.load_state_dict({"a": np.ones(2), "b": np.ones(2), "r": np.ones(1), "q": np.ones(1)})
    assert m.a.numpy().tolist() == [1.0, 1.0] and m.b is m.a
    with pytest.raises(RuntimeError, match='Missing key.*"b"'):
        m.load_state_dict({"a": np.ones(2), "r": np.ones(1), "q": np.ones(1)})
    torch = pytest.importorskip("torch")

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.full((2,), 3.0))
            self.b = self.a
            self.register_buffer("r", torch.full((1,), 4.0))
            self.register_buffer("q", self.r)

    theirs = T().state_dict()
    assert list(theirs) == list(m.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in theirs.items()})  # strict
    assert m.a.numpy().tolist() == [3.0, 3.0] and m.r.numpy().tolist() == [4.0]


# ---- audited against torch (2026-12-07): each failed before its fix ---------------------------------------


def test_train_calls_each_childs_own_train():
    class AlwaysEval(nn.Linear):
        def train(self, mode=True):
            return super().train(False)

    s = nn.Sequential(AlwaysEval(1, 1), nn.Linear(1, 1))
    s.train()
    assert s.training and not s[0].training and s[1].training  # torch: the override is honoured


def test_named_modules_skips_the_modules_in_memo():
    s = nn.Sequential(nn.Linear(1, 1), nn.Identity())
    assert [n for n, _ in s.named_modules(memo={s[1]})] == ["", "0"]


def test_module_to_takes_a_dtype_or_a_tensor_first():
    m = nn.Linear(2, 1)
    assert m.to(mg.float64).weight.dtype == mg.float64
    assert m.to(mg.zeros(1, dtype=mg.float32)).weight.dtype == mg.float32


def test_deepcopy_of_a_module_leaves_grad_behind():


    m = nn.Linear(2, 1)
    m(mg.ones(1, 2)).sum().backward()
    c = copy.deepcopy(m)
    assert m.weight.grad is not None and c.weight.grad is None  # torch's Parameter.__deepcopy__
    np.testing.assert_array_equal(c.weight.numpy(), m.weight.numpy())
    assert c.weight.data is not m.weight.data and isinstance(c.weight, nn.Parameter)


def test_modules_and_tensors_pickle_for_other_processes():
    import pickle

    m = nn.Linear(2, 3)
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.weight.numpy(), m.weight.numpy())
    assert back.weight.device is mg.device("cpu") and back.weight.requires_grad


def test_load_state_dict_takes_array_likes_such_as_torch_tensors():
    torch = pytest.importorskip("torch")
    t = torch.nn.Linear(3, 2).double()
    m = nn.Linear(3, 2).double()
    m.load_state_dict(t.state_dict())  # torch tensors as they are, no .numpy() needed
    np.testing.assert_array_equal(m.weight.numpy(), t.weight.detach().numpy())
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))


def test_registered_names_follow_torchs_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="'forward' already exists"):
        m.register_parameter("forward", nn.Parameter(mg.ones(1)))  # would hide the method
    with pytest.raises(KeyError, match="without '.'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="already exists"):
        m.add_module("weight", nn.ReLU())
    with pytest.raises(TypeError, match="should be a string"):
        m.register_parameter(3, None)
    m.add_module("act", nn.ReLU())
    m.add_module("act", nn.Tanh())  # replacing an entry of the same kind is fine
    assert isinstance(m.act, nn.Tanh)
    with pytest.raises(KeyError, match="'training' already exists"):
        nn.ModuleDict({"training": nn.ReLU()})
    with pytest.raises(IndexError, match="out of range"):
        nn.Sequential(nn.ReLU()).insert(10, nn.ReLU())


def test_get_submodule_parameter_and_buffer():
    m = nn.Sequential(nn.LSTM(2, 3), nn.Linear(3, 1))
    assert m.get_submodule("") is m and m.get_submodule("1") is m[1]
    assert m.get_parameter("0.weight_hh_l0") is m[0].weight_hh_l0
    m[1].register_buffer("scale", mg.ones(1))
    assert m.get_buffer("1.scale") is m[1].scale
    with pytest.raises(AttributeError, match="no submodule '5'"):
        m.get_submodule("5")
    with pytest.raises(AttributeError, match="no parameter '1.nope'"):
        m.get_parameter("1.nope")
