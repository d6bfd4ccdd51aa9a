"""R4 (theorems.counting): tables cut to the size asked for, with values counted by hand.

W(n, k) = sum over label-decreasing trees of 1/sigma(t): for n <= 2, k <= 2 the trees are the
single vertices (1), (2) and the chain 2 -> 1, each with sigma = 1, so
W = [[1, 0, 0], [1, 1, 0], [1, 2, 1]] (row n = 0 is the identity term only).
"""

from theorems import counting
from theorems.counting import weighted_tree_sum, weighted_tree_sums


def test_R4_weighted_table_is_cut_to_the_size_asked_for():
    weighted_tree_sum(6, 6)  # a larger cached series must not leak into a smaller table
    assert weighted_tree_sums(2, 2) == [[1, 0, 0], [1, 1, 0], [1, 2, 1]]


def test_R4_weighted_series_built_from_scratch(monkeypatch):
    """A fresh cache answers W(0, 0) = 1 and the n <= 2, k <= 2 table above."""
    monkeypatch.setattr(counting, "_WEIGHTED", counting._WeightedSeries())
    assert weighted_tree_sums(0, 0) == [[1]]
    assert weighted_tree_sums(2, 2) == [[1, 0, 0], [1, 1, 0], [1, 2, 1]]
