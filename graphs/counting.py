"""Input-to-output paths of a computation DAG counted by length, exactly (R1, R4).

Convention: a path is a directed path from the graph's ``source`` to its ``sink`` (graph
attributes set by :mod:`graphs.builders` and :mod:`graphs.trace`); its length is the sum of
an integer edge attribute (``"blocks"``: the number |S| of branches taken; ``"layers"``: the
number of branch layers crossed). When source and sink coincide (a tower of 0 blocks) the
single-node path counts once, with length 0. The counts by length are the coefficients of the path
generating polynomial of the sink,

.. math::

    P_{source}(z) = 1, \\qquad
    P_v(z) = \\sum_{(u, v) \\in E} z^{w(u, v)} P_u(z),

computed by one pass over a topological order in exact Python integers. For the tower of n
blocks P_{x_n}(z) = (1 + z)^n, so the count of length k is C(n, k) (R1, R4); with B parallel
branches per block it is (1 + B z)^n, i.e. C(n, k) B^k.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import networkx as nx

__all__ = ["MEASURES", "PathCounts", "count_by_enumeration", "count_paths", "path_polynomial"]

MEASURES = ("blocks", "layers")


@dataclass(frozen=True)
class PathCounts:
    """Path counts by length: ``by_length[k]`` paths of length k, k = 0..max."""

    by_length: tuple[int, ...]

    @property
    def total(self) -> int:
        """The number of input-to-output paths."""
        return sum(self.by_length)

    @property
    def distribution(self) -> tuple[Fraction, ...]:
        """P(length = k) for a path drawn uniformly: ``by_length[k] / total``."""
        total = self._nonzero_total()
        return tuple(Fraction(c, total) for c in self.by_length)

    @property
    def mean(self) -> Fraction:
        """Mean path length sum_k k c_k / sum_k c_k (n/2 for the tower)."""
        return Fraction(sum(k * c for k, c in enumerate(self.by_length)), self._nonzero_total())

    @property
    def variance(self) -> Fraction:
        """Variance of the path length under the uniform law on paths (n/4 for the tower)."""
        total = self._nonzero_total()
        second = Fraction(sum(k * k * c for k, c in enumerate(self.by_length)), total)
        return second - self.mean**2

    def _nonzero_total(self) -> int:
        total = self.total
        if total == 0:
            raise ValueError("the graph has no input-to-output path")
        return total


def _endpoints(graph: nx.DiGraph) -> tuple:
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise ValueError(f"graph must be a networkx DiGraph, got {type(graph).__name__}")
    try:
        source, sink = graph.graph["source"], graph.graph["sink"]
    except KeyError:
        raise ValueError(
            "graph must name its input and output in graph.graph['source'] and ['sink']"
        ) from None
    for name, node in (("source", source), ("sink", sink)):
        if node not in graph:
            raise ValueError(f"graph.graph[{name!r}] = {node!r} is not a node of the graph")
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError("graph has a cycle: paths are counted only in a DAG")
    return source, sink


def _check_measure(measure: str) -> str:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    return measure


def _shift_add(acc: list[int], poly: Sequence[int], shift: int) -> None:
    """acc += z^shift * poly, in place (acc grows as needed)."""
    need = len(poly) + shift
    if len(acc) < need:
        acc.extend([0] * (need - len(acc)))
    for k, c in enumerate(poly):
        acc[k + shift] += c


def path_polynomial(graph: nx.DiGraph, measure: str = "blocks") -> list[int]:
    """Coefficients of P_sink(z): entry k is the number of source-to-sink paths of length k.

    Trailing zeros are dropped (the zero polynomial is ``[]``); lengths are the sums of the
    integer edge attribute ``measure`` (missing means 0).

    Notes
    -----
    One pass over a topological order; each edge costs one polynomial addition, so the
    tower of n blocks takes O(n^2) integer additions instead of listing 2^n paths.
    A polynomial is released once all successors of its node have read it.

    Examples
    --------
    >>> from graphs.builders import tower
    >>> sum(path_polynomial(tower(3)))
    8
    >>> path_polynomial(tower(3))
    [1, 3, 3, 1]
    """
    source, sink = _endpoints(graph)
    _check_measure(measure)
    pending = {node: graph.out_degree(node) for node in graph}
    polys: dict = {}
    for node in nx.topological_sort(graph):
        acc = [1] if node == source else []
        for pred, _, weight in graph.in_edges(node, data=measure, default=0):
            if weight < 0 or int(weight) != weight:
                raise ValueError(
                    f"edge ({pred!r}, {node!r}) has {measure}={weight!r}; need an integer >= 0"
                )
            poly = polys.get(pred)
            if poly:
                _shift_add(acc, poly, int(weight))
            pending[pred] -= 1
            if pending[pred] == 0 and pred != sink:
                polys.pop(pred, None)
        polys[node] = acc
    result = polys.get(sink, [])
    while result and result[-1] == 0:
        result.pop()
    return result


def count_paths(graph: nx.DiGraph, measure: str = "blocks") -> PathCounts:
    """Path counts by length of ``graph`` (see :func:`path_polynomial`) with their statistics.

    >>> from graphs.builders import tower
    >>> c = count_paths(tower(3))
    >>> c.total, c.by_length, c.mean, c.variance
    (8, (1, 3, 3, 1), Fraction(3, 2), Fraction(3, 4))
    """
    return PathCounts(tuple(path_polynomial(graph, measure)))


def count_by_enumeration(graph: nx.DiGraph, measure: str = "blocks") -> PathCounts:
    """The same counts by listing every path with ``networkx.all_simple_paths``.

    Exponential in depth (2^n paths for the tower): a test oracle and benchmark baseline
    for small graphs only, never the way to count.
    """
    source, sink = _endpoints(graph)
    _check_measure(measure)
    counts: list[int] = []
    for path in nx.all_simple_paths(graph, source, sink):
        length = sum(graph.edges[u, v].get(measure, 0) for u, v in itertools.pairwise(path))
        _shift_add(counts, [1], int(length))
    return PathCounts(tuple(counts))
