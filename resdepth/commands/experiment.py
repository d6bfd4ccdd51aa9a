"""``resdepth experiment depth-scaling``: paper 1's experiment, trained end to end (S7)."""

import argparse
from pathlib import Path

from resdepth.engine.errors import ResdepthError, nonnegative_int, positive_int

EXPERIMENTS = ("depth-scaling", "veit-lesion")

DESCRIPTION = """\
Train residual networks across depths under each scaling rule and normalisation, several
seeds, and judge THEORY.md's S7 predictions from 95% intervals over seeds:
  (a) lam = 1 without normalisation fails beyond a depth n_a stated before training (where
      S2's E||x_n||^2 = 2^n E||x_0||^2 leaves float32's range);
  (b) lam = 1/sqrt(n), 1/n, learnable from zero (SkipInit/ReZero), Fixup and depth-muP train
      at every depth; (c) at the largest depth 1/sqrt(n) beats 1/n; (d) pre-LN and BatchNorm
      at least match the best unnormalised rule; (e) GC = mean ||df/dx||_F^2 after training
      is unimodal in lam; (f) depth-muP's best learning rate moves less across depths than
      constant lam's.

rules: none (lam = 1) | inv-sqrt | inv | tuned (a/sqrt(n), best a in 0.5, 1, 2, 4 by training
       loss) | learnable | fixup | mup | pre-ln | batch
grid:  --quick: depths 16 and 256, width 16, 1000 mnist1d signals, 6 epochs, 3 seeds, lr sweep
       at depths 4 and 16; full: depths 4, 16, 64, 256 (and 1024 on a GPU), width 32, 4000
       signals, 15 epochs, 3 seeds, lr sweep at depths 4, 16, 64. Every rule trains with the
       same recipe (AdamW lr 1e-2, batch 64, cosine); mnist1d trains a residual MLP, digits a
       residual CNN.

Writes OUT/results.json (S7 rows, validate's schema), OUT/report.md (the Table-1 analogue:
accuracy per rule and depth with intervals and diverged counts), OUT/runs.json (every run's
outcome, GC, signal ratio, per-block scales and path-length shares at initialisation and after
training), four plots, and OUT/results.sqlite (finished runs; --resume continues from it).
Exit code 1 when a row fails (a prediction the seeds refute), as for validate.

fashion-mnist / cifar10: the pre-registered design of docs/S7_plan.md (rates tuned per rule and
depth on a validation split, the test set read once, one-sided t tests with Holm per family):
--quick (<= 10 min on 2 cores), the CPU grid (default, <= 60 min), --gpu-grid (>= 512 blocks).

veit-lesion: Veit et al.'s lesion study on a trained conv ResNet (default 9 blocks per stage, 27
blocks; --depths 18 for ResNet-110's 54) against the frozen-gate spectrum's prediction.

examples:
  resdepth experiment depth-scaling --dataset fashion-mnist --arch resnet --quick --out x
  resdepth experiment veit-lesion --out runs/veit
  resdepth experiment depth-scaling --quick --out runs/s7-quick --workers 2
  resdepth experiment depth-scaling --out runs/s7 --workers 2 --resume
  resdepth experiment depth-scaling --rules none inv-sqrt inv --depths 8 64 --seeds 5 --out x
"""


