"""Which gates the frozen-gate decomposition froze, by operation and module path (R2).

:mod:`numerics.real.frozen_rules` computes each piece's frozen map node by node; this module
replays the same rules on the graph alone (no values) to say where a gate was frozen. A node is
*linear* when one of its arguments is linear and its rule passes linearity on (affine maps,
products in their kept factor, activations by their frozen slope, normalisations by their
frozen 1/sigma); it is *live* when its linear value reaches the piece's outputs. A frozen gate
is then:

- an activation, normalisation, selection or attention on a live path (its slope, 1/sigma,
  argmax or softmax pattern frozen);
- a product of two linear factors on a live path (the factor that crossed more gates frozen as
  a multiplier: SwiGLU's act(gate), a hand-written attention's pattern in P @ V);
- an operation with no linear rule (``softmax``, ``rsqrt``, comparisons, ...) reached by the
  stream whose value multiplies a live path (a hand-written softmax, RMSNorm's 1/rms).
"""

from torch import fx

from numerics.real.dtypes import module_path
from numerics.real.frozen_rules import (
    ATTENTION,
    FROZEN_ARGS,
    GATES,
    NORMS,
    PRODUCTS,
    SECANT,
    SELECTIONS,
    base_name,
)

__all__ = ["frozen_gate_summary", "frozen_gates", "gate_rule", "normalises"]

_NO_GATE = {"_assert_tensor_metadata", "sym_size", "item", "_local_scalar_dense", "zeros_like",
            "ones_like", "full_like", "empty_like", "new_zeros", "new_ones", "new_full",
            "new_empty", "scalar_tensor"}


def gate_rule(op: str, kind: str) -> str:
    """The convention under which a gate of operation ``op`` was frozen."""
    if op == "relu":
        return "relu mask (R2 exactly)"
    if op == "gelu":
        return "gelu: Phi(z) frozen in z Phi(z)"
    if kind == "secant":
        return f"{op}: secant slope (phi(z) - phi(0))/z frozen"
    if kind == "norm":
        return f"{op}: 1/sigma frozen (centring and affine kept)"
    if kind == "selection":
        return f"{op}: argmax frozen"
    if kind == "attention":
        return "attention: softmax pattern frozen"
    if kind == "product":
        return f"{op}: one factor frozen as a multiplier (the one through more gates)"
    if op in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
        return f"{op}: pattern frozen (written out)"
    if op in ("rsqrt", "sqrt", "reciprocal", "var", "std", "norm", "linalg_vector_norm"):
        return f"{op}: frozen at its value (a normalisation's 1/scale written out)"
    return f"{op}: frozen at its value"


def _piece_gates(piece) -> list[tuple[fx.Node, str]]:
    linear = {piece.start: 0}
    carried: dict = {}  # node -> the linear arguments its value is linear in
    constant_from_stream: set = set()
    found = []
    for node in piece.nodes:
        ins = [a for a in node.all_input_nodes if a in linear]
        from_stream = [a for a in node.all_input_nodes if a in constant_from_stream]
        op = base_name(node) if node.op == "call_function" else ""
        if not ins:
            if from_stream:
                constant_from_stream.add(node)
            continue
        depth = max(linear[a] for a in ins)
        if op in GATES:
            if op not in _NO_GATE:
                found.append((node, "value"))
            constant_from_stream.add(node)
            continue
        kind, keep = "", ins
        if op in SECANT:
            kind, depth = "secant", depth + 1
        elif op in NORMS:
            kind, depth = "norm", depth + 1
        elif op in SELECTIONS:
            kind, depth = "selection", depth + 1
        elif op in ATTENTION:
            v = node.args[2] if len(node.args) > 2 else None
            kind, keep = "attention", [v] if v in linear else []
            depth += 1
        elif op in FROZEN_ARGS and len(node.args) > FROZEN_ARGS[op] and \
                node.args[FROZEN_ARGS[op]] in linear:
            kind, keep = "product", [a for a in ins if a is not node.args[FROZEN_ARGS[op]]]
        elif op in PRODUCTS or op == "einsum":
            operands = list(node.args[1]) if op == "einsum" else \
                [node.args[i] for i in PRODUCTS[op] if i < len(node.args)]
            factors = [a for a in operands if a in linear]
            if len(factors) > 1:
                kept = min(factors, key=lambda a: (linear[a], factors.index(a)))
                kind, depth = "product", linear[kept]
                keep = [a for a in ins if a not in factors or a is kept]
        if not keep:
            constant_from_stream.add(node)
            continue
        linear[node], carried[node] = depth, keep
        if kind:
            found.append((node, kind))
    ends = [piece.end] if piece.kind == "plain" else [t.node for t in piece.terms]
    live, todo = set(), [e for e in ends if e in linear]
    while todo:
        node = todo.pop()
        if node not in live:
            live.add(node)
            todo.extend(carried.get(node, []))
    gates = []
    for node, kind in found:
        if kind != "value" and node in live:
            gates.append((node, kind))
        elif kind == "value" and _feeds(node, live, piece):
            gates.append((node, kind))
    return gates


