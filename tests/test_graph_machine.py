"""A hypothesis state machine that grows random graphs and checks their gradients.

Rules apply unary and binary ops to nodes drawn from everything built so far, so nodes get shared, graphs
get diamonds, and a node can meet itself (x * x). Each check differentiates a scalar that reads every node
and compares the engine's gradients with central differences of an independent NumPy replay of the
same program (float64).
"""

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import minigrad as mg

# name -> (minigrad version, NumPy version); all smooth and bounded on bounded inputs
UNARY = {
    "tanh": (mg.tanh, np.tanh),
    "sigmoid": (mg.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "neg": (mg.neg, np.negative),
    "square": (lambda x: x * x, lambda a: a * a),
    "exp_tanh": (lambda x: x.tanh().exp(), lambda a: np.exp(np.tanh(a))),
    "scale": (lambda x: x * 0.5 + 1.0, lambda a: a * 0.5 + 1.0),
}
BINARY = {
    "add": (mg.add, np.add),
    "sub": (mg.sub, np.subtract),
    "mul": (mg.mul, np.multiply),
    "div": (lambda x, y: x / (1 + y * y), lambda a, b: a / (1 + b * b)),
    "pow": (lambda x, y: (1 + x * x) ** y.tanh(), lambda a, b: (1 + a * a) ** np.tanh(b)),
}
# keepdims sums keep every node broadcastable to (2, 3)
REDUCE = {
    "sum0": (lambda x: x.sum(axis=0, keepdims=True), lambda a: a.sum(axis=0, keepdims=True)),
    "sum1": (lambda x: x.sum(axis=-1, keepdims=True), lambda a: a.sum(axis=-1, keepdims=True)),
    "mean": (lambda x: x.mean(keepdims=True), lambda a: a.mean(keepdims=True)),
}
LEAF_SHAPES = [(2, 3), (3,), (2, 1)]
EPS = 1e-6


class GraphMachine(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def make_leaves(self, seed):
        rng = np.random.default_rng(seed)
        self.leaf_values = [rng.uniform(-1, 1, s) for s in LEAF_SHAPES]
        self.leaves = [mg.tensor(v, requires_grad=True) for v in self.leaf_values]
        self.nodes = list(self.leaves)
        self.program = []  # (kind, name, input node indices), replayed in NumPy
        self.weights = []  # one fixed weight array per node for the final scalar

    def _push(self, kind, name, args, node):
        self.program.append((kind, name, args))
        self.nodes.append(node)

    @rule(data=st.data(), name=st.sampled_from(sorted(UNARY)))
    def unary(self, data, name):
        i = data.draw(st.integers(0, len(self.nodes) - 1))
        self._push("unary", name, (i,), UNARY[name][0](self.nodes[i]))

    @rule(data=st.data(), name=st.sampled_from(sorted(BINARY)))
    def binary(self, data, name):
        i = data.draw(st.integers(0, len(self.nodes) - 1))
        j = data.draw(st.integers(0, len(self.nodes) - 1))  # may equal i: a node meets itself
        self._push("binary", name, (i, j), BINARY[name][0](self.nodes[i], self.nodes[j]))

    @rule(data=st.data(), name=st.sampled_from(sorted(REDUCE)))
    def reduce(self, data, name):
        i = data.draw(st.integers(0, len(self.nodes) - 1))
        self._push("reduce", name, (i,), REDUCE[name][0](self.nodes[i]))

    @rule(data=st.data())
    def detach_and_reuse(self, data):
        # a detached node is a constant: gradients must not flow through it
        i = data.draw(st.integers(0, len(self.nodes) - 1))
        self._push("detach", "detach", (i,), self.nodes[i].detach())

    def _replay(self, leaf_values):
        """Every node's value, computed in NumPy from the leaves (detached nodes from the live values)."""
        values = list(leaf_values)
        for k, (kind, name, args) in enumerate(self.program):
            if kind == "unary":
                values.append(UNARY[name][1](values[args[0]]))
            elif kind == "binary":
                values.append(BINARY[name][1](values[args[0]], values[args[1]]))
            elif kind == "reduce":
                values.append(REDUCE[name][1](values[args[0]]))
            else:  # detach: a constant equal to the live node's value
                values.append(self.nodes[len(self.leaves) + k].numpy())
        return values

    def _weights(self):
        rng = np.random.default_rng(len(self.nodes))
        return [rng.uniform(0.5, 1.5, n.shape) for n in self.nodes]

    def _loss_np(self, leaf_values, weights):
        return sum(float((w * v).sum()) for w, v in zip(weights, self._replay(leaf_values)))

    @invariant()
    def forward_matches_numpy(self):
        for node, value in zip(self.nodes, self._replay(self.leaf_values)):
            np.testing.assert_allclose(node.numpy(), value, rtol=1e-12, atol=1e-12)

    @precondition(lambda self: len(self.nodes) > len(self.leaves))
    @rule()
    def check_gradients(self):
        weights = self._weights()
        loss = sum((n * mg.tensor(w)).sum() for n, w in zip(self.nodes, weights))
        grads = mg.grad(loss, self.leaves, retain_graph=True, allow_unused=True)
        for leaf_index, (leaf, g) in enumerate(zip(self.leaf_values, grads)):
            numerical = np.zeros(leaf.shape)
            for idx in np.ndindex(leaf.shape):
                moved = [v.copy() for v in self.leaf_values]
                moved[leaf_index][idx] += EPS
                plus = self._loss_np(moved, weights)
                moved[leaf_index][idx] -= 2 * EPS
                minus = self._loss_np(moved, weights)
                numerical[idx] = (plus - minus) / (2 * EPS)
            analytic = np.zeros(leaf.shape) if g is None else g.numpy()
            scale = max(1.0, float(np.abs(numerical).max()))
            np.testing.assert_allclose(analytic, numerical, rtol=1e-4, atol=1e-5 * scale)


GraphMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=10, deadline=None)
test_graph_machine = GraphMachine.TestCase
