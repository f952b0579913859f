"""Pruning surgery: L1 filter choice, physical removal, consistency of every consumer."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces import (
    ArchSpec,
    MultiExitNet,
    SpaceError,
    get_family,
    kept_channels,
    prunable_layers,
    prune_model,
    pruned_width,
)
from search_spaces.pruning import _expand

torch.set_num_threads(1)


def _model(arch: ArchSpec, seed: int = 0) -> MultiExitNet:
    torch.manual_seed(seed)
    model = get_family(arch.family).build(arch)
    model.train()
    with torch.no_grad():
        # randomise BatchNorm affine parameters and learned activation scales, then run a
        # training-mode pass so that the running statistics are not the defaults
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
        for name, p in model.named_parameters():
            if name.endswith("scaling_impl.value"):
                p.mul_(torch.empty(()).uniform_(0.6, 1.4))
        model(torch.rand(16, *arch.input_shape))
    model.eval()
    return model


def _zero_pruned_contributions(model: MultiExitNet, keeps: list[torch.Tensor]) -> MultiExitNet:
    """The original model with every consumer's weights for pruned channels set to 0."""
    zeroed = copy.deepcopy(model)
    roles = get_family(model.arch.family).prune_roles(model.arch)
    modules = dict(zeroed.named_modules())
    with torch.no_grad():
        for name, role in roles.items():
            if role.in_group is None:
                continue
            w = modules[name].weight
            mask = torch.ones(w.shape[1], dtype=torch.bool)
            mask[_expand(keeps[role.in_group], role.in_repeat)] = False
            w[:, mask] = 0.0
    return zeroed


CNV_SAME = get_family("cnv").default_arch((1, 8, 8), 10, width_mult=0.125)
CNV_VALID = get_family("cnv").default_arch(
    (3, 32, 32), 10, width_mult=0.125, weight_bits=4, act_bits=4, exits=[0, 1]
)
TFC = get_family("tfc").default_arch((1, 8, 8), 10, width_mult=0.5, weight_bits=2, act_bits=2)


@pytest.mark.parametrize("arch", [CNV_SAME, CNV_VALID, TFC], ids=["cnv-same", "cnv-valid", "tfc"])
def test_rate_zero_is_identity(arch: ArchSpec) -> None:
    model = _model(arch)
    pruned = prune_model(model, 0.0)
    assert pruned is not model and pruned.arch == arch
    x = torch.rand(6, *arch.input_shape)
    for a, b in zip(model(x), pruned(x), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("arch", "rates"),
    [
        (CNV_SAME, 0.5),
        (CNV_SAME, [0.0, 0.5, 0.25, 0.5, 0.75, 0.5, 0.5, 0.25]),
        (CNV_VALID, 0.3),
        (TFC, [0.5, 0.2, 0.7]),
    ],
    ids=["cnv-same-uniform", "cnv-same-per-layer", "cnv-valid", "tfc"],
)
def test_pruned_equals_original_with_pruned_contributions_zeroed(arch, rates) -> None:
    model = _model(arch, seed=1)
    keeps = kept_channels(model, rates)
    pruned = prune_model(model, rates)
    expected_widths = tuple(
        pruned_width(w, r, 4)
        for w, r in zip(
            arch.widths,
            rates if isinstance(rates, list) else [rates] * len(arch.widths),
            strict=True,
        )
    )
    assert pruned.arch.widths == expected_widths == tuple(int(k.numel()) for k in keeps)
    assert pruned.arch.exits == arch.exits and pruned.arch.family == arch.family
    assert pruned.arch.widths != arch.widths
    reference = _zero_pruned_contributions(model, keeps)
    x = torch.rand(16, *arch.input_shape)
    with torch.no_grad():
        for a, b in zip(reference(x), pruned(x), strict=True):
            assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    # the physical layers shrank
    modules = dict(pruned.named_modules())
    for name, width in zip(prunable_layers(pruned), pruned.arch.widths, strict=True):
        assert modules[name].weight.shape[0] == width


