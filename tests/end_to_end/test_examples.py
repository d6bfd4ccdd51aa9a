"""The README's tour model (examples/mybert.py) builds offline and decomposes exactly (R2)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("transformers")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mybert.py"


def load_example():
    spec = importlib.util.spec_from_file_location("mybert", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_R2_readme_bert_is_the_sum_of_its_frozen_gate_paths():
    from resdepth.testing import assert_paths_sum

    example = load_example()
    inputs = example.bert_inputs()
    spectrum = assert_paths_sum(example.make_bert(), {"input_ids": inputs["input_ids"][:2]},
                                rtol=1e-10, enumerate_up_to=0)
    assert spectrum.depth == 8  # 4 layers, attention and MLP each a residual block
