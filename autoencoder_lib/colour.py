"""RGB images to lightness and chroma (CIE Lab) and back.

Introduced in notebook 05 (colorization), where you write the first direction yourself.
Lightness is Lab's L scaled to [0, 1] (L / 100); chroma is Lab's a and b scaled to about
[-1, 1] (a / 128, b / 128). The conversions are scikit-image's.
"""

from __future__ import annotations

import warnings

import numpy as np

LIGHTNESS_SCALE = 100.0
CHROMA_SCALE = 128.0


def _check(name: str, array, channels: int) -> np.ndarray:
    import keras

    array = np.asarray(keras.ops.convert_to_numpy(array), dtype=np.float64)
    if array.ndim != 4 or array.shape[-1] != channels:
        raise ValueError(
            f"{name} must be shaped (N, height, width, {channels}), got {array.shape}."
        )
    return array


def split_lab(x) -> tuple[np.ndarray, np.ndarray]:
    """RGB images in [0, 1] -> (lightness (N, H, W, 1), chroma (N, H, W, 2)), float32."""
    from skimage import color

    lab = color.rgb2lab(_check("x", x, 3))
    lightness = lab[..., :1] / LIGHTNESS_SCALE
    chroma = lab[..., 1:] / CHROMA_SCALE
    return lightness.astype(np.float32), chroma.astype(np.float32)


def join_lab(lightness, chroma) -> np.ndarray:
    """(lightness, chroma) as from :func:`split_lab` -> RGB images in [0, 1], float32.

    Predicted chroma can fall outside the colours RGB can show; those pixels are clipped
    to the nearest displayable value (scikit-image's warning about it is silenced).
    """
    from skimage import color

    lightness = _check("lightness", lightness, 1)
    chroma = _check("chroma", chroma, 2)
    if lightness.shape[:3] != chroma.shape[:3]:
        raise ValueError(
            f"lightness {lightness.shape} and chroma {chroma.shape} must describe the "
            "same images (same N, height and width)."
        )
    lab = np.concatenate([lightness * LIGHTNESS_SCALE, chroma * CHROMA_SCALE], axis=-1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*negative Z values.*")
        rgb = color.lab2rgb(lab)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
