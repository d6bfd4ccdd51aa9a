"""Training recipes: each model learns its default dataset to the recipe's stated floor."""

import pytest

from numerics.models.data import DEFAULT_DATASET, load_dataset
from numerics.models.recipes import RECIPES, recipe, recipe_for
from numerics.models.train import train_from_config


@pytest.mark.parametrize("arch, dataset", list(RECIPES), ids=[f"{a}-{d}" for a, d in RECIPES])
def test_each_recipe_reaches_its_floor(arch, dataset):
    entry = RECIPES[arch, dataset]
    train = recipe_for(entry.reference, dataset)
    _, result = train_from_config(entry.reference, dataset, train, seed=0)
    final = result.final()
    assert not result.diverged and len(result.history) == train.epochs
    if final["test_acc"] is None:
        data = load_dataset(dataset, seed=0)
        baseline = float(((data.test_y - data.test_y.mean()) ** 2).mean())
        assert final["test_loss"] < min(entry.floor, 0.5 * baseline), (final, baseline)
    else:
        assert final["test_acc"] > entry.floor, final


def test_every_default_dataset_has_a_recipe():
    for arch, dataset in DEFAULT_DATASET.items():
        assert recipe(arch, dataset).epochs >= 1


def test_the_stacked_engine_is_chosen_where_it_applies():
    from numerics.models.config import ModelConfig

    assert recipe_for(ModelConfig(), "digits").engine == "stacked"
    assert recipe_for(ModelConfig(norm="batch"), "digits").engine == "modules"
    assert recipe_for(ModelConfig(arch="cnn"), "digits").engine == "modules"
    with pytest.raises(ValueError, match="no training recipe"):
        recipe("cnn", "mnist1d")
