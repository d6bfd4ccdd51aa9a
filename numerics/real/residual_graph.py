"""R2, R5 on real models: the residual stream of a traced graph and its blocks x_i = G_i(s_i(x_{i-1}) + sum_b f_ib(x_{i-1})).

Convention (R1, R4, R2 on real architectures). The graph's *signal* edges are the data
dependencies that carry a floating tensor (an edge out of an integer or boolean tensor, a
mask or an index, carries none; shape queries carry none), restricted to the nodes on some
path from the stream's source (the first tensor input) to the decomposed output. Its *stream*
is the chain of nodes every such path crosses (the dominators of the output). Between two
consecutive stream nodes c and d:

- one edge c -> d, or several paths that join in an operation other than a sum and carry no
  weight (a LayerNorm written out by hand): a *plain* piece, an operation of the stream;
- a *residual sum*: d is a sum whose flattened terms t_1..t_r all depend on c. A term equal to
  c is the identity skip; a term computed from c without weights is a scaled identity skip
  (DeepNorm's alpha x); otherwise the term with fewest operations is a *projection* shortcut
  (1x1 conv + BN). Every other term is a *branch*; its layer count is the longest chain of
  weight-carrying operations (a parameter with two or more dimensions) in it, at least 1.

A branch term of the form ``a * g(...)`` with ``a`` a constant (a parameter or buffer that
does not depend on the input) records ``a`` as the branch multiplier lam_i: ReZero and SkipInit
(a scalar), LayerScale (a vector, reported by its root mean square). The plain pieces right
after a block that are normalisations or ReLUs form its gate G_i (post-LN, ResNet's ReLU after
the add); the pieces before the first block are the stem, those after the last the head.
"""

import operator
from dataclasses import dataclass, field

import networkx as nx
import torch
from torch import fx

__all__ = ["Piece", "Structure", "Term", "find_structure"]

_SUMS = {operator.add, operator.iadd, torch.add, "add", "add_"}
_ATEN_SUMS = {"aten.add.Tensor", "aten.add_.Tensor"}
_META_METHODS = {"size", "dim", "numel", "type", "get_device"}
_META_ATTRS = {"shape", "ndim", "dtype", "device", "is_cuda"}
_PASS = {"dropout", "clone", "alias", "contiguous", "detach", "native_dropout", "identity"}
GATE_OPS = {"layer_norm", "native_layer_norm", "rms_norm", "group_norm", "native_group_norm",
            "relu", "relu_", "batch_norm", "_native_batch_norm_legit_no_training"}


@dataclass
class Term:
    """One operand of a residual sum: its node, role, layer count, name and multiplier."""

    node: fx.Node
    kind: str  # identity | scaled | projection | branch
    layers: int = 0
    name: str = ""
    multiplier: float | None = None
    multiplier_kind: str = "none"  # none | scalar | vector


@dataclass
class Piece:
    """A stretch of the stream from ``start`` to ``end``: a plain operation or a residual block.

    ``nodes`` are the stretch's nodes after ``start`` in graph order (``end`` last).
    """

    kind: str  # plain | block
    start: fx.Node
    end: fx.Node
    nodes: list
    terms: list = field(default_factory=list)
    op: str = ""
    module: str = ""

    @property
    def branches(self) -> list:
        return [t for t in self.terms if t.kind == "branch"]

    @property
    def skip(self) -> Term:
        return next(t for t in self.terms if t.kind != "branch")


@dataclass
class Structure:
    """The stream's pieces in order, and where the blocks are among them."""

    pieces: list
    source: fx.Node
    sink: fx.Node

    @property
    def blocks(self) -> list:
        return [p for p in self.pieces if p.kind == "block"]

    def block_positions(self) -> list[int]:
        return [i for i, p in enumerate(self.pieces) if p.kind == "block"]


def op_name(node: fx.Node) -> str:
    """``layer_norm`` for ``aten.layer_norm.default``, the method or function name otherwise."""
    target = node.target
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0]


def _aten(node: fx.Node) -> str:
    return str(node.target) if node.op == "call_function" else ""


def is_sum(node: fx.Node) -> bool:
    if node.op == "call_function":
        return node.target in _SUMS or _aten(node) in _ATEN_SUMS
    return node.op == "call_method" and node.target in _SUMS


