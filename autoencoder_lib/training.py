"""Training helpers: one ``fit`` for every notebook, and a report of the device.

Introduced in notebook 01 (training the first autoencoder). ``fit`` adds what every
notebook wants around ``model.fit``: a validation split, early stopping that restores
the best weights, and a one-line progress bar that redraws in place in JupyterLab and
Colab. Settings that depend on the hardware come from :func:`settings_for_device`, the
one place where device-specific tuning belongs.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "CPU", "GPU" or "TPU"
    name: str
    count: int


@dataclass(frozen=True)
class Settings:
    """Training settings chosen for the device; every field can be overridden."""

    batch_size: int
    reason: str


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def detect_device() -> DeviceInfo:
    """What the current Keras backend will compute on."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tpus = tf.config.list_logical_devices("TPU")
        if tpus:
            return DeviceInfo("TPU", "TPU", len(tpus))
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return DeviceInfo("GPU", details.get("device_name", "GPU"), len(gpus))
    elif backend == "jax":
        import jax

        devices = jax.devices()
        if devices and devices[0].platform in ("gpu", "tpu"):
            return DeviceInfo(
                devices[0].platform.upper(), devices[0].device_kind, len(devices)
            )
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return DeviceInfo(
                "GPU", torch.cuda.get_device_name(0), torch.cuda.device_count()
            )
    return DeviceInfo("CPU", _cpu_name(), 1)


def _backend_version(backend: str) -> str:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return "?"
    return getattr(sys.modules.get(module) or __import__(module), "__version__", "?")


def device_report() -> str:
    """One line: backend and its version, the device, and the Keras version."""
    backend = keras.backend.backend()
    device = detect_device()
    count = f" x{device.count}" if device.count > 1 else ""
    return (
        f"Keras {keras.__version__} | backend {backend} {_backend_version(backend)} | "
        f"device {device.kind}{count}: {device.name}"
    )


def settings_for_device(device: DeviceInfo | None = None) -> Settings:
    """Default training settings for the device (tuned further in the GPU issue's work)."""
    device = device or detect_device()
    if device.kind == "CPU":
        return Settings(
            batch_size=128, reason="CPU: batch 128 keeps both cache and cores busy"
        )
    return Settings(
        batch_size=256, reason=f"{device.kind}: larger batches keep it busy"
    )


class EpochProgress(keras.callbacks.Callback):
    """A single progress line per ``fit`` call, redrawn in place after every epoch."""

    def __init__(self, epochs: int, width: int = 20, stream=None):
        super().__init__()
        self.epochs = epochs
        self.width = width
        self.stream = stream or sys.stdout
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        filled = round(self.width * done / self.epochs)
        bar = "#" * filled + "." * (self.width - filled)
        values = " ".join(f"{k} {v:.4g}" for k, v in (logs or {}).items())
        elapsed = time.perf_counter() - self._start
        self.stream.write(
            f"\rEpoch {done}/{self.epochs} [{bar}] {values} ({elapsed:.0f} s)"
        )
        self.stream.flush()

    def on_train_end(self, logs=None):
        self.stream.write("\n")
        self.stream.flush()


def fit(
    model: keras.Model,
    x,
    y=None,
    *,
    epochs: int,
    batch_size: int | None = None,
    validation_split: float = 0.1,
    validation_data=None,
    patience: int | None = 5,
    verbose: bool = True,
    callbacks=(),
) -> keras.callbacks.History:
    """Train a compiled model and return its ``History``.

    ``y`` defaults to ``x``: an autoencoder learns to reproduce its input. For a
    denoiser pass the corrupted images as ``x`` and the clean ones as ``y``. Early
    stopping watches the validation loss and restores the best weights; ``patience=None``
    turns it off.
    """
    if getattr(model, "optimizer", None) is None or not getattr(
        model, "compiled", True
    ):
        raise ValueError(
            f"Model {model.name!r} is not compiled. Call model.compile(optimizer=..., "
            "loss=...) before training.fit(...)."
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    y = x if y is None else y
    x_shape, y_shape = np.shape(x), np.shape(y)
    if x_shape[0] != y_shape[0]:
        raise ValueError(
            f"x has {x_shape[0]} examples but y has {y_shape[0]}; they must match."
        )
    if validation_data is None and not 0 < validation_split < 1:
        raise ValueError(
            f"validation_split must be between 0 and 1, got {validation_split!r}; or "
            "pass validation_data=(x_val, y_val)."
        )
    if batch_size is None:
        batch_size = settings_for_device().batch_size

    all_callbacks = list(callbacks)
    has_validation = validation_data is not None or validation_split > 0
    if patience is not None and has_validation:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    if verbose:
        all_callbacks.append(EpochProgress(epochs))
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.0 if validation_data is not None else validation_split,
        validation_data=validation_data,
        callbacks=all_callbacks,
        verbose=0,
    )
