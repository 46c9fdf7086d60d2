"""Corruptions that turn clean images into inputs for a restoring autoencoder.

Introduced in notebook 03 (denoising), where you write Gaussian noise yourself first;
``gaussian_blur`` and ``downscale`` in notebook 04 (reconstruction). Every function takes
a batch of images in [0, 1] and returns a new float32 batch of the same shape in [0, 1]
(the input is never modified); the random ones are reproducible from ``seed``.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
from PIL import Image


def _images(x) -> np.ndarray:
    array = np.asarray(x, dtype=np.float32)
    if array.ndim != 4:
        raise ValueError(
            f"Expected a batch of images shaped (N, height, width, channels), got "
            f"{array.shape}. Add a channel axis with x[..., None] if it is missing."
        )
    return array


def _fraction(name: str, value) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}.")
    return float(value)


def gaussian_noise(x, std: float, seed: int | None = None) -> np.ndarray:
    """Add zero-mean Gaussian noise of standard deviation ``std``, then clip to [0, 1].

    Clipping matters: without it the noisy images leave the range the decoder's sigmoid
    can produce, and PSNR figures are no longer comparable.
    """
    if float(std) < 0:
        raise ValueError(f"std must be zero or positive, got {std!r}.")
    images = _images(x)
    noise = np.random.default_rng(seed).normal(0.0, float(std), size=images.shape)
    return np.clip(images + noise, 0.0, 1.0).astype(np.float32)


def salt_and_pepper(x, fraction: float, seed: int | None = None) -> np.ndarray:
    """Set a ``fraction`` of the pixels to 0 or 1 (half each, on average).

    A pixel is corrupted in all its channels at once, as a dead sensor pixel would be.
    """
    fraction = _fraction("fraction", fraction)
    images = _images(x).copy()
    rng = np.random.default_rng(seed)
    hit = rng.random(images.shape[:3]) < fraction
    salt = rng.random(images.shape[:3]) < 0.5
    images[hit & salt] = 1.0
    images[hit & ~salt] = 0.0
    return images


def mask(x, fraction: float, seed: int | None = None, fill: float = 0.0) -> np.ndarray:
    """Replace a ``fraction`` of the pixels (all channels) by ``fill``: missing data."""
    fraction = _fraction("fraction", fraction)
    images = _images(x).copy()
    hit = np.random.default_rng(seed).random(images.shape[:3]) < fraction
    images[hit] = fill
    return images


def gaussian_blur(x, sigma: float) -> np.ndarray:
    """Blur every image with a Gaussian of standard deviation ``sigma`` pixels.

    Height and width are blurred, images and channels are not mixed; edges are
    reflected. ``sigma=0`` returns a copy.
    """
    if float(sigma) < 0:
        raise ValueError(f"sigma must be zero or positive, got {sigma!r}.")
    images = _images(x)
    if float(sigma) == 0:
        return images.copy()
    blurred = ndi.gaussian_filter(images, sigma=(0, float(sigma), float(sigma), 0))
    return np.clip(blurred, 0.0, 1.0).astype(np.float32)


def downscale(x, factor: int) -> np.ndarray:
    """Shrink every image ``factor`` times, then enlarge it back, both bicubic (Pillow).

    The result has the original size but only the detail of the small image: the input
    of a super-resolution model, and bicubic upscaling is its baseline.
    """
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}.")
    images = _images(x)
    n, height, width, channels = images.shape
    if height % factor or width % factor:
        raise ValueError(
            f"images of {height}x{width} cannot be shrunk {factor} times: height and "
            f"width must be divisible by the factor (28x28 works with 2, 4, 7)."
        )
    small_size = (width // factor, height // factor)
    out = np.empty_like(images)
    for i in range(n):
        for c in range(channels):
            plane = Image.fromarray(np.ascontiguousarray(images[i, :, :, c]))
            small = plane.resize(small_size, Image.Resampling.BICUBIC)
            big = small.resize((width, height), Image.Resampling.BICUBIC)
            out[i, :, :, c] = np.asarray(big)
    return np.clip(out, 0.0, 1.0)