def _is_meta(node: fx.Node) -> bool:
    if node.op == "call_method" and node.target in _META_METHODS:
        return True
    return node.op == "call_function" and node.target is getattr and node.args[1] in _META_ATTRS


def _floating(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    if isinstance(value, tuple | list):
        return any(_floating(v) for v in value)
    return False


@dataclass
class GraphFacts:
    """What the finder needs to know about a graph beyond its nodes."""

    weighted: set  # names of nodes that apply a weight (parameter with >= 2 dimensions)
    values: dict | None = None  # node values at the actual input (None: symbolic trace)
    module_of: dict = field(default_factory=dict)  # node name -> module path
    constants: set = field(default_factory=set)  # names of nodes whose value is a constant


_RESHAPES = {"view", "reshape", "_unsafe_view", "unsqueeze", "squeeze", "flatten", "expand",
             "slice", "select", "contiguous", "clone", "alias", "to", "_to_copy"}


def _source_aliases(graph: fx.Graph, source: fx.Node) -> set:
    """The source and its reshapes (token ids viewed before the embedding stay the input)."""
    aliases = {source}
    for node in graph.nodes:
        if node.op == "call_function" and op_name(node) in _RESHAPES and node.args and \
                node.args[0] in aliases:
            aliases.add(node)
    return aliases


def _signal_graph(graph: fx.Graph, source: fx.Node, sink: fx.Node, facts: GraphFacts):
    full = nx.DiGraph()
    nodes = [n for n in graph.nodes if n.op != "output"]
    full.add_nodes_from(nodes)
    aliases = _source_aliases(graph, source)
    for n in nodes:
        for u in n.all_input_nodes:
            if _is_meta(u):
                continue
            if facts.values is not None and u not in aliases and not _floating(
                    facts.values.get(u.name)):
                continue
            full.add_edge(u, n)
    keep = (nx.descendants(full, source) | {source}) & (nx.ancestors(full, sink) | {sink})
    if sink not in keep:
        raise ValueError("the decomposed output does not depend on the first input")
    return full.subgraph(keep).copy()


def find_structure(graph: fx.Graph, source: fx.Node, sink: fx.Node, facts: GraphFacts
                   ) -> Structure:
    """The stream of ``graph`` from ``source`` to ``sink`` cut into plain pieces and blocks."""
    signal = _signal_graph(graph, source, sink, facts)
    idom = nx.immediate_dominators(signal, source)
    chain = [sink]
    while chain[-1] is not source:
        chain.append(idom[chain[-1]])
    chain.reverse()
    order = {n: i for i, n in enumerate(graph.nodes)}
    pieces = []
    for c, d in zip(chain, chain[1:]):
        inner = (nx.descendants(signal, c) & nx.ancestors(signal, d)) | {d}
        nodes = sorted(inner, key=order.__getitem__)
        if len(nodes) > 1 and is_sum(d):
            pieces.append(_block(signal, c, d, nodes, facts))
        else:
            if len(nodes) > 1 and any(n.name in facts.weighted for n in nodes):
                raise ValueError(f"paths from {c.name} join at {_describe(d)}, which is not a "
                                 "residual addition; only sums x + f(x) (+ g(x) ...) may join "
                                 "paths that carry weights")
            pieces.append(Piece("plain", c, d, nodes, op=op_name(d),
                                module=facts.module_of.get(d.name, "")))
    if not any(p.kind == "block" for p in pieces):
        raise ValueError("no residual block: no sum x + f(x) joins two paths from the input to "
                         "the output (a plain network has a single path)")
    return Structure(pieces, source, sink)


def _describe(node: fx.Node) -> str:
    return f"{node.name} = {op_name(node)}"


def _terms(graph: nx.DiGraph, node: fx.Node, start: fx.Node, end: fx.Node) -> list:
    """The terms of the sum tree at ``node``: sums of two segment operands are flattened."""
    operands = [a for a in node.args[:2] if isinstance(a, fx.Node) and a in graph]
    nested = node is end or graph.out_degree(node) == 1
    if node is start or not is_sum(node) or len(operands) < 2 or not nested:
        return [node]
    return [t for a in operands for t in _terms(graph, a, start, end)]


def _block(graph: nx.DiGraph, c: fx.Node, d: fx.Node, nodes: list, facts: GraphFacts) -> Piece:
    terms = _terms(graph, d, c, d)
    if len(terms) < 2:
        raise ValueError(f"paths from {c.name} join at {_describe(d)} with a single term")
    if sum(t is c for t in terms) > 1:
        raise ValueError(f"the residual sum {d.name} adds its input {c.name} more than once")
    for term in terms:
        _refuse_second_stream(graph, term, c, d, facts)
    segment = set(nodes) | {c}
    interiors = [(nx.ancestors(graph, t) | {t}) & segment - {c} for t in terms]
    weighted = [any(n.name in facts.weighted for n in inner) for inner in interiors]
    chains = [_layer_depth(graph.subgraph(inner | {c}), c, t, facts)
              for t, inner in zip(terms, interiors)]
    if any(t is c for t in terms):
        skip = terms.index(c)
    else:  # by structure: the shortest weight chain (then fewest operations), never a scalar
        skip = min(range(len(terms)), key=lambda i: (chains[i], len(interiors[i]), i))
    block_module = facts.module_of.get(d.name, "")
    out = []
    for i, term in enumerate(terms):
        value, kind = _multiplier(term, c, graph, facts)
        name = _common_module([n for n in interiors[i] if n.name in facts.weighted] or
                              list(interiors[i]), facts)
        if i == skip:
            role = "identity" if term is c and kind == "none" else (
                "projection" if weighted[i] else ("scaled" if kind != "none" else "identity"))
            where = [p for p in _common_module(list(interiors[i]), facts).split(".")
                     if p and not p.isdigit()]
            label = (where[-1] if where else "projection") if role == "projection" else "skip"
            out.append(Term(term, role, 0, label, value, kind))
        else:
            sub = graph.subgraph(interiors[i] | {c})
            layers = max(1, _layer_depth(sub, c, term, facts))
            out.append(Term(term, "branch", layers, _branch_name(name, interiors[i], facts),
                            value, kind))
    return Piece("block", c, d, nodes, out, op="add", module=block_module)


def _refuse_second_stream(graph: nx.DiGraph, term: fx.Node, c: fx.Node, d: fx.Node,
                          facts: GraphFacts) -> None:
    """A term that is itself a running sum started from a constant (a class token updated by
    attention over the stream, CaiT's class attention) is a second residual stream that reads
    the first: its paths and the stream's do not form one chain of blocks. Refused, one line."""
    node = term
    while node is not c and node.op == "call_function" and \
            op_name(node) in _PASS | {"getitem"} and node.args:
        node = node.args[0]
    if not isinstance(node, fx.Node) or node is c or node not in graph or not is_sum(node):
        return
    outside = [a for a in node.args[:2] if isinstance(a, fx.Node) and a not in graph]
    if not outside or facts.values is None or not _floating(facts.values.get(outside[0].name)):
        return
    module = facts.module_of.get(d.name, "") or facts.module_of.get(node.name, "")
    root = outside[0]
    while root.op == "call_function" and root.all_input_nodes:
        root = root.all_input_nodes[0]
    raise ValueError(
        f"a second residual stream: {node.name} adds {root.name} (not computed from the "
        f"input: a class token or a decoder state) to attention over the stream, and the sum "
        f"{d.name}{' in ' + module if module else ''} reads both; the two streams' paths do not "
        "form one chain of blocks (class attention, cross-attention), so this output cannot be "
        "split by path length: decompose the first stream's output instead (--output), or give "
        "the second stream's input as its own model input")


def _branch_name(common: str, interior: set, facts: GraphFacts) -> str:
    """The branch's module name: the last part of its common module, or (when that is a
    container index such as ``layer.0``) the first weighted module below it."""
    last = common.split(".")[-1] if common else ""
    if last and not last.isdigit():
        return last
    first = sorted((n for n in interior if n.name in facts.weighted),
                   key=lambda n: n.name and list(n.graph.nodes).index(n))
    below = facts.module_of.get(first[0].name, "") if first else ""
    rest = below[len(common):].lstrip(".").split(".")[0] if below.startswith(common) else ""
    return rest or "f"


def _common_module(nodes: list, facts: GraphFacts) -> str:
    paths = [facts.module_of.get(n.name, "") for n in nodes]
    paths = [p.split(".") for p in paths if p]
    if not paths:
        return ""
    common = paths[0]
    for p in paths[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    return ".".join(common)


def _multiplier(term: fx.Node, c: fx.Node, graph: nx.DiGraph, facts: GraphFacts):
    """(value, kind) of the constant factors a * ... at the top of a term (value None: none)."""
    if facts.values is None:
        return None, "none"
    factors, node = [], term
    while node.op == "call_function" and node is not c:
        name = op_name(node)
        if name in _PASS and node.args and isinstance(node.args[0], fx.Node):
            node = node.args[0]
            continue
        if name not in ("mul", "div"):
            break
        operands = [a for a in node.args[:2]]
        inner = [a for a in operands if isinstance(a, fx.Node) and a in graph]
        if len(inner) != 1:
            break
        other = operands[1] if operands[0] is inner[0] else operands[0]
        value = facts.values.get(other.name) if isinstance(other, fx.Node) else other
        if not isinstance(value, torch.Tensor | float | int):
            break
        value = torch.as_tensor(value, dtype=torch.float64).detach()
        factors.append(1.0 / value if name == "div" and other is node.args[1] else value)
        node = inner[0]
    if not factors:
        return None, "none"
    total = factors[0]
    for f in factors[1:]:
        total = total * f
    if total.numel() == 1:
        return float(total.reshape(())), "scalar"
    return float(total.pow(2).mean().sqrt()), "vector"


def _layer_depth(branch: nx.DiGraph, start: fx.Node, end: fx.Node, facts: GraphFacts) -> int:
    """The most weight-carrying operations on one path from ``start`` to ``end``: best(v) =
    [v carries a weight] + max over predecessors u of best(u), in topological order."""
    best = {}
    for node in nx.topological_sort(branch):
        before = max((best[p] for p in branch.predecessors(node)), default=0)
        best[node] = before + (node is not start and node.name in facts.weighted)
    return best[end]


def _inside(module: str, block_module: str) -> bool:
    """Whether a plain piece runs inside the module that computes the block's sum (its gate:
    BERT's LayerNorm after the add, ResNet's ReLU) rather than after it (a final norm)."""
    return not module or not block_module or module.startswith(block_module)


def is_gate_piece(piece, block_module: str) -> bool:
    return piece.kind == "plain" and piece.op in GATE_OPS and _inside(piece.module, block_module)


def block_gates(structure: Structure) -> list[str]:
    """G_i of each block: the normalisations/ReLUs among the plain pieces right after it."""
    gates, current, block_module = [], None, ""
    for piece in structure.pieces:
        if piece.kind == "block":
            if current is not None:
                gates.append("+".join(current) or "identity")
            current, block_module = [], piece.module
        elif current is not None:
            if piece.op in GATE_OPS and _inside(piece.module, block_module):
                current.append("relu" if piece.op.startswith("relu") else
                               "batch_norm" if "batch_norm" in piece.op else "layer_norm"
                               if "layer_norm" in piece.op else piece.op)
            elif piece.op not in _PASS and piece.op != "getitem":
                gates.append("+".join(current) or "identity")
                current = None
    if current is not None:
        gates.append("+".join(current) or "identity")
    return gates


def describe(structure: Structure, arch: str, *, method: str = "",
             opaque: tuple = ()) -> dict:
    """The structure as plain data (lists, dicts, numbers, strings): what graphs/ builds a DAG
    from. Each block: its module, gate, skip kind and name, and per branch its name, layer
    count and multiplier."""
    blocks = []
    gates = block_gates(structure)
    for i, piece in enumerate(structure.blocks):
        skip = piece.skip
        blocks.append({
            "index": i + 1, "module": piece.module, "gate": gates[i], "skip": skip.kind,
            "skip_name": skip.name, "skip_scale": skip.multiplier,
            "branches": [{"name": b.name, "layers": b.layers, "multiplier": b.multiplier,
                          "multiplier_kind": b.multiplier_kind} for b in piece.branches],
        })
    first, last = structure.block_positions()[0], structure.block_positions()[-1]
    return {"arch": arch, "method": method, "blocks": blocks,
            "stem": [p.op for p in structure.pieces[:first]],
            "head": [p.op for p in structure.pieces[last + 1:]], "opaque": list(opaque)}
