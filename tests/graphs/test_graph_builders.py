"""The builders' DAGs: edges name their block and kind, a path maps to its subset S of [n]."""

import itertools

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphs.builders import BlockSpec, parallel, path_subset, residual_dag, tower, transformer


@given(st.integers(0, 7), st.booleans())
def test_R1_paths_are_the_subsets_of_blocks(n, projection):
    """Tower paths correspond one to one to subsets S of [n], with |S| = length in blocks."""
    graph = tower(n, projection=projection)
    paths = list(nx.all_simple_paths(graph, "x0", f"x{n}"))
    subsets = [path_subset(graph, p) for p in paths]
    assert len(set(subsets)) == len(paths) == 2**n
    assert set(subsets) == {frozenset(c) for k in range(n + 1)
                            for c in itertools.combinations(range(1, n + 1), k)}
    for path, subset in zip(paths, subsets):
        blocks = sum(graph.edges[u, v]["blocks"] for u, v in itertools.pairwise(path))
        assert blocks == len(subset)


@given(st.integers(1, 6))
def test_projection_leaves_no_identity_path(n):
    """With projection shortcuts every path crosses a linear map (a node) in each block."""
    graph = tower(n, projection=True)
    for path in nx.all_simple_paths(graph, "x0", f"x{n}"):
        crossed = {graph.nodes[v]["block"] for v in path if graph.nodes[v]["kind"] != "stream"}
        assert crossed == set(range(1, n + 1))


def test_edges_carry_block_and_kind():
    graph = transformer(2)
    assert graph.graph["blocks"] == 4 and graph.graph["sink"] == "x4"
    kinds = {(d["block"], d["kind"]) for _, _, d in graph.edges(data=True)}
    assert kinds == {(i, k) for i in range(1, 5) for k in ("skip", "branch")}
    names = {d["name"] for _, d in graph.nodes(data=True) if d["kind"] == "layer"}
    assert names == {"attn", "mlp"}
    assert graph.out_degree("x0") == 2 and parallel(1, 3).out_degree("x0") == 4


@pytest.mark.parametrize("call, message", [
    (lambda: tower(-1), "n must be"),
    (lambda: tower(2.5), "n must be"),
    (lambda: tower(True), "n must be"),
    (lambda: parallel(3, 0), "branches"),
    (lambda: transformer(2, mlp_depth=0), "mlp_depth"),
    (lambda: BlockSpec(branches=2, depth=(1,)), "depth"),
    (lambda: BlockSpec(depth=0), "depth"),
    (lambda: BlockSpec(projection=1), "projection"),
    (lambda: residual_dag([1, 2]), "BlockSpec"),
])
def test_bad_arguments_are_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
