"""Computation DAGs of residual architectures, built from a spec (R1, R4).

A residual network of n blocks is x_0 = x, x_i = s_i(x_{i-1}) + sum_b f_{i,b}(x_{i-1}), with
s_i the identity (or a projection) and f_{i,b} its B_i branches. Its DAG has

- *stream* nodes ``"x0" .. "x{n}"`` (x_0 the input, the source; x_n the output, the sink),
- for each branch b of block i, *layer* nodes ``"f{i}.{b}.{j}"`` for its layers j = 1..m_i,
- for a projection shortcut, a *projection* node ``"p{i}"`` on the skip.

Every edge carries ``block`` (the index i in [n] = {1..n} of the block it belongs to), ``kind``
(``"skip"`` or ``"branch"``), ``blocks`` (1 on the edge that leaves the stream into a branch,
else 0) and ``layers`` (1 on every edge into a layer node, else 0). An input-to-output path
therefore names, block by block, either the skip or one branch, and the blocks whose branch it
takes form THEORY's subset S of [n] (:func:`path_subset`); its length in blocks is |S|, its
length in layers the number of branch layers it crosses.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

__all__ = [
    "ARCHS",
    "BlockSpec",
    "parallel",
    "path_subset",
    "residual_dag",
    "tower",
    "transformer",
]

ARCHS = ("tower", "transformer", "parallel")


@dataclass(frozen=True)
class BlockSpec:
    """One residual block: ``branches`` parallel branches of ``depth`` layers each.

    ``depth`` is one positive integer for every branch, or a tuple with one per branch.
    ``projection`` makes the skip a linear map (a node on the skip edge): there is then no
    pure-identity path, but the path counts are unchanged. ``name`` labels the block's
    branches (e.g. ``"attn"``, ``"mlp"``).
    """

    branches: int = 1
    depth: int | tuple[int, ...] = 1
    projection: bool = False
    name: str = "f"

    def __post_init__(self) -> None:
        if not _is_positive_int(self.branches):
            raise ValueError(
                f"BlockSpec.branches must be a positive integer, got {self.branches!r}"
            )
        depths = self.depth if isinstance(self.depth, tuple) else (self.depth,) * self.branches
        if len(depths) != self.branches or not all(_is_positive_int(m) for m in depths):
            raise ValueError(
                f"BlockSpec.depth must be a positive integer or {self.branches} of them, "
                f"got {self.depth!r}"
            )
        if not isinstance(self.projection, bool):
            raise ValueError(f"BlockSpec.projection must be a bool, got {self.projection!r}")

    @property
    def depths(self) -> tuple[int, ...]:
        """The layer count of each branch."""
        return self.depth if isinstance(self.depth, tuple) else (self.depth,) * self.branches


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def residual_dag(blocks: Sequence[BlockSpec], *, arch: str = "residual") -> nx.DiGraph:
    """The computation DAG of the residual network whose blocks are ``blocks`` (in order).

    The graph attributes ``source`` and ``sink`` name x_0 and x_n; ``arch`` and ``blocks``
    (the number n of residual blocks) describe it.

    Examples
    --------
    >>> g = residual_dag([BlockSpec(), BlockSpec(branches=2, depth=3, projection=True)])
    >>> g.graph["source"], g.graph["sink"], g.number_of_nodes()
    ('x0', 'x2', 11)
    """
    blocks = list(blocks)
    for spec in blocks:
        if not isinstance(spec, BlockSpec):
            raise ValueError(f"blocks must hold BlockSpec instances, got {spec!r}")
    graph = nx.DiGraph(arch=arch, blocks=len(blocks), source="x0", sink=f"x{len(blocks)}")
    graph.add_node("x0", kind="stream", block=0)
    for i, spec in enumerate(blocks, start=1):
        _add_block(graph, i, spec)
    return graph


def _add_block(graph: nx.DiGraph, i: int, spec: BlockSpec) -> None:
    before, after = f"x{i - 1}", f"x{i}"
    graph.add_node(after, kind="stream", block=i)
    skip = {"block": i, "kind": "skip", "blocks": 0, "layers": 0}
    if spec.projection:
        graph.add_node(f"p{i}", kind="projection", block=i)
        graph.add_edge(before, f"p{i}", **skip)
        graph.add_edge(f"p{i}", after, **skip)
    else:
        graph.add_edge(before, after, **skip)
    for b, depth in enumerate(spec.depths, start=1):
        layers = [f"{spec.name}{i}.{b}.{j}" for j in range(1, depth + 1)]
        for j, node in enumerate(layers, start=1):
            graph.add_node(node, kind="layer", block=i, branch=b, layer=j, name=spec.name)
        graph.add_edge(before, layers[0], block=i, kind="branch", blocks=1, layers=1)
        for u, v in itertools.pairwise(layers):
            graph.add_edge(u, v, block=i, kind="branch", blocks=0, layers=1)
        graph.add_edge(layers[-1], after, block=i, kind="branch", blocks=0, layers=0)


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def tower(n: int, *, depth: int = 1, projection: bool = False) -> nx.DiGraph:
    """The plain residual tower x_i = x_{i-1} + f_i(x_{i-1}), i = 1..n (R1).

    It has C(n, k) input-to-output paths of length k (in blocks) and 2^n in all.

    >>> g = tower(3)
    >>> sorted(g.edges("x0", data="kind"))
    [('x0', 'f1.1.1', 'branch'), ('x0', 'x1', 'skip')]
    """
    _check_count("n", n, 0)
    spec = BlockSpec(depth=_check_count("depth", depth), projection=projection)
    return residual_dag([spec] * n, arch="tower")


def transformer(layers: int, *, attn_depth: int = 1, mlp_depth: int = 2) -> nx.DiGraph:
    """A Transformer of ``layers`` layers: blocks 2l-1 (attention) and 2l (MLP), l = 1..L.

    Each layer adds two residual branches, so the DAG has n = 2L blocks and C(2L, k) paths
    of length k (in blocks). ``attn_depth`` and ``mlp_depth`` are the branches' layer counts
    (for the length in layers).
    """
    _check_count("layers", layers, 0)
    attn = BlockSpec(depth=_check_count("attn_depth", attn_depth), name="attn")
    mlp = BlockSpec(depth=_check_count("mlp_depth", mlp_depth), name="mlp")
    return residual_dag([attn, mlp] * layers, arch="transformer")


def parallel(n: int, branches: int, *, depth: int = 1) -> nx.DiGraph:
    """n blocks x_i = x_{i-1} + f_{i,1}(x_{i-1}) + ... + f_{i,B}(x_{i-1}) with B = ``branches``.

    A path picks the skip or one of B branches in each block: C(n, k) B^k paths of length k.
    """
    _check_count("n", n, 0)
    branches, depth = _check_count("branches", branches), _check_count("depth", depth)
    spec = BlockSpec(branches=branches, depth=depth)
    return residual_dag([spec] * n, arch="parallel")


def path_subset(graph: nx.DiGraph, path: Sequence[str]) -> frozenset[int]:
    """The subset S of [n] of blocks whose branch the node path ``path`` takes.

    >>> g = tower(3)
    >>> sorted(path_subset(g, ["x0", "f1.1.1", "x1", "x2", "f3.1.1", "x3"]))
    [1, 3]
    """
    subset = set()
    for u, v in itertools.pairwise(path):
        data = graph.edges[u, v]
        if data["kind"] == "branch":
            subset.add(data["block"])
    return frozenset(subset)
