"""Test helpers: a tiny deterministic keypoint dataset (coloured discs at known sub-pixel positions)."""

from __future__ import annotations

import functools
from typing import Any

import torch

COLOURS = torch.tensor([[1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.2, 1.0], [1.0, 1.0, 0.1]])


def disc_images(
    n: int = 8, size: int = 64, k: int = 4, radius: float = 4.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` uint8 RGB images ``(n, 3, size, size)`` with ``k`` anti-aliased coloured discs; centres ``(n, k, 2)`` px.

    Centres are uniform sub-pixel positions at least ``radius + 2`` px inside the image; disc ``j`` has
    colour ``COLOURS[j]``, so the keypoint identity is the colour.
    """
    g = torch.Generator().manual_seed(seed)
    lo, hi = radius + 2, size - 1 - radius - 2
    centres = lo + (hi - lo) * torch.rand(n, k, 2, generator=g)
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    images = 0.4 + 0.05 * torch.randn(n, 3, size, size, generator=g)
    for j in range(k):
        d = ((xx - centres[:, j, 0, None, None]) ** 2 + (yy - centres[:, j, 1, None, None]) ** 2).sqrt()
        alpha = (radius + 0.5 - d).clamp(0, 1).unsqueeze(1)  # (n, 1, H, W)
        images = images * (1 - alpha) + alpha * COLOURS[j % len(COLOURS)].view(1, 3, 1, 1)
    return (images * 255.0).round().clamp(0, 255).to(torch.uint8), centres


def make_batch(images: torch.Tensor, keypoints: torch.Tensor, affine: torch.Tensor | None = None) -> dict[str, Any]:
    """A batch (docs/architecture.md) for images whose input px are (affine-mapped) original px."""
    b, k = keypoints.shape[:2]
    size = images.shape[-1]
    if affine is None:
        affine = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(b, 2, 3).clone()
    lin, off = affine[:, :, :2], affine[:, :, 2]
    orig = torch.einsum("bij,bkj->bki", lin, keypoints) + off[:, None]
    return {
        "image": images,
        "keypoints": keypoints,
        "visibility": torch.ones(b, k),
        "affine": affine,
        "orig_keypoints": orig,
        "orig_visibility": torch.ones(b, k),
        "bbox": torch.tensor([[0.0, 0.0, float(size), float(size)]]).expand(b, 4).clone(),
        "area": torch.full((b,), float(size * size)),
        "image_id": torch.arange(b),
        "score": torch.ones(b),
        "norm": torch.full((b,), float(size)),
    }


def partial(fn: Any, **kw: Any) -> functools.partial:
    return functools.partial(fn, **kw)
