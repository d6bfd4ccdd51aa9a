"""R1, R4: path counts by dynamic programme against enumeration and the closed forms."""

import math
from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from graphs.builders import BlockSpec, parallel, residual_dag, tower, transformer
from graphs.counting import count_by_enumeration, count_paths, path_polynomial
from theorems.counting import chain_count


@st.composite
def block_specs(draw, *, max_branches: int = 3, max_depth: int = 3) -> BlockSpec:
    """A residual block: 1..max_branches branches, each of its own depth, maybe projected."""
    depths = draw(st.lists(st.integers(1, max_depth), min_size=1, max_size=max_branches))
    return BlockSpec(branches=len(depths), depth=tuple(depths), projection=draw(st.booleans()))


def architectures(*, max_blocks: int) -> st.SearchStrategy[list[BlockSpec]]:
    return st.lists(block_specs(), max_size=max_blocks)


def product_polynomial(blocks: list[BlockSpec], measure: str) -> list[int]:
    """prod_i (1 + sum_b z^{w_ib}), w = 1 (blocks) or the branch depth (layers), by hand."""
    poly = [1]
    for spec in blocks:
        factor = [1]
        for m in spec.depths:
            w = 1 if measure == "blocks" else m
            factor += [0] * (w + 1 - len(factor))
            factor[w] += 1
        poly = [sum(poly[j] * factor[k - j] for j in range(len(poly)) if 0 <= k - j < len(factor))
                for k in range(len(poly) + len(factor) - 1)]
    while poly and poly[-1] == 0:
        poly.pop()
    return poly


@given(architectures(max_blocks=5), st.sampled_from(["blocks", "layers"]))
@example([], "blocks")
@example([BlockSpec(branches=3, depth=(1, 2, 3), projection=True)], "layers")
def test_R4_dp_equals_enumeration_on_small_dags(blocks, measure):
    """The DP counts every source-to-sink path of the drawn DAG exactly once, by length."""
    graph = residual_dag(blocks)
    assert count_paths(graph, measure) == count_by_enumeration(graph, measure)


@given(architectures(max_blocks=40), st.sampled_from(["blocks", "layers"]))
def test_R4_dp_equals_product_closed_form(blocks, measure):
    """Independent choices per block: P(z) = prod_i (1 + sum_b z^{w_ib})."""
    assert path_polynomial(residual_dag(blocks), measure) == product_polynomial(blocks, measure)


@given(st.integers(0, 300), st.booleans(), st.integers(1, 4))
@example(1000, False, 1)
def test_R1_tower_counts_are_binomial(n, projection, depth):
    """Tower of n blocks: C(n, k) paths of length k, 2^n in all, mean n/2, variance n/4."""
    counts = count_paths(tower(n, projection=projection, depth=depth))
    assert counts.by_length == tuple(chain_count(n, k) for k in range(n + 1))
    assert counts.total == 2**n
    assert counts.mean == Fraction(n, 2) and counts.variance == Fraction(n, 4)


@given(st.integers(0, 60))
def test_R1_tower_layer_lengths(n):
    """With depth-2 branches, a path crossing k branches crosses 2k layers."""
    by_layers = path_polynomial(tower(n, depth=2), "layers")
    assert by_layers == [chain_count(n, k // 2) if k % 2 == 0 else 0 for k in range(2 * n + 1)]


@given(st.integers(0, 100), st.integers(1, 5))
def test_R4_parallel_counts(n, branches):
    """B branches per block: C(n, k) B^k, (1 + B)^n in all, Binomial(n, B/(1+B)) moments."""
    counts = count_paths(parallel(n, branches))
    assert counts.by_length == tuple(chain_count(n, k) * branches**k for k in range(n + 1))
    p = Fraction(branches, 1 + branches)
    if n:
        assert counts.mean == n * p and counts.variance == n * p * (1 - p)


@given(st.integers(0, 50))
def test_R4_transformer_counts(layers):
    """A Transformer of L layers has 2L residual branches: C(2L, k)."""
    counts = count_paths(transformer(layers))
    assert counts.by_length == tuple(math.comb(2 * layers, k) for k in range(2 * layers + 1))


def test_counts_three_blocks_doc_example():
    assert count_paths(tower(3)).total == 8
    assert count_paths(tower(3)).distribution == tuple(Fraction(c, 8) for c in (1, 3, 3, 1))


def test_dp_ignores_nodes_off_the_paths():
    graph = tower(2)
    graph.add_edge("stray", "x2", blocks=5)
    graph.add_edge("x1", "dead_end", blocks=1)
    assert count_paths(graph).by_length == (1, 2, 1)


def _plain(**edges) -> nx.DiGraph:
    graph = nx.DiGraph(source="a", sink="b")
    graph.add_edge("a", "b", **edges)
    return graph


@pytest.mark.parametrize("graph, message", [
    (nx.DiGraph(), "source"),
    (nx.DiGraph(source="a", sink="b"), "not a node"),
    (nx.MultiDiGraph(source="a", sink="b"), "DiGraph"),
    (_plain(blocks=-1), "integer >= 0"),
    (_plain(blocks=0.5), "integer >= 0"),
])
def test_bad_graphs_are_errors(graph, message):
    with pytest.raises(ValueError, match=message):
        count_paths(graph)


def test_cycles_and_bad_measures_are_errors():
    graph = _plain()
    graph.add_edge("b", "a")
    with pytest.raises(ValueError, match="cycle"):
        count_paths(graph)
    with pytest.raises(ValueError, match="measure"):
        count_paths(tower(2), "edges")
    with pytest.raises(ValueError, match="no input-to-output path"):
        _ = count_paths(_disconnected()).mean


def _disconnected() -> nx.DiGraph:
    graph = nx.DiGraph(source="a", sink="b")
    graph.add_nodes_from("ab")
    return graph
