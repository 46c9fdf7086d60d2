"""Training helpers: one ``fit`` for every notebook, tuned for the device it runs on.

Introduced in notebook 01 (training the first autoencoder). ``fit`` adds what every
notebook wants around ``model.fit``: a validation split, early stopping that restores
the best weights, a one-line progress bar that redraws in place in JupyterLab and Colab,
and settings picked for the hardware, so students on a laptop, a Colab T4 or a machine
with several GPUs need not know the knobs:

* :func:`detect_device` looks once at what the Keras backend computes on;
* :func:`settings_for_device` turns that into a batch size, ``steps_per_execution``,
  a learning-rate multiplier for large batches, a mixed-precision policy and a
  data-parallel engine, each with its reason;
* :func:`configure` applies the two global choices (precision, distribution); it must
  run before models are built, so ``session.start()`` calls it;
* :func:`fit` applies the per-call ones (batch size, steps per execution, learning
  rate, input pipeline) and halves the batch when the accelerator runs out of memory.

Every choice can be overridden: pass ``batch_size=`` or ``steps_per_execution=`` to
``fit``, or ``settings_for_device(mixed_precision=None)`` to ``configure``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import keras
import numpy as np

from . import model_cache
from .callbacks import PLATEAU_EPOCHS, EpochProgress, scaled_learning_rate
from .device import (
    COLAB_NO_GPU,
    LINEAR_RULE_EVIDENCE,
    REFERENCE_BATCH,
    DeviceInfo,
    Settings,
    configure,
    configured,
    detect_device,
    device_report,
    in_colab,
    replicas,
    settings_for_device,
)

# Where notebooks, the README and the benchmarks name them: training.<name>.
__all__ = [
    "COLAB_NO_GPU",
    "LINEAR_RULE_EVIDENCE",
    "PLATEAU_EPOCHS",
    "REFERENCE_BATCH",
    "DeviceInfo",
    "EpochProgress",
    "Settings",
    "configure",
    "configured",
    "detect_device",
    "device_report",
    "fit",
    "in_colab",
    "is_out_of_memory",
    "replicas",
    "settings_for_device",
]


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an accelerator running out of memory, on any backend."""
    name = type(error).__name__
    text = str(error)
    return (
        name in ("ResourceExhaustedError", "OutOfMemoryError")
        or "RESOURCE_EXHAUSTED" in text
        or "CUDA out of memory" in text
        or "OOM when allocating" in text
    )


