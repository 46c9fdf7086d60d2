"""Image-quality metrics: MSE, PSNR and SSIM, on batches of images.

Introduced in notebook 01 (MSE) and notebook 03 (PSNR, SSIM). All functions take two
batches of the same shape (N, H, W, C) with values in ``[0, data_range]`` (NumPy arrays
or backend tensors) and return one number per image unless stated otherwise.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def _as_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    import keras

    a = np.asarray(keras.ops.convert_to_numpy(a), dtype=np.float64)
    b = np.asarray(keras.ops.convert_to_numpy(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"The two batches must have the same shape, got {a.shape} and {b.shape}. "
            "Compare originals with reconstructions of the same images, e.g. "
            "x_test[:n] with model.predict(x_test[:n])."
        )
    if a.ndim != 4:
        raise ValueError(
            f"Expected batches of images shaped (N, height, width, channels), got "
            f"{a.shape}. Add a channel axis with x[..., None] if it is missing."
        )
    return a, b


def mse_per_image(a, b) -> np.ndarray:
    """Mean squared error of each image, averaged over its pixels and channels: (N,)."""
    a, b = _as_pair(a, b)
    return np.mean((a - b) ** 2, axis=(1, 2, 3))


def mse(a, b) -> float:
    """Mean squared error over the whole batch (the mean of :func:`mse_per_image`)."""
    return float(np.mean(mse_per_image(a, b)))


def psnr_per_image(a, b, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image in dB: 10 log10(data_range² / MSE).

    Identical images give ``inf``.
    """
    errors = mse_per_image(a, b)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / errors)


def psnr(a, b, data_range: float = 1.0) -> float:
    """Mean PSNR over the images of the batch, in dB."""
    return float(np.mean(psnr_per_image(a, b, data_range)))


def ssim_per_image(a, b, data_range: float = 1.0) -> np.ndarray:
    """Structural similarity of each image (Wang et al., 2004), averaged over channels.

    The usual definition: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01,
    K2 = 0.03, population (co)variances, and the mean over the pixels whose window
    fits inside the image. It matches ``skimage.metrics.structural_similarity`` with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``.
    """
    a, b = _as_pair(a, b)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    pad = 5  # half of the 11-pixel window: pixels nearer the border are left out

    def blur(img):
        # Filter height and width only, never across images or channels.
        return gaussian_filter(
            img, sigma=(0, 1.5, 1.5, 0), truncate=3.5, mode="reflect"
        )

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    if a.shape[1] <= 2 * pad or a.shape[2] <= 2 * pad:
        raise ValueError(f"SSIM needs images larger than 11x11, got {a.shape[1:3]}.")
    return ssim_map[:, pad:-pad, pad:-pad, :].mean(axis=(1, 2, 3))


def ssim(a, b, data_range: float = 1.0) -> float:
    """Mean SSIM over the images of the batch (1 means identical)."""
    return float(np.mean(ssim_per_image(a, b, data_range)))
