"""Model families: ArchSpec validation, Brevitas model building, stages, a real training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces import ArchSpec, MultiExitNet, SpaceError, get_family, load_dataset
from search_spaces.families.cnv import geometry

torch.set_num_threads(1)


def _cnv(shape=(1, 8, 8), mult=0.125, **kw) -> ArchSpec:
    return get_family("cnv").default_arch(shape, 10, width_mult=mult, **kw)


# -- ArchSpec -----------------------------------------------------------------------------


def test_default_archs() -> None:
    cnv = get_family("cnv").default_arch((3, 32, 32), 10)
    assert cnv.widths == (64, 64, 128, 128, 256, 256, 512, 512)
    assert cnv.exits == (0, 1, 2) and cnv.padding == "valid"
    assert (cnv.weight_bits, cnv.act_bits, cnv.in_bits) == (2, 2, 8)
    small = get_family("cnv").default_arch((1, 8, 8), 10, width_mult=0.5, exits=[1])
    assert small.padding == "same" and small.widths[0] == 32 and small.exits == (1,)
    tfc = get_family("tfc").default_arch((1, 8, 8), 10, weight_bits=1, act_bits=1)
    assert tfc.widths == (64, 64, 64) and tfc.exits == (0, 1, 2)
    assert get_family("cnv").candidate_exits(cnv) == [0, 1, 2]


def test_arch_roundtrip_and_hash() -> None:
    a = _cnv()
    d = a.to_dict()
    assert ArchSpec.from_dict(d) == a and hash(ArchSpec.from_dict(d)) == hash(a)
    import json

    assert ArchSpec.from_dict(json.loads(json.dumps(d))) == a
    with pytest.raises(AttributeError):
        a.weight_bits = 4  # type: ignore[misc]
    assert a.replace(exits=[0]).exits == (0,)


@settings(max_examples=40, deadline=None)
@given(
    family=st.sampled_from(["cnv", "tfc"]),
    wb=st.sampled_from([1, 2, 4, 8]),
    ab=st.sampled_from([1, 2, 4, 8]),
    ib=st.sampled_from([1, 2, 4, 8]),
    exits=st.sets(st.integers(0, 2)),
    widths=st.lists(st.integers(1, 600), min_size=8, max_size=8),
    size=st.sampled_from([8, 16, 32]),
)
def test_arch_dict_roundtrip_property(family, wb, ab, ib, exits, widths, size) -> None:
    n = 8 if family == "cnv" else 3
    a = ArchSpec(
        family=family,
        input_shape=(3, size, size),
        num_classes=7,
        weight_bits=wb,
        act_bits=ab,
        in_bits=ib,
        widths=tuple(widths[:n]),
        exits=tuple(sorted(exits)),
        padding="same" if size < 32 else "valid",
    )
    b = ArchSpec.from_dict(a.to_dict())
    assert b == a and hash(b) == hash(a) and b.to_dict() == a.to_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_bits": 3}, "arch.weight_bits"),
        ({"act_bits": 16}, "arch.act_bits"),
        ({"in_bits": 0}, "arch.in_bits"),
        ({"exits": [3]}, "arch.exits"),
        ({"exits": [1, 0]}, "arch.exits"),
        ({"widths": [8, 8, 8, 0, 8, 8, 8, 8]}, "arch.widths[3]"),
        ({"widths": [8, 8]}, "arch.widths"),
        ({"family": "resnet"}, "family"),
        ({"padding": "full"}, "arch.padding"),
        ({"num_classes": 1}, "arch.num_classes"),
        ({"input_shape": [1, 8, 8], "padding": "valid"}, "arch.input_shape"),
        ({"input_shape": [1, 8, 9]}, "arch.input_shape"),
    ],
)
def test_arch_validation_names_the_field(change: dict, field: str) -> None:
    d = _cnv().to_dict()
    d.update(change)
    with pytest.raises(SpaceError) as err:
        ArchSpec.from_dict(d)
    msg = str(err.value)
    assert field in msg and "\n" not in msg


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    d = _cnv().to_dict()
    with pytest.raises(SpaceError, match="arch.depth: unknown key"):
        ArchSpec.from_dict({**d, "depth": 3})
    del d["widths"]
    with pytest.raises(SpaceError, match="arch.widths: missing"):
        ArchSpec.from_dict(d)


def test_cnv_geometry_rules() -> None:
    g = geometry(get_family("cnv").default_arch((3, 32, 32), 10))
    assert g.conv_out == (30, 28, 12, 10, 3, 1) and g.block_out == (14, 5, 1) and g.final == 1
    assert g.head_pool == (7, 5, 1)
    g8 = geometry(_cnv())
    assert g8.conv_out == (8, 8, 4, 4, 2, 2) and g8.block_out == (4, 2, 2) and g8.final == 2
    assert g8.head_pool == (2, 1, 1)
    g16 = geometry(_cnv((1, 16, 16)))
    assert g16.block_out == (8, 4, 4) and g16.head_pool == (4, 2, 2)


# -- models -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arch",
    [
        _cnv(),
        _cnv((3, 32, 32), mult=0.0625, weight_bits=1, act_bits=1, in_bits=1),
        _cnv((1, 16, 16), weight_bits=4, act_bits=4, in_bits=4, exits=[1]),
        get_family("tfc").default_arch((1, 8, 8), 10, width_mult=0.5, exits=[0, 2]),
        get_family("tfc").default_arch((3, 8, 8), 5, weight_bits=8, act_bits=8, exits=[]),
    ],
    ids=["cnv-same-w2a2", "cnv-valid-w1a1", "cnv16-w4a4-exit1", "tfc-w2a2", "tfc-w8a8-noexit"],
)
def test_build_forward_and_stages(arch: ArchSpec) -> None:
    torch.manual_seed(0)
    model = get_family(arch.family).build(arch)
    assert isinstance(model, MultiExitNet) and model.arch == arch
    model.train()
    x = torch.rand(8, *arch.input_shape)
    model(x)  # one training-mode pass updates BatchNorm statistics
    model.eval()
    outs = model(x)
    assert len(outs) == len(arch.exits) + 1
    for o in outs:
        assert type(o) is torch.Tensor and o.shape == (8, arch.num_classes)
        assert torch.isfinite(o).all()
    # every subset of the attached exits: chaining the stages reproduces forward()
    subsets = [list(arch.exits), list(arch.exits[:1]), []]
    for exits in subsets:
        inputs = model.stage_inputs(x, exits)
        assert len(inputs) == model.num_stages(exits) == len(exits) + 1
        for k, e in enumerate(exits):
            stage = model.stage(k, exits)
            logits, feats = stage(inputs[k])
            assert not stage.is_last
            assert torch.equal(logits, outs[list(arch.exits).index(e)])
            assert torch.equal(feats, inputs[k + 1])
        last = model.stage(len(exits), exits)
        assert last.is_last and torch.equal(last(inputs[-1]), outs[-1])


def test_quantisers_are_finn_style() -> None:
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU

    model = get_family("cnv").build(_cnv(weight_bits=2, act_bits=2))
    convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
    assert len(convs) == 6
    w = convs[1].quant_weight()
    ints = (w.value / w.scale).detach()
    assert torch.allclose(ints, ints.round()) and ints.abs().max() <= 1  # narrow 2-bit
    assert float(w.scale.flatten()[0]) == pytest.approx(1.0)  # constant per-tensor scale
    relus = [m for m in model.modules() if isinstance(m, QuantReLU)]
    assert len(relus) == 8 and all(int(r.act_quant.bit_width()) == 2 for r in relus)
    binary = get_family("cnv").build(_cnv(weight_bits=1, act_bits=1))
    acts = [m for m in binary.blocks.modules() if isinstance(m, QuantIdentity)]
    assert len(acts) == 6
    x = torch.randn(2, 4, 3, 3)
    assert set(acts[0](x).unique().tolist()) <= {-1.0, 1.0}
    qw = [m for m in binary.modules() if isinstance(m, QuantConv2d)][0].quant_weight().value
    assert set(qw.unique().tolist()) <= {-1.0, 1.0}
    # the input is the UINT8 image
    x = torch.rand(1, 1, 8, 8)
    assert torch.allclose(model.input_quant(x) * 255, (x * 255).round())


def test_unknown_family() -> None:
    with pytest.raises(SpaceError, match="'vgg' is unknown; choose one of cnv, tfc"):
        get_family("vgg")


def test_stage_rejects_unattached_exit() -> None:
    model = get_family("cnv").build(_cnv(exits=[0]))
    with pytest.raises(SpaceError, match="exits: 2 is not attached"):
        model.stage(0, [2])
    with pytest.raises(SpaceError, match="stage: 3 is out of range"):
        model.stage(3, [0])


@pytest.mark.slow  # trains a real model
def test_real_training_on_digits_learns() -> None:
    torch.manual_seed(0)
    data = load_dataset("digits", seed=0)
    arch = get_family("tfc").default_arch(data.input_shape, data.num_classes, exits=[0])
    model = get_family("tfc").build(arch)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(6):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 64):
            idx = perm[i : i + 64]
            loss = sum(torch.nn.functional.cross_entropy(o, y[idx]) for o in model(x[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clip_weights(-1.0, 1.0)
    model.eval()
    with torch.no_grad():
        outs = model(torch.from_numpy(data.x_test))
    accs = [float((o.argmax(1).numpy() == data.y_test).mean()) for o in outs]
    assert accs[-1] > 0.8, accs  # final classifier, 10 classes (chance 0.1)
    assert accs[0] > 0.5, accs  # early exit after the first hidden layer
    assert np.isfinite(accs).all()
