"""Path counts of computation DAGs against the chain counts of R1 and R4 (exact combinatorics).

R1: the tower DAG of n blocks has C(n, k) input-to-output paths of length k and 2^n in all,
counted by the dynamic programme of :mod:`graphs.counting` (n up to 1000 in full mode).
R4: the DAGs of the tower, the Transformer (2L blocks), parallel branches (C(n, k) B^k) and
projection shortcuts agree with ``theorems.counting.chain_count``; so do the DAGs traced with
torch.fx from numerics' models (MLP, CNN, Transformer; every normalisation placement).
"""

from graphs.builders import BlockSpec, parallel, residual_dag, tower, transformer
from graphs.counting import count_paths
from graphs.plot import plot_path_lengths
from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckContext, CheckResult, register
from resdepth.engine.rows import Criterion, Power
from resdepth.real.models import trace_residual_dag
from theorems.counting import chain_count

PLOT_NAME = "R1_tower_path_lengths.png"


MISMATCH = Criterion("path lengths k whose count differs", "==", 0)


def _count_power(lengths: int) -> Power:
    """An exact count compared at every length: one path too many or too few at any of the
    ``lengths`` lengths is caught."""
    return Power(f"a count off by one path at any of the {lengths} lengths", lengths, ">=", 1)


def _mismatches(by_length, expected: list[int]) -> int:
    """The number of lengths k where the counts differ (either list padded with zeros)."""
    size = max(len(by_length), len(expected))
    got = list(by_length) + [0] * (size - len(by_length))
    want = expected + [0] * (size - len(expected))
    return sum(g != w for g, w in zip(got, want))


@register("R1")
def tower_chain_counts(ctx: CheckContext) -> list[CheckResult]:
    """Tower DAG of n blocks: DP path counts by length equal C(n, k), 2^n in all."""
    rows = []
    depths = budget("R1", ctx.mode).dag_depths
    for n in depths:
        counts = count_paths(tower(n))
        bad = _mismatches(counts.by_length, [chain_count(n, k) for k in range(n + 1)])
        bad += counts.total != 2**n
        plot = _plot(ctx, counts.by_length, bad) if n == depths[-1] else None
        rows.append(CheckResult(
            label="R1",
            claim=f"tower DAG, n={n}: paths of length k = C(n,k) for k=0..n, 2^n in all "
                  "(statistic: lengths k that differ, plus 1 if the total is not 2^n)",
            kind="exact", prediction=2**n, measurement=counts.total, statistic=bad,
            criterion=MISMATCH, power=_count_power(n + 1), plot=plot,
            details={"total_log2": n},
        ))
    return rows


def _plot(ctx: CheckContext, by_length, bad: int) -> str | None:
    """Plot the tower's path-length law against Binomial(n, 1/2) with the row's statistic (the
    lengths whose count differs); the file name, or None."""
    path = ctx.plot_path(PLOT_NAME)
    if path is None:
        return None
    n = len(by_length) - 1
    plot_path_lengths(by_length, path, branches=1,
                      title=f"R1: tower of {n} blocks, DP counts vs C(n,k)/2^n",
                      note=f"lengths whose count differs from C(n,k): {bad} (criterion: 0)")
    return PLOT_NAME


def _spec_cases(n: int):
    """(description, DAG, branches per block B, blocks n) of the R4 spec comparisons."""
    return [
        (f"tower, n={n}", tower(n), 1, n),
        (f"tower with depth-3 branches, n={n}", tower(n, depth=3), 1, n),
        (f"tower with projection shortcuts, n={n}", tower(n, projection=True), 1, n),
        (f"transformer, L={n // 2} layers", transformer(n // 2), 1, n),
        (f"parallel, B=2, n={n}", parallel(n, 2), 2, n),
        (f"parallel, B=3, n={n}", parallel(n, 3), 3, n),
        (f"mixed projections and depths, n={n}",
         residual_dag([BlockSpec(depth=1 + i % 3, projection=i % 2 == 0) for i in range(n)]), 1, n),
    ]


@register("R4")
def graph_chain_counts(ctx: CheckContext) -> list[CheckResult]:
    """Spec-built DAGs: paths of length k (in blocks) = chain_count(n, k) B^k."""
    rows = []
    for description, graph, branches, n in _spec_cases(budget("R4", ctx.mode).spec_n):
        counts = count_paths(graph)
        bad = _mismatches(counts.by_length, [chain_count(n, k) * branches**k for k in range(n + 1)])
        rows.append(CheckResult(
            label="R4",
            claim=f"{description}: DAG paths of length k = chain_count(n,k) B^k "
                  "(statistic: lengths k that differ)",
            kind="exact", prediction=(1 + branches) ** n, measurement=counts.total,
            statistic=bad, criterion=MISMATCH, power=_count_power(n + 1),
        ))
    return rows


@register("R4")
def traced_model_counts(ctx: CheckContext) -> list[CheckResult]:
    """numerics models traced with torch.fx: path counts equal the spec tower of len(blocks)."""
    rows = []
    sizes = budget("R4", ctx.mode)
    depth = sizes.traced_depth
    for arch, norm, in_dim in sizes.traced_cases:
        model = build_model(ModelConfig(arch=arch, depth=depth, width=8, norm=norm), in_dim, 2)
        n = len(model.blocks)
        counts = count_paths(trace_residual_dag(model))
        bad = _mismatches(counts.by_length, [chain_count(n, k) for k in range(n + 1)])
        rows.append(CheckResult(
            label="R4",
            claim=f"traced numerics {arch} (norm={norm}, {n} blocks): paths of length k = "
                  "chain_count(n,k) (statistic: lengths k that differ)",
            kind="exact", prediction=2**n, measurement=counts.total,
            statistic=bad, criterion=MISMATCH, power=_count_power(n + 1),
        ))
    return rows
