"""The conv plan: sized from the frame, a stride-4 first layer on large frames."""

import numpy as np
import pytest
import torch

from man_rl import ShortTermMemory, TypeA, TypeB
from man_rl.errors import InvalidValueError
from man_rl.ltm import load_model
from man_rl.ltm.networks import LARGE_FRAME, ConvPlan, Decoder, Encoder


def conv_macs(plan: ConvPlan) -> int:
    """Multiply-adds of the encoder's conv layers on one frame."""
    height, width = plan.padded_hw
    previous, total = plan.in_channels, 0
    for channels, stride in zip(plan.channels, plan.strides, strict=True):
        height, width = height // stride, width // stride
        kernel = 4
        total += height * width * channels * previous * kernel * kernel
        previous = channels
    return total


@pytest.mark.parametrize(
    "shape", [(40, 40, 3), (64, 64, 3), (LARGE_FRAME - 1, 60)], ids=["40", "64", "79x60"]
)
def test_small_frames_keep_stride_2_layers(shape):
    plan = ConvPlan.for_frame(shape)
    assert plan.stem == 2 and set(plan.strides) == {2}
    assert max(plan.bottom_hw) <= 6


@pytest.mark.parametrize("shape", [(84, 84), (128, 128, 3), (210, 160, 3)])
def test_large_frames_start_with_4x4_patches_and_keep_their_shape(shape):
    plan = ConvPlan.for_frame(shape)
    assert plan.stem == 4 and plan.strides[0] == 4 and set(plan.strides[1:]) == {2}
    assert max(plan.bottom_hw) <= 6
    stride_2 = ConvPlan.for_frame(shape, stem=2)
    assert plan.bottom_hw == stride_2.bottom_hw  # the same code size, one layer fewer
    assert conv_macs(plan) < conv_macs(stride_2) / 2
    frames = torch.rand(2, plan.in_channels, *shape[:2])
    out = Decoder(plan, root_dim=8)(Encoder(plan, root_dim=8)(frames))
    assert out.shape == frames.shape


def test_given_channels_keep_meaning_stride_2_layers():
    plan = ConvPlan.for_frame((128, 128, 3), channels=(16, 32, 32, 32, 32))
    assert plan.stem == 2 and plan.bottom_hw == (4, 4)


def test_a_bad_stem_is_refused():
    with pytest.raises(InvalidValueError, match="stem must be one of"):
        ConvPlan.for_frame((128, 128), stem=3)


def large_memory() -> ShortTermMemory:
    memory = ShortTermMemory(capacity=2)
    for value in (0, 255):
        memory.add(str(value), np.full((84, 84), value, dtype=np.uint8))
    return memory


@pytest.mark.parametrize("cls", [TypeA, TypeB])
def test_models_record_the_stem_and_load_it_back(cls, tmp_path):
    memory = large_memory()
    chosen = cls.for_memory(memory, seed=0)
    forced = cls.for_memory(memory, seed=0, stem=2)
    assert chosen.config.stem == 4 and forced.config.stem == 2
    for model in (chosen, forced):
        path = tmp_path / f"{model.config.stem}.manrl"
        model.save(path)
        loaded = load_model(path)
        assert loaded.config == model.config
        assert np.array_equal(loaded.recall("0", n=1, seed=0), model.recall("0", n=1, seed=0))
