"""Figures the notebooks share: image grids, loss curves and learned filters.

Introduced in notebook 01 (``filters`` in notebook 02). Every function returns the matplotlib ``Figure`` (assign it,
``fig = plots.reconstructions(...)``, so Jupyter shows it once). Models are run on the
whole batch of images at once: one ``predict`` call per figure, never one per image.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _as_images(name: str, images) -> np.ndarray:
    array = _to_numpy(images)
    if array.ndim == 3:  # (N, H, W): one channel without its axis
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must be images shaped (N, height, width, 1 or 3), got {array.shape}."
        )
    return array


def image_rows(
    rows: dict, n: int | None = None, title: str | None = None, size: float = 1.2
):
    """A grid with one row per entry of ``rows`` (label -> batch of images)."""
    if not rows:
        raise ValueError(
            "rows is empty: pass a dict such as {'original': x, 'output': y}."
        )
    arrays = {label: _as_images(label, images) for label, images in rows.items()}
    n = n or min(len(a) for a in arrays.values())
    n = min(n, *(len(a) for a in arrays.values()))
    fig, axes = plt.subplots(
        len(arrays), n, figsize=(size * n, size * len(arrays) + 0.4), squeeze=False
    )
    for r, (label, images) in enumerate(arrays.items()):
        for c in range(n):
            ax = axes[r, c]
            image = images[c]
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(np.clip(image, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reconstructions(model, x, n: int = 10, title: str | None = None):
    """Originals in the first row and the model's reconstructions below, ``n`` images."""
    originals = _as_images("x", x)[:n]
    outputs = model.predict(originals, verbose=0)
    return image_rows({"original": originals, "reconstruction": outputs}, title=title)


def loss_curves(history, title: str = "Training curves", log_scale: bool = True):
    """Loss per epoch for training and validation, from a ``History`` or its dict."""
    logs = getattr(history, "history", history)
    if not logs:
        raise ValueError(
            "The history is empty: train the model before plotting its curves."
        )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, values in logs.items():
        if key.endswith("loss"):
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def filters(kernel, image_shape=(28, 28), n: int = 32, title: str | None = None):
    """Rows of a dense layer's kernel drawn as images: what each code unit paints.

    ``kernel`` is the decoder's output kernel, shaped (code units, pixels). Each filter
    is scaled on its own so that grey is zero, white positive and black negative.
    """
    weights = np.asarray(_to_numpy(kernel), dtype=np.float64)
    pixels = int(np.prod(image_shape))
    if weights.ndim != 2 or weights.shape[1] != pixels:
        raise ValueError(
            f"kernel must be shaped (code units, {pixels}) for images of shape "
            f"{tuple(image_shape)}, got {weights.shape}. Pass the decoder's output "
            "layer kernel, e.g. model.layers[-2].kernel."
        )
    n = min(n, len(weights))
    columns = min(n, 8)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.1 * columns, 1.1 * rows + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("off")
    for ax, w in zip(axes.flat, weights[:n], strict=False):
        scale = np.abs(w).max() or 1.0
        ax.imshow(w.reshape(image_shape), cmap="gray", vmin=-scale, vmax=scale)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _to_numpy(value) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))
