"""The networks both long-term memories are built from, sized from any frame shape.

``Encoder`` (the paper's E) turns a screen into the root vector ``h``; ``Decoder`` (D) turns a
root vector back into a screen. Both are plain stride-2 conv stacks: the frame is zero-padded
at the bottom and right to a multiple of ``2**depth`` and the decoder's output is cropped back,
so any ``H x W`` (square or not, grey or colour) works, not only powers of two. ``depth`` is
chosen so that the smallest feature map is at most about 6 pixels on its longer side, which
keeps the networks small and fast on a CPU. On large frames (:data:`LARGE_FRAME`) the first
layer reads non-overlapping 4x4 patches (stride 4) and the decoder's last layer writes them:
the two full-resolution layers cost most of a step there (Empty-16x16 at 128x128: 80 instead
of 190 ms a step on 2 cores), and the patches still draw an 8-pixel tile's sprite.

Example:
    >>> import torch
    >>> plan = ConvPlan.for_frame((40, 30, 3))
    >>> plan.depth, plan.bottom_hw, plan.channels, plan.strides
    (3, (5, 4), (16, 32, 32), (2, 2, 2))
    >>> ConvPlan.for_frame((128, 128, 3)).strides
    (4, 2, 2, 2)
    >>> encoder, decoder = Encoder(plan, root_dim=8), Decoder(plan, root_dim=8)
    >>> x = torch.zeros(2, 3, 40, 30)
    >>> decoder(encoder(x)).shape
    torch.Size([2, 3, 40, 30])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from man_rl.errors import InvalidValueError

_TARGET_BOTTOM = 6  # longest side of the smallest feature map, at most
_BASE_CHANNELS = 16
_MAX_CHANNELS = 32
#: Frames whose longer side is at least this many pixels start with a stride-4 layer.
LARGE_FRAME = 80
STEMS = (2, 4)
#: What a checkpoint saved before ``stem`` existed was built with.
LEGACY_STEM = {"stem": 2}


def check_frame_shape(frame_shape: Sequence[int]) -> tuple[int, ...]:
    """Return ``frame_shape`` as a tuple after checking it is ``(H, W)`` or ``(H, W, C)``."""
    shape = tuple(int(d) for d in frame_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InvalidValueError(f"frame_shape must be (H, W) or (H, W, C), got {frame_shape}")
    return shape


@dataclass(frozen=True)
class ConvPlan:
    """How the conv stacks are laid out for one frame shape.

    Args:
        frame_shape: ``(H, W)`` or ``(H, W, C)`` of the memory's frames.
        depth: number of conv layers.
        channels: feature channels after each encoder layer (the decoder mirrors them).
        stem: the first layer's stride (2 or 4); every other layer's is 2.
    """

    frame_shape: tuple[int, ...]
    depth: int
    channels: tuple[int, ...]
    stem: int = 2

    @classmethod
    def for_frame(
        cls,
        frame_shape: Sequence[int],
        channels: Sequence[int] | None = None,
        stem: int | None = None,
    ) -> ConvPlan:
        """The plan for ``frame_shape``.

        ``channels`` (one entry per conv layer) overrides the default, which halves the
        frame until its longer side is at most 6 pixels, with 16 then 32 channels.
        ``stem`` is the first layer's stride: 2, or 4 (non-overlapping 4x4 patches, the
        first two halvings in one layer; the default for frames of :data:`LARGE_FRAME` pixels
        or more when ``channels`` is not given, as the full-resolution layers cost most of a
        step there).
        """
        shape = check_frame_shape(frame_shape)
        longest = max(shape[:2])
        depth = max(0, math.ceil(math.log2(longest / _TARGET_BOTTOM))) if longest > 1 else 0
        channels_given = channels
        if channels is None:
            channels = [min(_BASE_CHANNELS * 2**i, _MAX_CHANNELS) for i in range(depth)]
        channels = [int(c) for c in channels]
        if any(c < 1 for c in channels):
            raise InvalidValueError(f"channels must all be >= 1, got {channels}")
        if stem is None:  # given channels keep meaning stride-2 layers, as they always did
            large = longest >= LARGE_FRAME and len(channels) >= 2
            stem = 4 if large and channels_given is None else 2
        if stem not in STEMS:
            raise InvalidValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if stem == 4 and channels_given is None:
            # the first two stride-2 layers become one stride-4 layer, as wide as the second
            channels = [max(channels[:2]), *channels[2:]]
        if stem == 4 and not channels:
            raise InvalidValueError("stem=4 needs at least one conv layer (channels is empty)")
        return cls(frame_shape=shape, depth=len(channels), channels=tuple(channels), stem=stem)

    @property
    def strides(self) -> tuple[int, ...]:
        """The stride of each encoder layer (the decoder mirrors them)."""
        return (self.stem,) + (2,) * (len(self.channels) - 1) if self.channels else ()

    @property
    def scale(self) -> int:
        """How many times smaller the last feature map is than the (padded) frame."""
        return math.prod(self.strides)

    @property
    def in_channels(self) -> int:
        """Colour channels of a frame (1 for grey)."""
        return self.frame_shape[2] if len(self.frame_shape) == 3 else 1

    @property
    def bottom_hw(self) -> tuple[int, int]:
        """Height and width of the smallest feature map."""
        step = self.scale
        return -(-self.frame_shape[0] // step), -(-self.frame_shape[1] // step)

    @property
    def padded_hw(self) -> tuple[int, int]:
        """Frame height and width after padding to a multiple of ``2**depth``."""
        h, w = self.bottom_hw
        return h * self.scale, w * self.scale

    @property
    def bottom_features(self) -> int:
        """Number of values in the smallest feature map."""
        h, w = self.bottom_hw
        return (self.channels[-1] if self.channels else self.in_channels) * h * w


def _kernel(stride: int) -> tuple[int, int]:
    """Kernel and padding of a layer: 4x4 overlapping at stride 2, 4x4 patches at stride 4."""
    return (4, 1) if stride == 2 else (stride, 0)


def _conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
    kernel, padding = _kernel(stride)
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding)


def _deconv(cin: int, cout: int, stride: int) -> nn.ConvTranspose2d:
    kernel, padding = _kernel(stride)
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=padding)


class Encoder(nn.Module):
    """E: a frame (float ``[B, C, H, W]`` in ``[0, 1]``) to its root vector ``[B, root_dim]``."""

    def __init__(self, plan: ConvPlan, root_dim: int) -> None:
        super().__init__()
        self.plan = plan
        layers: list[nn.Module] = []
        previous = plan.in_channels
        for channels, stride in zip(plan.channels, plan.strides, strict=True):
            layers += [_conv(previous, channels, stride), nn.ReLU()]
            previous = channels
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(plan.bottom_features, root_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Root vectors of ``frames``."""
        height, width = self.plan.padded_hw
        pad_h, pad_w = height - frames.shape[-2], width - frames.shape[-1]
        if pad_h or pad_w:
            frames = F.pad(frames, (0, pad_w, 0, pad_h))
        return self.head(self.convs(frames).flatten(1))


