"""Small PNGs of frames for the report page: thumbnails, strips side by side, data URIs.

Frames are ``uint8`` stacks ``(n, H, W)`` or ``(n, H, W, C)`` (C in 1, 3, 4), as a short-term
memory holds them. Big frames are shrunk by block means so that their longer side is at most
``max_side`` pixels (an Atari screen of 210 x 160 becomes 53 x 40 at 64), small ones are
kept as they are (the page scales them up with crisp pixels).

Example:
    >>> import numpy as np
    >>> frames = np.zeros((3, 210, 160, 3), np.uint8)
    >>> thumbnails(frames, 64).shape
    (3, 53, 40, 3)
    >>> strip(thumbnails(frames, 64)).shape
    (53, 124, 3)
    >>> png_bytes(strip(frames[:, :8, :8]))[1:4]
    b'PNG'
"""

from __future__ import annotations

import base64
import io

import numpy as np

from man_rl.errors import InvalidTypeError, InvalidValueError

GAP = 2  # pixels between frames of a strip
_GAP_VALUE = 255


def _check(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise InvalidTypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] not in (3, 4)):
        raise InvalidValueError(
            f"frames must be a stack (n, H, W) or (n, H, W, C) with C in 1, 3, 4; got shape "
            f"{frames.shape}"
        )
    return frames


def thumbnails(frames: np.ndarray, max_side: int) -> np.ndarray:
    """``frames`` shrunk by an integer factor so that no side is longer than ``max_side``."""
    frames = _check(frames)
    if max_side < 1:
        raise InvalidValueError(f"max_side must be >= 1, got {max_side}")
    height, width = frames.shape[1:3]
    factor = -(-max(height, width) // max_side)
    if factor <= 1:
        return frames
    rows, cols = -(-height // factor), -(-width // factor)
    # pad with the edge to a whole number of blocks, then average each block
    pad = [(0, 0), (0, rows * factor - height), (0, cols * factor - width)]
    pad += [(0, 0)] * (frames.ndim - 3)
    padded = np.pad(frames, pad, mode="edge").astype(np.float32)
    blocks = padded.reshape(len(frames), rows, factor, cols, factor, *frames.shape[3:])
    return np.round(blocks.mean(axis=(2, 4))).astype(np.uint8)


def strip(frames: np.ndarray, gap: int = GAP) -> np.ndarray:
    """One image: the frames side by side, left to right, ``gap`` white pixels apart."""
    frames = _check(frames)
    n, height, width = frames.shape[:3]
    if n == 0:
        raise InvalidValueError("a strip needs at least one frame")
    out = np.full((height, n * width + (n - 1) * gap, *frames.shape[3:]), _GAP_VALUE, np.uint8)
    for i, frame in enumerate(frames):
        out[:, i * (width + gap) : i * (width + gap) + width] = frame
    return out


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 image ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` as PNG bytes."""
    from PIL import Image  # matplotlib's own dependency

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes, for an ``<img src>`` in the page itself."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def evenly(frames: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` of ``frames``, evenly spaced from the first (oldest) to the last."""
    if len(frames) <= limit:
        return frames
    return frames[np.linspace(0, len(frames) - 1, limit).round().astype(int)]


__all__ = ["data_uri", "evenly", "png_bytes", "strip", "thumbnails"]
