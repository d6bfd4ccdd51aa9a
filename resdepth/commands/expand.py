"""``resdepth expand``: depth expansion of a trained post-LN MLP, end to end (D1, D2, D4, D5).

Trains the old model (depth N, width D, post-LN, no biases) once per seed, inserts a block at
position J (V = 0, U random) and measures: D1 (output change against its first-order prediction);
D2's observability by the split directional test (direction from the training set, z-score from
the test set; observed when z < -z_alpha) beside the old signal-to-noise ratio, the line search
along the direction, and the misalignment probability over random half-splits of the training set;
D4's certifying sample size per route for the class the jumpboard searches (regression tasks: the
loss clipped at --loss-bound); D5's comparison of expand-and-train against the old model trained
longer and the deeper model from scratch, with t-intervals over the seeds. Writes ``expand.md``,
``expand.json``, ``line_search.png`` and ``comparison.png`` to --out (checked before training).
"""

import copy
import json

import torch

from numerics.device import DEVICE_CHOICES, choose_device
from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.data import DATASETS, load_dataset
from numerics.models.networks import build_model
from numerics.models.train import fit
from numerics.probes.expansion import (
    first_order_deviation,
    gradient_noise,
    insert_block,
    line_search,
    make_loss,
    per_example_gradients,
)
from numerics.probes.joint_scaling import joint_scaling_point, t_interval
from numerics.probes.observability import directional_test, half_split_misalignment
from numerics.probes.restricted_class import restricted_constants
from resdepth.engine.errors import (
    ResdepthError,
    check_out_dir,
    finite_positive,
    nonnegative_int,
    positive_int,
)
from resdepth.tables.render import render