class Decoder(nn.Module):
    """D: root vectors ``[B, root_dim]`` to frame logits ``[B, C, H, W]`` (sigmoid -> pixels)."""

    def __init__(self, plan: ConvPlan, root_dim: int) -> None:
        super().__init__()
        self.plan = plan
        self.head = nn.Linear(root_dim, plan.bottom_features)
        layers: list[nn.Module] = []
        reverse = list(reversed(plan.channels))
        strides = list(reversed(plan.strides))
        for i, channels in enumerate(reverse):
            out = reverse[i + 1] if i + 1 < len(reverse) else plan.in_channels
            layers.append(_deconv(channels, out, strides[i]))
            if i + 1 < len(reverse):
                layers.append(nn.ReLU())
        self.deconvs = nn.Sequential(*layers)
        height, width = plan.frame_shape[:2]
        self.pixel_bias = nn.Parameter(torch.zeros(plan.in_channels, height, width))

    def start_from(self, mean_frame: np.ndarray) -> None:
        """Set the per-pixel output bias to the logit of ``mean_frame`` (uint8 ``H x W(xC)``).

        The decoder then starts out drawing the average screen, and training only has to
        learn how each state differs from it.
        """
        mean = torch.as_tensor(np.asarray(mean_frame, dtype=np.float32) / 255.0)
        if mean.ndim == 2:
            mean = mean.unsqueeze(-1)
        mean = mean.permute(2, 0, 1).clamp(0.01, 0.99)
        with torch.no_grad():
            self.pixel_bias.copy_(torch.log(mean) - torch.log1p(-mean))

    def forward(self, root: torch.Tensor) -> torch.Tensor:
        """Frame logits for ``root``."""
        h, w = self.plan.bottom_hw
        channels = self.plan.channels[-1] if self.plan.channels else self.plan.in_channels
        features = self.head(root).view(-1, channels, h, w)
        if self.plan.channels:
            features = self.deconvs(F.relu(features))
        height, width = self.plan.frame_shape[:2]
        return features[..., :height, :width] + self.pixel_bias


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every layer as PyTorch does by default, but from ``generator``.

    PyTorch's layers initialise from the global random generator; drawing from an explicit
    one instead makes a model's weights depend on its seed only.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)


def frames_to_tensor(frames: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 frames ``[B, H, W(, C)]`` to float ``[B, C, H, W]`` in ``[0, 1]`` on ``device``.

    The conversion to float happens on the batch (after the move, so only bytes travel).
    """
    batch = torch.as_tensor(frames).to(device, non_blocking=True)
    if batch.ndim == 3:
        batch = batch.unsqueeze(-1)
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_frames(images: torch.Tensor, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Float ``[B, C, H, W]`` in ``[0, 1]`` to uint8 frames shaped ``(B, *frame_shape)``."""
    pixels = images.detach().mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    pixels = pixels.permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(pixels.reshape(len(pixels), *frame_shape))


__all__ = [
    "LARGE_FRAME",
    "LEGACY_STEM",
    "STEMS",
    "ConvPlan",
    "Decoder",
    "Encoder",
    "check_frame_shape",
    "frames_to_tensor",
    "init_weights",
    "mlp",
    "tensor_to_frames",
]
