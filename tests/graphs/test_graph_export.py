"""GraphML and DOT export keep the DAG (and its path counts); the plot is written."""

from fractions import Fraction

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphs.builders import BlockSpec, parallel, residual_dag, tower
from graphs.counting import count_paths
from graphs.export import to_dot, write_dot, write_graphml
from graphs.plot import binomial_pmf, branch_probability, plot_path_lengths


@given(st.lists(st.builds(BlockSpec, branches=st.integers(1, 3), depth=st.integers(1, 3),
                          projection=st.booleans()), max_size=6))
def test_R4_graphml_round_trip_keeps_counts(tmp_path_factory, blocks):
    graph = residual_dag(blocks)
    path = tmp_path_factory.mktemp("graphml") / "g.graphml"
    write_graphml(graph, path)
    back = nx.read_graphml(path)
    assert nx.utils.edges_equal(back.edges(data=True), graph.edges(data=True))
    assert back.graph["source"] == "x0" and back.graph["blocks"] == len(blocks)
    assert count_paths(back) == count_paths(graph)


def test_dot_lists_every_node_and_edge(tmp_path):
    graph = tower(4, projection=True)
    text = to_dot(graph)
    assert text.startswith('digraph "tower" {') and text.endswith("}\n")
    assert text.count(" -> ") == graph.number_of_edges()
    assert text.count("style=dashed") == 8
    assert '"x0" [shape=box' in text
    write_dot(graph, tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == text


def test_dot_quotes_names():
    graph = nx.DiGraph(arch='say "hi"')
    graph.add_edge('a"b', "c", kind="skip")
    assert 'digraph "say \\"hi\\""' in to_dot(graph) and '"a\\"b" -> "c"' in to_dot(graph)


def test_plot_is_written(tmp_path):
    plot_path_lengths(count_paths(tower(12)).by_length, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_R4_multi_branch_plot_uses_binomial_n_b_over_1_plus_b(tmp_path):
    """B parallel branches: a uniform path takes a branch with probability B / (1 + B)."""
    counts = count_paths(parallel(6, 3)).by_length
    assert [float(q) * 4**6 for q in binomial_pmf(6, branch_probability(3))] == \
        pytest.approx(list(counts))
    plot_path_lengths(counts, tmp_path / "b3.png", branches=3, note="lengths that differ: 0")
    assert (tmp_path / "b3.png").stat().st_size > 0
    assert branch_probability(1) == Fraction(1, 2)
    with pytest.raises(ValueError, match="not both"):
        plot_path_lengths(counts, tmp_path / "x.png", branches=3, p=Fraction(1, 2))
    with pytest.raises(ValueError, match="branches"):
        branch_probability(0)


def test_binomial_pmf_sums_to_one():
    assert sum(binomial_pmf(30, 3 / 4)) == 1
