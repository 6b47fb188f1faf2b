"""The hard-pixel term of the reconstruction loss (``hard_pixels``, ``hard_pixel_weight``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from man_rl.errors import InvalidTypeError, InvalidValueError
from man_rl.ltm import TypeA, TypeB, load_model
from man_rl.ltm.losses import DEFAULT_HARD_PIXELS, reconstruction_loss

MODELS = [TypeA, TypeB]


def test_the_k_largest_errors_of_each_frame_count_one_plus_weight_times():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 5, 4, generator=generator)
    frames = torch.rand(3, 2, 5, 4, generator=generator)
    error = (torch.sigmoid(logits) - frames).square().flatten(1)
    plain = error.sum(1).mean()
    hardest = error.sort(dim=1, descending=True).values[:, :7].sum(1).mean()
    assert torch.allclose(reconstruction_loss(logits, frames), plain)
    got = reconstruction_loss(logits, frames, hard_pixels=7, hard_pixel_weight=2.5)
    assert torch.allclose(got, plain + 2.5 * hardest)
    # k past the frame's size is every value; weight 0 or k 0 is the plain loss
    every = reconstruction_loss(logits, frames, hard_pixels=10_000, hard_pixel_weight=1.0)
    assert torch.allclose(every, 2 * plain)
    base = reconstruction_loss(logits, frames)
    assert torch.equal(reconstruction_loss(logits, frames, 7, 0.0), base)
    assert torch.equal(reconstruction_loss(logits, frames, 0, 5.0), base)


def test_the_term_pulls_the_decoder_to_the_sprite_not_the_room():
    # a decoder that draws the room right and the sprite wrong, and one a little off
    # everywhere: the plain loss cannot tell them apart, the hard-pixel term can
    frames = torch.zeros(1, 1, 10, 10)
    frames[..., 0, 0] = 1.0  # the sprite: one pixel
    sprite_missed = torch.full_like(frames, -9.0)  # sigmoid ~0: only the sprite is wrong
    target = torch.logit(torch.tensor(1 - np.sqrt(0.01)).float())
    room_off = torch.full_like(frames, float(torch.logit(torch.tensor(np.sqrt(0.01)).float())))
    room_off[..., 0, 0] = target  # every pixel's error 0.01: 100 x 0.01 = 1, as the sprite's
    plain = [float(reconstruction_loss(x, frames)) for x in (sprite_missed, room_off)]
    hard = [float(reconstruction_loss(x, frames, 1, 10.0)) for x in (sprite_missed, room_off)]
    assert plain[0] == pytest.approx(plain[1], rel=0.01)
    assert hard[0] > 5 * hard[1]


@pytest.mark.parametrize("cls", MODELS)
def test_the_options_are_kept_in_checkpoints_and_checked(cls, tmp_path, dot_memory):
    stm = dot_memory(size=8, states=4, dot=2)
    model = cls.for_memory(stm, seed=0, hard_pixels=12, hard_pixel_weight=4.0)
    model.fit(stm, 2, seed=0, progress=False)
    model.save(tmp_path / "m.manrl")
    loaded = load_model(tmp_path / "m.manrl")
    assert (loaded.config.hard_pixels, loaded.config.hard_pixel_weight) == (12, 4.0)
    assert cls.for_memory(stm, seed=0).config.hard_pixels == DEFAULT_HARD_PIXELS == 64
    assert cls.paper(stm, seed=0).config.hard_pixels == 0  # the paper's equations: off
    with pytest.raises(InvalidValueError, match="hard_pixels"):
        cls.for_memory(stm, hard_pixels=-1)
    with pytest.raises(InvalidTypeError, match="hard_pixels"):
        cls.for_memory(stm, hard_pixels=2.5)
    with pytest.raises(InvalidValueError, match="hard_pixel_weight"):
        cls.for_memory(stm, hard_pixels=4, hard_pixel_weight=-1.0)


def test_type_a_draws_the_states_small_dots_only_with_the_term(dot_memory):
    # 100 states told apart by a 2x2 red dot on 32x32 screens. Without the term, Type A's
    # recall after 300 steps is the room with no dot (measured: 0 of 100 drawn); with it,
    # every state's dot is drawn.
    stm = dot_memory()

    def dots_drawn(hard_pixels: int) -> int:
        model = TypeA.for_memory(stm, seed=0, hard_pixels=hard_pixels)
        model.fit(stm, 300, seed=0, progress=False, device="cpu")
        drawn = 0
        for key in stm.keys:
            real, recalled = stm.queue(key)[0], model.recall(key, 1, seed=0)[0].astype(int)
            dot = recalled[real[..., 1] == 0]  # the dot's pixels (pure red in the real one)
            drawn += bool(dot[:, 0].mean() > 150 and dot[:, 1].mean() < 100)
        return drawn

    assert dots_drawn(16) >= 95
    assert dots_drawn(0) <= 5  # the control: the plain loss leaves the dots out