def test_l1_choice_keeps_the_largest_filters() -> None:
    model = _model(TFC)
    first = dict(model.named_modules())["blocks.0.0"]
    with torch.no_grad():
        first.weight.uniform_(-0.1, 0.1)
        big = torch.tensor([3, 7, 11, 20, 21, 30, 31, 2])
        first.weight[big] = torch.sign(first.weight[big]) * 0.9
    keeps = kept_channels(model, [0.875, 0.0, 0.0])  # 32 -> 4 kept
    assert keeps[0].tolist() == [2, 3, 7, 11]  # ties broken by lower index, kept ascending
    pruned = prune_model(model, [0.875, 0.0, 0.0])
    assert pruned.arch.widths == (4, 32, 32)
    new_first = dict(pruned.named_modules())["blocks.0.0"]
    assert torch.equal(new_first.weight, first.weight[[2, 3, 7, 11]])
    new_second = dict(pruned.named_modules())["blocks.1.0"]
    old_second = dict(model.named_modules())["blocks.1.0"]
    assert torch.equal(new_second.weight, old_second.weight[:, [2, 3, 7, 11]])
    bn_old = dict(model.named_modules())["blocks.0.1"]
    bn_new = dict(pruned.named_modules())["blocks.0.1"]
    assert torch.equal(bn_new.running_mean, bn_old.running_mean[[2, 3, 7, 11]])
    assert torch.equal(bn_new.bias, bn_old.bias[[2, 3, 7, 11]])


def test_quantiser_state_is_copied() -> None:
    model = _model(CNV_SAME)
    pruned = prune_model(model, 0.5)
    old = {k: v for k, v in model.state_dict().items() if "scaling_impl.value" in k}
    new = {k: v for k, v in pruned.state_dict().items() if "scaling_impl.value" in k}
    assert old and old.keys() == new.keys()
    for k in old:
        assert torch.equal(old[k], new[k])
    logit_old = {k: v for k, v in model.state_dict().items() if "log_scale" in k}
    assert all(torch.equal(v, pruned.state_dict()[k]) for k, v in logit_old.items())


def test_pruned_model_trains_and_prunes_again() -> None:
    model = _model(CNV_SAME)
    pruned = prune_model(model, 0.25)
    pruned.train()
    assert pruned.training
    opt = torch.optim.SGD(pruned.parameters(), lr=0.01)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    loss = sum(torch.nn.functional.cross_entropy(o, y) for o in pruned(x))
    loss.backward()
    opt.step()
    twice = prune_model(pruned.eval(), 0.5)
    assert all(w <= v for w, v in zip(twice.arch.widths, pruned.arch.widths, strict=True))
    assert all(w % 4 == 0 for w in twice.arch.widths)
    assert len(twice(x)) == len(CNV_SAME.exits) + 1


def test_pruning_does_not_touch_the_global_rng() -> None:
    model = _model(TFC)
    torch.manual_seed(5)
    prune_model(model, 0.5)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))


@pytest.mark.parametrize(
    ("rates", "pattern"),
    [
        (1.0, r"rates\[0\]: 1.0 is not in \[0, 1\)"),
        (-0.1, r"rates\[0\]: -0.1 is not in"),
        ([0.5, 0.5], "2 rates given for 3 prunable layers"),
        ("half", "must be a float"),
        ([0.1, float("nan"), 0.1], r"rates\[1\]"),
    ],
)
def test_bad_rates(rates, pattern) -> None:
    model = _model(TFC)
    with pytest.raises(SpaceError, match=pattern):
        prune_model(model, rates)
    with pytest.raises(SpaceError, match="multiple_of"):
        prune_model(model, 0.5, multiple_of=0)


@settings(max_examples=200, deadline=None)
@given(
    channels=st.integers(1, 1024),
    rate=st.floats(0.0, 0.999),
    multiple=st.sampled_from([1, 2, 4, 8, 16]),
)
def test_pruned_width_rule(channels: int, rate: float, multiple: int) -> None:
    kept = pruned_width(channels, rate, multiple)
    assert 1 <= kept <= channels
    if rate == 0:
        assert kept == channels
    else:
        assert kept % multiple == 0 or kept == channels
        assert kept >= min(multiple, channels)
        # never further than half a multiple from the exact count (unless clamped at either end)
        exact = channels * (1 - rate)
        if multiple < kept < channels:
            assert abs(kept - exact) <= multiple / 2 + 1e-9
