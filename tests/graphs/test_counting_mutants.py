"""R1, R4: exact path counts on small hand-counted DAGs that kill graphs.counting's mutants.

Each graph here is small enough to count its paths by hand; the expected polynomial is
written out with the hand count in the docstring (see docs/mutation.md).
"""

import networkx as nx
import pytest

from graphs.builders import tower
from graphs.counting import count_by_enumeration, path_polynomial


def _dag(edges, source="a", sink="b") -> nx.DiGraph:
    graph = nx.DiGraph(source=source, sink=sink)
    for u, v, w in edges:
        graph.add_edge(u, v, blocks=w)
    return graph


def test_R4_sink_with_a_successor_keeps_its_polynomial():
    """a -> b (1 block), b -> c: the sink b is read by c after it is complete.

    One path a -> b of length 1, so P_b(z) = z: [0, 1]. Releasing b's polynomial when its
    last successor has read it would lose the answer (the count would be []).
    """
    assert path_polynomial(_dag([("a", "b", 1), ("b", "c", 0)])) == [0, 1]


def test_R4_enumeration_defaults_to_blocks():
    """The tower of 3 blocks by enumeration, default measure: C(3, k) = 1, 3, 3, 1."""
    assert count_by_enumeration(tower(3)).by_length == (1, 3, 3, 1)


def test_R4_missing_edge_attribute_counts_as_length_0():
    """a -> m (1 block), m -> b (no attribute: 0), a -> b (2 blocks): one path of length 1 and
    one of length 2, [0, 1, 1], by both routes."""
    graph = _dag([("a", "m", 1), ("a", "b", 2)])
    graph.add_edge("m", "b")
    assert path_polynomial(graph) == [0, 1, 1]
    assert count_by_enumeration(graph).by_length == (0, 1, 1)


def test_R4_missing_endpoint_is_named():
    graph = _dag([("a", "b", 1)], sink="z")
    with pytest.raises(ValueError, match=r"^graph.graph\['sink'\] = 'z' is not a node"):
        path_polynomial(graph)
    graph = _dag([("a", "b", 1)], source="q")
    with pytest.raises(ValueError, match=r"^graph.graph\['source'\] = 'q' is not a node"):
        path_polynomial(graph)