def register(subparsers) -> None:
    """Add the ``experiment`` sub-command."""
    from numerics.models.data import IMAGE_DATASETS
    from resdepth.experiment.grid import DATASET_ARCH, RULES

    parser = subparsers.add_parser(
        "experiment", help="paper 1's experiment: depth x scaling rule x normalisation (S7)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=EXPERIMENTS, help="the experiment to run")
    parser.add_argument("--quick", action="store_true", help="the small grid (minutes on 2 cores)")
    parser.add_argument("--out", type=Path, default=Path("experiment-out"), metavar="DIR",
                        help="output folder (default experiment-out)")
    parser.add_argument("--seeds", type=positive_int, default=None,
                        help="seeds per cell, at least 2 (default 3)")
    parser.add_argument("--depths", type=positive_int, nargs="+", default=None, metavar="N",
                        help="depths (residual blocks) of the grid (default: the budget's)")
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES),
                        metavar="RULE", help="rules to train (default: all)")
    parser.add_argument("--dataset", choices=list(DATASET_ARCH) + list(IMAGE_DATASETS),
                        default="mnist1d",
                        help="mnist1d (residual MLP, default) or digits (residual CNN): the "
                             "original grid; fashion-mnist or cifar10: the pre-registered design "
                             "(docs/S7_plan.md)")
    parser.add_argument("--arch", choices=("mlp", "resnet"), default=None,
                        help="with fashion-mnist/cifar10: residual MLP (default) or paper 1's "
                             "CIFAR ResNet")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="folder holding Fashion-MNIST's IDX files or CIFAR-10's python "
                             "batches (default: $RESDEPTH_DATA, then Debian's "
                             "/usr/share/datasets/fashion-mnist/)")
    parser.add_argument("--gpu-grid", action="store_true",
                        help="with fashion-mnist/cifar10: the GPU grid (>= 512 blocks)")
    parser.add_argument("--no-sweep", action="store_true",
                        help="skip the learning-rate sweep of S7(f)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first seed (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto takes CUDA when present")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local processes (default) or Ray")
    parser.add_argument("--address", default=None, help="Ray cluster address (--backend ray)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="parallel training processes / Ray CPUs (default 1)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue the experiment in OUT, reusing its finished runs")
    resume.add_argument("--fresh", action="store_true", help="delete OUT's runs and start over")
    parser.add_argument("--report-only", action="store_true",
                        help="with --resume: analyse the runs finished so far, train nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args) -> int:
    from resdepth.experiment.run import ExperimentSettings, run_experiment

    if args.name == "veit-lesion":
        return _veit(args)
    if args.report_only and not args.resume:
        raise ResdepthError("--report-only analyses an experiment's finished runs: add --resume")
    if args.seeds is not None and args.seeds < 2:
        raise ResdepthError("--seeds must be at least 2: S7's verdicts come from intervals over "
                            "seeds, never from one run")
    designed = args.dataset not in ("mnist1d", "digits")
    if not designed and (args.arch or args.gpu_grid or args.data_dir):
        raise ResdepthError("--arch, --gpu-grid and --data-dir belong to the pre-registered "
                            "design: add --dataset fashion-mnist (or cifar10)")
    if args.quick and args.gpu_grid:
        raise ResdepthError("--quick and --gpu-grid are two different grids: choose one")
    settings = ExperimentSettings(
        out_dir=args.out, quick=args.quick, seeds=args.seeds,
        depths=None if args.depths is None else tuple(args.depths),
        rules=tuple(dict.fromkeys(args.rules)), dataset=args.dataset, device=args.device,
        backend=args.backend, address=args.address, workers=args.workers, resume=args.resume,
        fresh=args.fresh, seed=args.seed, sweep=not args.no_sweep, progress=not args.quiet,
        train=not args.report_only, arch=args.arch, data_dir=args.data_dir)
    if designed:
        from resdepth.experiment.tuned import run_design

        grid = "quick" if args.quick else "gpu" if args.gpu_grid else "cpu"
        result = run_design(settings, grid)
    else:
        result = run_experiment(settings)
    print(summary(result))
    return 1 if any(r.verdict == "fail" for r in result.rows) else 0


def summary(result) -> str:
    """The verdict counts and one line per S7 row."""
    counts: dict[str, int] = {}
    for row in result.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    lines = [f"S7 depth-scaling ({result.settings.mode}): "
             + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
             + f" in {result.wall_time_s:.0f} s; wrote {result.settings.out_dir}"]
    lines += [f"  {row.verdict:<12} {row.claim[:96]}" for row in result.rows]
    return "\n".join(lines)


def _veit(args) -> int:
    from resdepth.engine.errors import check_out_dir
    from resdepth.experiment.tuned import check_data
    from resdepth.experiment.veit import run_veit

    if args.dataset not in ("fashion-mnist", "mnist1d"):  # mnist1d: the option's default
        raise ResdepthError("veit-lesion trains on fashion-mnist only")
    check_out_dir(args.out)
    check_data("fashion-mnist", args.data_dir)
    if args.data_dir is not None:
        import os

        os.environ["RESDEPTH_DATA"] = str(args.data_dir)
    from numerics.device import choose_device

    depth = args.depths[0] if args.depths else 9
    if 3 * depth < 27:
        raise ResdepthError("veit-lesion needs at least 27 blocks: --depths 9 or more (blocks "
                            "per stage)")
    row = run_veit(args.out, depth=depth, seed=args.seed,
                   device=choose_device(args.device).type)
    print(f"R2 Veit lesion: {row.verdict}: {row.claim}; wrote {args.out}")
    return 1 if row.verdict == "fail" else 0
