"""The S6 report plot: per lam, at initialisation and after training (mean and t-interval over
seeds), the signed mean path length, the Lipschitz product against the largest Jacobian norm
the optimiser found (the slack the bound row is judged on), and geometric complexity."""


from resdepth.checks.expectation import t_interval
from resdepth.plots import plt, save_figure

PANELS = (("mean_path_length", "signed mean path length", False),
          ("log10_lipschitz_bound", "log10 prod(1 + lam B_i)", False),
          ("gc", "GC = mean ||d f/d x||_F^2 (log)", True))


def plot_s6(ctx, runs, lams, rows) -> str | None:
    """S6_capacity.png (see the module docstring); titles carry the rows' verdicts."""
    path = ctx.plot_path("S6_capacity.png")
    if path is None:
        return None
    seeds = sorted({seed for _, seed in runs})
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (key, label, log) in zip(axes, PANELS, strict=True):
        for j, stage in enumerate(("init", "trained")):
            stats = [t_interval([runs[(lam, s)][stage][key] for s in seeds]) for lam in lams]
            ax.errorbar(lams, [m for m, _ in stats], yerr=[h for _, h in stats], fmt="o-",
                        color=f"C{j}", capsize=3, label=f"{stage} ({len(seeds)} seeds, 95% CI)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(lams, [f"{lam:g}" for lam in lams])
        ax.set_xlabel("lam")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
    best = [t_interval([runs[(lam, s)]["trained"]["log10_max_jacobian"] for s in seeds])
            for lam in lams]
    axes[1].errorbar(lams, [m for m, _ in best], yerr=[h for _, h in best], fmt="^--",
                     color="C3", capsize=3, label="trained: log10 max ||J|| (optimiser)")
    bound, path_trend, product_trend = rows
    axes[0].set_title(f"trend row: {path_trend.verdict}", fontsize=9)
    axes[1].set_title(f"bound row: {bound.verdict} (slack {bound.statistic:.2f} decades, "
                      f"needs <= 1); trend: {product_trend.verdict}", fontsize=8)
    axes[2].set_title("geometric complexity (reported, no row)", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    return save_figure(fig, path)
