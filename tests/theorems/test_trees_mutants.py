"""R3 (theorems.trees): the verifier checks every order up to the one asked for.

A tree sum that is wrong only at the top order (k = order) must make verify_r3 report
``holds = False``; the trees counted by enumeration stay |T_1(2)| = 2, |T_2(2)| = 1.
"""

import pytest

from theorems import trees
from theorems.trees import X, tower_series, verify_r3


def test_R3_verify_fails_when_the_top_order_is_wrong(monkeypatch):
    right = trees.tree_sum
    monkeypatch.setattr(trees, "tree_sum", lambda n, k, x=X: right(n, k, x) + (x if k == 2 else 0))
    result = verify_r3(2, 2)
    assert result["holds"] is False and result["trees"] == [2, 1]


def test_R3_tower_series_names_the_bad_order():
    with pytest.raises(ValueError, match=r"^order must be a non-negative integer, got -1$"):
        tower_series(1, -1)