def _tf_pipeline(x, y, batch_size: int, shuffle: bool):
    """A tf.data pipeline over in-memory arrays: shuffled indices, gathered batches.

    Shuffling indices (not images) keeps the shuffle buffer small; prefetching
    prepares the next batch while the device trains on this one.
    """
    import tensorflow as tf

    x_t, y_t = tf.constant(x), tf.constant(y)
    n = len(x)
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, reshuffle_each_iteration=True)
    return (
        indices.batch(batch_size)
        .map(
            lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )


def _split(x, y, validation_split, validation_data):
    """Training and validation arrays; the split takes the last examples, as Keras does."""
    if validation_data is not None:
        return (x, y), tuple(validation_data)
    if validation_split == 0:
        return (x, y), None
    cut = int(len(x) * (1 - validation_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _set_steps_per_execution(model: keras.Model, steps: int) -> None:
    if model.steps_per_execution != steps:
        model.steps_per_execution = steps
        # Compiled step functions bake the number in: let Keras build them again.
        model.train_function = model.test_function = model.predict_function = None


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
    steps_per_execution: int | None = None,
    cache: bool | None = None,
    settings: Settings | None = None,
) -> keras.callbacks.History:
    """Train a compiled model and return its ``History``.

    ``y`` defaults to ``x``: an autoencoder learns to reproduce its input. For a
    denoiser pass the corrupted images as ``x`` and the clean ones as ``y``. Early
    stopping watches the validation loss and restores the best weights; ``patience=None``
    turns it off. ``batch_size`` and ``steps_per_execution`` default to the device's
    settings (see :func:`device_report`); a model compiled with its own
    ``steps_per_execution`` keeps it. If the accelerator runs out of memory, the batch
    is halved and training starts again, with a line saying so. ``settings`` (see
    :func:`settings_for_device`) replaces the ones :func:`configure` chose, for this
    call only.

    A model trained before with exactly the same architecture, starting weights,
    optimizer, data and arguments is loaded instead of trained again, with a line
    saying so (see :mod:`autoencoder_lib.model_cache`). ``cache=False``, or the
    environment variable ``AUTOENCODER_MODEL_CACHE=0``, always trains. Either way
    ``history.training_seconds`` is how long the training took when it ran, so that a
    notebook can compare training times whether or not its models were loaded.
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
    if validation_data is None and not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be between 0 and 1, got {validation_split!r}; or "
            "pass validation_data=(x_val, y_val)."
        )
    settings = settings or configured() or settings_for_device()
    learning_rate_scale, warm_up_epochs = 1.0, 0
    if batch_size is None:
        batch_size = settings.batch_size * replicas()
        learning_rate_scale = settings.learning_rate_scale
        warm_up_epochs = settings.warm_up_epochs
    if steps_per_execution is None and model.steps_per_execution == 1:
        steps_per_execution = settings.steps_per_execution
    if steps_per_execution is not None:
        if steps_per_execution > 1 and keras.backend.backend() == "torch":
            raise ValueError(
                f"steps_per_execution={steps_per_execution} needs the TensorFlow or JAX "
                "backend; the PyTorch backend runs one step at a time. Leave it out "
                "(or pass 1)."
            )
        _set_steps_per_execution(model, steps_per_execution)

    same_targets = y is x
    (x_train, y_train), validation = _split(x, y, validation_split, validation_data)
    digest = None
    callbacks = list(callbacks)
    # A callback of the caller's own may change training in ways no key can see.
    if model_cache.enabled(cache) and not callbacks:
        digest = _cache_key(
            model,
            x_train,
            None if same_targets else y_train,
            validation,
            dict(
                epochs=epochs,
                batch_size=batch_size,
                patience=patience,
                steps_per_execution=model.steps_per_execution,
                learning_rate_scale=learning_rate_scale,
                warm_up_epochs=warm_up_epochs,
                settings=asdict(settings),
            ),
        )
        entry = model_cache.lookup(model, digest) if digest else None
        if entry is not None:
            if verbose:
                print(_loaded_line(entry))
            history = model_cache.history_from(model, entry)
            history.training_seconds = entry.seconds
            return history
    all_callbacks = list(callbacks)
    if patience is not None and validation is not None:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=patience, restore_best_weights=True
            )
        )
    if verbose:
        all_callbacks.append(EpochProgress(epochs))
    while True:
        try:
            with scaled_learning_rate(
                model,
                learning_rate_scale,
                warm_up_epochs,
                steps_per_epoch=math.ceil(len(x_train) / batch_size),
            ) as rate_callbacks:
                start = time.perf_counter()
                history = _fit_once(
                    model,
                    x_train,
                    y_train,
                    validation,
                    epochs,
                    batch_size,
                    rate_callbacks + all_callbacks,
                )
            history.training_seconds = time.perf_counter() - start
            if digest is not None:
                model_cache.store(model, digest, history, history.training_seconds)
            return history
        except Exception as error:
            if not is_out_of_memory(error) or batch_size == 1:
                raise
            batch_size = max(1, batch_size // 2)
            # The linear rule: half the batch, half the multiplier.
            learning_rate_scale = max(1.0, learning_rate_scale / 2)
            print(
                f"Out of memory on the {detect_device().kind}: training again with "
                f"batch size {batch_size}. Pass batch_size= to fit to choose it "
                "yourself."
            )


def _cache_key(model, x, y, validation, arguments) -> str | None:
    """The model cache's key for this call, or None where it cannot be keyed exactly
    (data that is not a NumPy array, weights not made yet...)."""
    val_x, val_y = validation if validation is not None else (None, None)
    arrays = {"x": x, "y": y, "validation_x": val_x, "validation_y": val_y}
    try:
        return model_cache.key(model, arrays, arguments)
    except model_cache.Uncacheable:
        return None


def _loaded_line(entry) -> str:
    epochs = len(entry.epoch)
    last = " ".join(f"{k} {v[-1]:.4g}" for k, v in entry.history.items() if v)
    return (
        f"Loaded from the model cache: {epochs} epoch{'s' if epochs != 1 else ''}, "
        f"{last} (training took {entry.seconds:.0f} s when it ran; "
        "fit(..., cache=False) trains again)"
    )


def _fit_once(model, x, y, validation, epochs, batch_size, callbacks):
    fit_kwargs = dict(epochs=epochs, callbacks=callbacks, verbose=0)
    if keras.backend.backend() == "tensorflow" and isinstance(x, np.ndarray):
        train = _tf_pipeline(x, y, batch_size, shuffle=True)
        if validation is not None:
            validation = _tf_pipeline(*validation, batch_size, shuffle=False)
        # The pipeline shuffles; Keras' own shuffle does not apply to a dataset.
        return model.fit(train, validation_data=validation, shuffle=False, **fit_kwargs)
    return model.fit(
        x, y, batch_size=batch_size, validation_data=validation, **fit_kwargs
    )
