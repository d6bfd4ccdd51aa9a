"""S7's analysis of the original grid, written once: E||x_0||^2 and n_a before training, the
accuracy table, tau and the rows. ``experiment depth-scaling``'s analysis and validate's S7 check
both call :func:`judge`.

It sits above :mod:`~resdepth.experiment.analysis` and :mod:`~resdepth.experiment.rows` and
below :mod:`~resdepth.experiment.run`, so that no module of the experiment imports in a circle.
"""

from resdepth.experiment.analysis import accuracy_table, trains_threshold
from resdepth.experiment.grid import DATASET_ARCH, MAX_TRAIN, Budget
from resdepth.experiment.rows import rows
from theorems.trained_scaling import overflow_depth

__all__ = ["Judged", "judge", "x0_energy"]


def x0_energy(dataset: str, budget: Budget, seeds) -> tuple[float, int]:
    """E||x_0||^2 at initialisation (embedding of the training inputs), mean over the seeds
    (the input of S7(a)'s prediction, measured before any training), and the class count."""
    import torch

    from numerics.models.config import ModelConfig
    from numerics.models.data import load_dataset
    from numerics.models.train import initial_model

    energies = []
    for seed in seeds:
        data = load_dataset(dataset, seed=seed,
                            n_train=min(budget.n_train, MAX_TRAIN.get(dataset, budget.n_train)))
        model = initial_model(ModelConfig(arch=DATASET_ARCH[dataset], depth=1,
                                          width=budget.width), data, seed)
        with torch.no_grad():
            energies.append(float(model.embed(data.train_x).flatten(1).pow(2).sum(1).mean()))
    return sum(energies) / len(energies), data.out_dim


class Judged:
    """What :func:`judge` found: ``table``, ``tau``, ``ref``, ``n_a``, ``energy``, ``classes``,
    ``rows``."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def judge(records, dataset: str, budget, seeds, parts: str = "abcdef") -> Judged:
    """S7's analysis of the original grid, written once (the experiment's ``analyse`` and
    validate's S7 check both call it): E||x_0||^2 and n_a before training
    (:func:`x0_energy`, :func:`theorems.trained_scaling.overflow_depth`),
    the accuracy table, tau and the rows ``parts``."""
    energy, classes = x0_energy(dataset, budget, seeds)
    table = accuracy_table(records)
    tau, ref = trains_threshold(table, 1.0 / classes)
    n_a = overflow_depth(1.0, 1.0, energy)
    found = rows(table, records, tau, n_a, classes, parts)
    return Judged(table=table, tau=tau, ref=ref, n_a=n_a, energy=energy, classes=classes,
                  rows=found)