JUMP_STEPS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MAX_DEPTH, MAX_WIDTH = 64, 1024
MAX_GRADIENT_BYTES = 2 * 2**30
ALPHA, DELTA = 0.05, 0.05


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "expand", help="D1/D2/D4/D5: insert a block into a trained post-LN MLP and measure",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("--dataset", choices=DATASETS, default="teacher-student")
    parser.add_argument("--depth", type=positive_int, default=4,
                        help=f"blocks N of the old model (at most {MAX_DEPTH})")
    parser.add_argument("--width", type=positive_int, default=16,
                        help=f"residual width D, 2 to {MAX_WIDTH} (a width-1 LayerNorm outputs a "
                        "constant)")
    parser.add_argument("--at", type=nonnegative_int, default=0,
                        help="position J in [0, N] of the new block (it reads h_J)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="data and first seed")
    parser.add_argument("--seeds", type=positive_int, default=3,
                        help="old models (seeds seed, seed+1, ...) for D5's t-intervals")
    parser.add_argument("--epochs", type=positive_int, default=10, help="epochs of the old model")
    parser.add_argument("--extra-epochs", type=positive_int, default=5,
                        help="epochs after expansion (and for the train-longer baseline)")
    parser.add_argument("--n-train", type=positive_int, default=None, help="training-set size")
    parser.add_argument("--loss-bound", type=finite_positive, default=0.5,
                        help="D4: the squared loss is clipped at M for the guarantees")
    parser.add_argument("--splits", type=positive_int, default=200,
                        help="random half-splits of the training set for the misalignment")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def _check(args, data) -> None:
    """One-line refusals for what cannot work, before any training."""
    if args.width < 2:
        raise ResdepthError(f"--width {args.width}: a post-LN stream needs width >= 2 (a width-1 "
                            "LayerNorm outputs a constant, so nothing can be measured)")
    if args.width > MAX_WIDTH or args.depth > MAX_DEPTH:
        raise ResdepthError(f"--depth {args.depth} --width {args.width}: expand is capped at depth "
                            f"{MAX_DEPTH} and width {MAX_WIDTH} (per-example gradients of every "
                            "probe are held in memory)")
    if args.at > args.depth:
        raise ValueError(f"--at must lie in [0, --depth={args.depth}], got {args.at}")
    if data.train_x.ndim != 2 or not data.train_x.is_floating_point():
        raise ValueError(f"dataset {args.dataset!r} has token inputs; expand needs vector inputs")
    need = 8 * (data.n_train + data.n_test) * args.width * args.width
    if need > MAX_GRADIENT_BYTES:
        raise ResdepthError(f"the per-example gradients would need {need / 2**30:.1f} GiB "
                            f"(more than {MAX_GRADIENT_BYTES // 2**30} GiB): reduce --n-train or "
                            "--width")


def run(args) -> int:
    out = check_out_dir(args.out)
    data = load_dataset(args.dataset, seed=args.seed, n_train=args.n_train)
    _check(args, data)
    device = choose_device(args.device)
    cfg = ModelConfig(arch="mlp", depth=args.depth, width=args.width, norm="post", bias=False)
    train = TrainConfig(epochs=args.epochs, batch_size=64, lr=3e-3)
    olds = [_train_old(cfg, data, train, args.seed + k, device) for k in range(args.seeds)]
    row, curves, test = _measure(copy.deepcopy(olds[0]).double().eval(), data, args)
    extra = TrainConfig(epochs=args.extra_epochs, batch_size=64, lr=1e-3)
    runs = [joint_scaling_point(old, data, (data.test_x, data.test_y), train, extra,
                                position=args.at, seed=args.seed + k, alpha=ALPHA, device=device)
            for k, old in enumerate(olds)]
    comparison = _compare(runs)
    row.update({k: v for k, v in comparison.items() if not isinstance(v, (list, dict))})
    (out / "expand.md").write_text(render([row], "md"), encoding="utf-8")
    (out / "expand.json").write_text(json.dumps({"summary": row, "line_search": curves,
                                                 "comparison": comparison, "per_seed": runs},
                                                indent=2), encoding="utf-8")
    _plots(out, curves, test, row, comparison, args)
    print(render([row], "md"), end="")
    return 0


def _train_old(cfg, data, train, seed, device):
    model = build_model(cfg, data.in_dim, data.out_dim,
                        generator=torch.Generator().manual_seed(seed))
    result = fit(model, data, train, device=device, seed=seed, progress=True)
    if result.diverged:
        raise ResdepthError(f"the old model diverged (non-finite training loss) at seed {seed}; "
                            "nothing to expand")
    return model.to("cpu")


def _tensors(data):
    def cast(t):
        return t.double() if t.is_floating_point() else t

    return cast(data.train_x), cast(data.train_y), cast(data.test_x), cast(data.test_y)


def _measure(model, data, args):
    """D1, D2 and D4 in float64 on the old model and its expansion at ``args.at``."""
    x, y, xt, yt = _tensors(data)
    expanded = insert_block(model, args.at, generator=torch.Generator().manual_seed(args.seed + 1))
    dev = first_order_deviation(model, expanded, args.at, xt)
    loss = make_loss(data.task)
    grads = per_example_gradients(expanded, args.at, x, y, loss)
    test = directional_test(grads, per_example_gradients(expanded, args.at, xt, yt, loss), ALPHA)
    u = test["u"].reshape(expanded.blocks[args.at].branch[2].weight.shape)
    steps = [0.0, *JUMP_STEPS]
    risks = line_search(expanded, args.at, u, steps, [("train", x, y, loss),
                                                      ("held_out", xt, yt, loss)])
    best = min(range(1, len(steps)), key=risks["train"].__getitem__)
    mis = half_split_misalignment(grads, args.splits, torch.Generator().manual_seed(args.seed + 2))
    noise = gradient_noise(expanded, args.at, x, y, loss)
    row = {
        "dataset": args.dataset, "task": data.task, "depth": args.depth, "width": args.width, "at": args.at,
        "seed": args.seed, "d1_max_deviation": float(dev["measured"].abs().max()),
        "d1_first_order_residual": float((dev["measured"] - dev["predicted"]).abs().max()),
        "observability_z": test["z"], "observed": bool(test["observed"]),
        "snr": noise["snr"], "grad_norm": noise["grad_norm"], "jump_t": steps[best],
        "train_gain": risks["train"][0] - risks["train"][best],
        "held_out_gain": risks["held_out"][0] - risks["held_out"][best],
        "misalignment": mis["misaligned"] / mis["reps"],
        **_certify(expanded, data, args, u, (x, y, xt, yt)),
    }
    return row, {"t": steps, **risks}, test


def _certify(model, data, args, u, tensors) -> dict:
    """D4: for each route, the least m at which it certifies the jumpboard's improvement, over
    the line-search steps t (the ball radius beta = t); regression tasks only."""
    from theorems.guarantees import restricted_sample_size

    empty = {"m_route_p": None, "t_route_p": None, "m_route_e": None, "t_route_e": None}
    if data.task != "regression":
        return empty
    x, y, xt, yt = tensors
    clipped = make_loss("regression", clip=args.loss_bound)
    curves = line_search(model, args.at, u, [0.0, *JUMP_STEPS], [("train", x, y, clipped),
                                                                ("held_out", xt, yt, clipped)])
    found = dict(empty)
    for k, step in enumerate(JUMP_STEPS, start=1):
        const = restricted_constants(model, args.at, x, y, beta=step, clip=args.loss_bound)
        kwargs = {"loss_bound": args.loss_bound, "q": const["q"], "beta": step,
                  "lam": const["lam"], "d": const["d"]}
        for route, name in (("P", "held_out"), ("E", "train")):
            margin = curves[name][0] - curves[name][k]  # P: held-out (population proxy); E: train
            key = f"m_route_{route.lower()}"
            if margin > 0:
                m = restricted_sample_size(route, margin, DELTA, **kwargs)
                if found[key] is None or m < found[key]:
                    found[key], found[f"t_route_{route.lower()}"] = m, step
    return found


def _compare(runs) -> dict:
    """D5 across seeds: t-intervals of each test loss and of the differences, when >= 2 seeds
    finished without divergence."""
    diverged = [r["seed"] for r in runs
                if any(r[f"{k}_diverged"] for k in ("expanded", "longer", "scratch"))]
    good = [r for r in runs if r["seed"] not in diverged]
    out = {"seeds": len(runs), "diverged_seeds": diverged,
           "observed_seeds": sum(r["observed"] for r in good)}
    for name in ("old", "expanded", "longer", "scratch"):
        out[f"{name}_test"] = sum(r[f"{name}_test"] for r in good) / len(good) if good else None
    out["seed_diffs"] = [r["longer_test"] - r["expanded_test"] for r in good]
    if len(good) >= 2:
        out["longer_minus_expanded"] = list(t_interval(
            [r["longer_test"] - r["expanded_test"] for r in good]))
        out["scratch_minus_expanded"] = list(t_interval(
            [r["scratch_test"] - r["expanded_test"] for r in good]))
        out["intervals"] = {name: list(t_interval([r[f"{name}_test"] for r in good]))
                            for name in ("old", "expanded", "longer", "scratch")}
    return out


def _plots(out, curves, test, row, comparison, args) -> None:
    from resdepth.checks.expansion_plots import comparison_figure, line_search_figure

    line_search_figure(out / "line_search.png", curves["t"],
                       {"train": curves["train"], "held-out": curves["held_out"]}, row["jump_t"],
                       test, row["grad_norm"])
    if "intervals" not in comparison:
        return
    point = {"label": f"L={args.depth}, d={args.width}, at {args.at}", "seeds": comparison["seeds"],
             "z": row["observability_z"], "observed": row["observed"], "diverged": [],
             "diff": comparison["longer_minus_expanded"], "seed_diffs": comparison["seed_diffs"],
             **{f"{k}_test": v for k, v in comparison["intervals"].items()}}
    comparison_figure(out / "comparison.png", [point],
                      "MSE" if row["task"] == "regression" else "cross-entropy")

