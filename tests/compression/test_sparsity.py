"""Global magnitude sparsity: the asked fraction of zeros, the classifier spared, zeros that
survive fine-tuning, and a dense size that does not pretend to shrink."""

from __future__ import annotations

import pytest
import torch

from scalesearch.search.compression import sparsity
from scalesearch.search.compression.measure import count_params, serialized_size
from scalesearch.search.compression.prune import classifier
from scalesearch.search.datasets import Dataset, Split
from scalesearch.search.training.train import TrainConfig, train
from scalesearch.spaces.registry import ModelInput, get_family, list_families

IO = ModelInput(num_classes=10, in_chans=1, input_size=8)


def model_of(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    family = get_family(name)
    return family.build(IO, **{k: family.knobs[k]["low"] for k in ("width_multiplier", "depth_multiplier")})


def tiny_data(n: int = 64) -> Dataset:
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g))
    return Dataset("tiny", split, split, split, 10, 1, 8, tuple("0123456789"))


@pytest.mark.parametrize("name", list_families())
@pytest.mark.parametrize("amount", [0.3, 0.8])
def test_global_sparsity_hits_the_fraction_and_spares_the_classifier(name: str, amount: float) -> None:
    model = model_of(name)
    head_before = classifier(model).weight.detach().clone()
    zeroed = sparsity.sparsify(model, amount)
    total = sum(getattr(m, n).numel() for m, n in sparsity.targets(model))
    assert zeroed == round(amount * total)
    assert sparsity.weight_sparsity(model) == pytest.approx(amount, abs=1e-3)
    assert torch.equal(classifier(model).weight, head_before)
    sparsity.fix(model)
    assert sparsity.weight_sparsity(model) == pytest.approx(amount, abs=1e-3)
    assert not any(name.endswith("_orig") for name, _ in model.named_parameters())


def test_zeros_survive_fine_tuning_and_dense_size_is_unchanged() -> None:
    model = model_of("resnet")
    dense_params, dense_size = count_params(model), serialized_size(model)
    sparsity.sparsify(model, 0.5)
    masks = {id(m): m.weight_mask.clone() for m, _ in sparsity.targets(model)}
    train(model, tiny_data(), TrainConfig(epochs=1, batch_size=16, amp=False), "cpu")
    sparsity.fix(model)
    for m, _ in sparsity.targets(model):
        assert torch.all(m.weight[masks[id(m)] == 0] == 0)
    assert count_params(model) == dense_params
    assert serialized_size(model) == pytest.approx(dense_size, rel=0.01)  # zeros are stored
    assert sparsity.count_nonzero(model) < 0.6 * dense_params


def test_zero_sparsity_is_a_no_op_and_bad_values_are_refused() -> None:
    model = model_of("resnet")
    nonzero = sparsity.count_nonzero(model)  # timm zero-initialises some BatchNorm scales
    assert sparsity.sparsify(model, 0.0) == 0
    assert sparsity.count_nonzero(model) == nonzero
    with pytest.raises(ValueError):
        sparsity.sparsify(model, 1.0)