def _feeds(gate: fx.Node, live: set, piece) -> bool:
    """Whether the value of ``gate`` reaches a live node through non-linear values."""
    inside, todo, seen = set(piece.nodes), [gate], set()
    while todo:
        node = todo.pop()
        for user in node.users:
            if user in live:
                return True
            if user in inside and user not in seen:
                seen.add(user)
                todo.append(user)
    return False


def frozen_gates(chain: list) -> list[dict]:
    """Every gate frozen in ``chain`` (the pieces of a traced model): op, module, rule, node."""
    rows = []
    for piece in chain:
        for node, kind in _piece_gates(piece):
            op = base_name(node)
            rows.append({"op": op, "module": module_path(node), "rule": gate_rule(op, kind),
                         "node": node.name})
    return rows


_RULE_TEXT = [
    ("linear", "PURE_LINEAR", "linear in its stream argument: applied to the path as is"),
    ("affine", "AFFINE", "affine: A(v) + (t - 1) A(0), the constant part A(0) on the augmented "
                         "coordinate"),
    ("product", "PRODUCTS", "two stream factors: the one through more gates frozen as a "
                            "multiplier (divisors, addcdiv's divisor and lerp's weight always)"),
    ("secant", "SECANT", "activation phi(z) = phi(0) t + g z, the slope g frozen at the input "
                         "(ReLU's mask, GELU's Phi, SiLU's sigmoid)"),
    ("norm", "NORMS", "normalisation with 1/sigma (1/rms) frozen; centring and affine kept"),
    ("selection", "SELECTIONS", "the argmax frozen: a linear selection"),
    ("attention", "ATTENTION", "the softmax pattern frozen: A* V"),
    ("shape only", "SHAPE_ONLY", "the second argument lends its shape only"),
    ("gate value", "GATES", "no linear rule: frozen at its actual value where the stream "
                            "reaches it (softmax, rsqrt, comparisons, ...)"),
]


def op_coverage() -> str:
    """The Markdown table of every ATen operation (base name) with a frozen-gate rule."""
    from numerics.real import frozen_rules

    lines = ["| rule | what the decomposition does | operations |", "|---|---|---|"]
    for kind, attr, text in _RULE_TEXT:
        names = sorted(getattr(frozen_rules, attr))
        lines.append(f"| {kind} | {text} | " + ", ".join(f"`{n}`" for n in names) + " |")
    return "\n".join(lines) + "\n"


def frozen_gate_summary(traced) -> list[dict]:
    """What was frozen: per rule, how many operations, which ops and module paths
    (:func:`frozen_gates`)."""
    kinds: dict = {}
    for gate in frozen_gates(traced.chain):
        row = kinds.setdefault(gate["rule"], {"gate": gate["rule"], "count": 0, "ops": [],
                                              "modules": []})
        row["count"] += 1
        for key, value in (("ops", gate["op"]), ("modules", gate["module"])):
            if value and value not in row[key]:
                row[key].append(value)
    return list(kinds.values())


def normalises(traced) -> bool:
    """Whether the stream or a branch normalises (pre-LN or post-LN: S3 rather than S2)."""
    return any(n.op == "call_function" and base_name(n) in NORMS
               for p in traced.chain for n in p.nodes)
