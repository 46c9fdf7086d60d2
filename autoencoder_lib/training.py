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

import contextlib
import functools
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass

import keras
import numpy as np

from . import model_cache

COLAB_NO_GPU = (
    "No GPU in this Colab runtime: choose Runtime > Change runtime type > T4 GPU, then "
    "run the notebook again from the top. Training still works on the CPU, only slower."
)


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "CPU", "GPU" or "TPU"
    name: str
    count: int
    # CUDA compute capability of a GPU, e.g. (7, 5) for a T4, (9, 0) for an H100.
    compute_capability: tuple[int, int] | None = None


@dataclass(frozen=True)
class Settings:
    """Training settings chosen for the device; every field can be overridden."""

    batch_size: int
    steps_per_execution: int = 1
    mixed_precision: str | None = None  # a Keras dtype policy name, or None
    data_parallel: bool = False
    # Learning rate multiplier while fit trains with the batch size chosen here, reached
    # by a linear ramp from the optimizer's own rate over ``warm_up_epochs`` epochs and
    # halved whenever the validation loss stalls (see _LearningRateScale).
    learning_rate_scale: float = 1.0
    warm_up_epochs: int = 0
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def _capability(text) -> tuple[int, int] | None:
    """(major, minor) from "8.6", (8, 6) or None."""
    if text is None:
        return None
    if isinstance(text, tuple | list):
        return int(text[0]), int(text[1])
    major, _, minor = str(text).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


# Where a backend does not say, the GPU's name does (Colab's T4, A100, L4; H100...).
_CAPABILITY_BY_NAME = {
    "T4": (7, 5),
    "V100": (7, 0),
    "A100": (8, 0),
    "A10": (8, 6),
    "L4": (8, 9),
    "H100": (9, 0),
    "H200": (9, 0),
}


def _capability_from_name(name: str) -> tuple[int, int] | None:
    for marker, capability in _CAPABILITY_BY_NAME.items():
        if marker in name.upper():
            return capability
    return None


def _mixed_precision_for(device: DeviceInfo) -> tuple[str | None, str]:
    """The policy the hardware gains from, and why."""
    if device.kind == "TPU":
        return "mixed_bfloat16", "TPUs compute in bfloat16 natively"
    if device.kind == "GPU" and device.compute_capability is not None:
        major, minor = device.compute_capability
        if major >= 8:
            return "mixed_bfloat16", (
                f"compute capability {major}.{minor} has bfloat16 tensor cores, and "
                "bfloat16 needs no loss scaling"
            )
        if major == 7:
            return "mixed_float16", (
                f"compute capability {major}.{minor} (T4/V100 class) has float16 "
                "tensor cores"
            )
        return None, f"compute capability {major}.{minor} has no tensor cores"
    return None, f"a {device.kind} gains nothing from mixed precision"


@functools.cache
def detect_device() -> DeviceInfo:
    """What the current Keras backend will compute on (looked up once per process)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tpus = tf.config.list_logical_devices("TPU")
        if tpus:
            return DeviceInfo("TPU", "TPU", len(tpus))
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            name = details.get("device_name", "GPU")
            return DeviceInfo(
                "GPU",
                name,
                len(gpus),
                _capability(details.get("compute_capability"))
                or _capability_from_name(name),
            )
    elif backend == "jax":
        import jax

        devices = jax.devices()
        if devices and devices[0].platform in ("gpu", "tpu"):
            first = devices[0]
            return DeviceInfo(
                first.platform.upper(),
                first.device_kind,
                len(devices),
                _capability(getattr(first, "compute_capability", None))
                or _capability_from_name(first.device_kind),
            )
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return DeviceInfo(
                "GPU",
                torch.cuda.get_device_name(0),
                torch.cuda.device_count(),
                _capability(torch.cuda.get_device_capability(0)),
            )
    return DeviceInfo("CPU", _cpu_name(), 1)


_UNSET = object()
# The batch size the notebooks' learning rates were tuned for (the keras.io recipe's).
REFERENCE_BATCH = 128
# Measured with benchmarks/learning_rate_rules.py (README, "Training on a GPU").
LINEAR_RULE_EVIDENCE = (
    "on the benchmark denoiser, 21 epochs to its target against more than 30 with the "
    "square-root rule, x2.8"
)


def _epochs(n: int) -> str:
    return "epoch" if n == 1 else f"{n} epochs"


def settings_for_device(
    device: DeviceInfo | None = None,
    backend: str | None = None,
    *,
    batch_size: int | None = None,
    steps_per_execution: int | None = None,
    mixed_precision=_UNSET,
    data_parallel: bool | None = None,
    learning_rate_scale: float | None = None,
    warm_up_epochs: int | None = None,
) -> Settings:
    """Training settings for ``device`` on ``backend``, each with the reason for it.

    Keyword arguments override the choice (``mixed_precision=None`` turns it off). The
    GPU figures behind these choices are in ``benchmarks/`` and the README.
    """
    device = device or detect_device()
    backend = backend or keras.backend.backend()
    reasons = []
    user_batch = batch_size is not None

    if user_batch:
        reasons.append(f"batch size {batch_size}: your choice")
    elif device.kind == "CPU":
        batch_size = 128
        reasons.append(
            "batch size 128: on a CPU larger batches give no more images per second"
        )
    else:
        batch_size = 1024
        reasons.append(
            f"batch size 1024: small batches leave a {device.kind} mostly idle "
            "(about 4x the images per second of batch 128 on these models)"
        )

    if steps_per_execution is not None:
        reasons.append(f"steps per execution {steps_per_execution}: your choice")
    elif backend == "torch":
        steps_per_execution = 1
        reasons.append("steps per execution 1: the PyTorch backend runs one at a time")
    elif device.kind == "CPU":
        steps_per_execution = 1
        reasons.append("steps per execution 1: on a CPU the per-step cost is small")
    else:
        steps_per_execution = 16
        reasons.append(
            "steps per execution 16: runs 16 batches per call, hiding Python's "
            "per-step overhead"
        )

    recommended, why = _mixed_precision_for(device)
    if mixed_precision == "auto":
        mixed_precision = recommended
        reasons.append(f"{recommended or 'float32'}: {why}")
    elif mixed_precision is not _UNSET:
        reasons.append(f"precision {mixed_precision or 'float32'}: your choice")
    elif recommended is None:
        mixed_precision = None
        reasons.append(f"float32: {why}")
    else:
        # Measured on an H200: bfloat16 trained 15 % more images per second, but
        # models that students build themselves then return bfloat16 arrays, whose
        # NumPy sums are off by percents, and two notebooks' checks failed.
        mixed_precision = None
        reasons.append(
            f"float32: {recommended} would suit this {device.kind} ({why}), but the "
            "outputs of models you build would be low-precision arrays; opt in with "
            "training.configure(training.settings_for_device(mixed_precision='auto'))"
        )

    if learning_rate_scale is not None:
        warm_up_epochs = 0 if warm_up_epochs is None else warm_up_epochs
        reasons.append(
            f"learning rate x{learning_rate_scale:g} during fit"
            + (f", ramped over {_epochs(warm_up_epochs)}" if warm_up_epochs else "")
            + ": your choice"
        )
    elif batch_size > REFERENCE_BATCH and not user_batch:
        learning_rate_scale = batch_size / REFERENCE_BATCH
        warm_up_epochs = 1 if warm_up_epochs is None else warm_up_epochs
        reasons.append(
            f"learning rate x{learning_rate_scale:g} during fit, reached by a ramp "
            f"from your rate over the first {_epochs(warm_up_epochs)}: with "
            f"{batch_size // REFERENCE_BATCH}x fewer steps per epoch than batch "
            f"{REFERENCE_BATCH}, the linear scaling rule with a warm-up keeps progress "
            f"per epoch ({LINEAR_RULE_EVIDENCE}; "
            "fit(batch_size=...) turns this off)"
        )
    else:
        learning_rate_scale = 1.0
        warm_up_epochs = 0

    if data_parallel is not None:
        reasons.append(f"data parallel {data_parallel}: your choice")
    elif device.count > 1 and device.kind in ("GPU", "TPU"):
        data_parallel = backend in ("tensorflow", "jax")
        reasons.append(
            f"data parallel over {device.count} {device.kind}s"
            if data_parallel
            else f"one of {device.count} GPUs: Keras has no data-parallel engine for "
            "the PyTorch backend; use TensorFlow or JAX for several GPUs"
        )
    else:
        data_parallel = False

    return Settings(
        batch_size=int(batch_size),
        steps_per_execution=int(steps_per_execution),
        mixed_precision=mixed_precision,
        data_parallel=bool(data_parallel),
        learning_rate_scale=learning_rate_scale,
        warm_up_epochs=int(warm_up_epochs),
        reasons=tuple(reasons),
    )


_configured: Settings | None = None


def _tf_strategy(device: DeviceInfo):
    import tensorflow as tf

    if device.kind == "TPU":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")
    ]
    return tf.distribute.MirroredStrategy(devices=devices)


def configure(settings: Settings | None = None) -> Settings:
    """Apply the global choices: the mixed-precision policy and the data-parallel engine.

    Call it before building models (``session.start()`` does): layers take the dtype
    policy, and the variables their placement, when they are created. The library's
    builders keep their output layers in float32.
    """
    global _configured
    settings = settings or settings_for_device()
    keras.mixed_precision.set_global_policy(settings.mixed_precision or "float32")
    if settings.data_parallel:
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            tf.distribute.experimental_set_strategy(_tf_strategy(detect_device()))
        elif backend == "jax":
            keras.distribution.set_distribution(keras.distribution.DataParallel())
        else:
            raise ValueError(
                f"Data-parallel training needs the TensorFlow or JAX backend, not "
                f"{backend!r}. Set KERAS_BACKEND=jax (or tensorflow) before importing "
                "keras, or pass data_parallel=False."
            )
    _configured = settings
    return settings


def replicas() -> int:
    """How many devices share each batch (1 unless data-parallel training is on)."""
    if _configured is None or not _configured.data_parallel:
        return 1
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    import jax

    return len(jax.devices())


def _backend_version(backend: str) -> str:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return "?"
    return getattr(sys.modules.get(module) or __import__(module), "__version__", "?")


def device_report() -> str:
    """Backend, device and Keras version on the first line; then what was chosen, why."""
    backend = keras.backend.backend()
    device = detect_device()
    count = f" x{device.count}" if device.count > 1 else ""
    lines = [
        f"Keras {keras.__version__} | backend {backend} {_backend_version(backend)} | "
        f"device {device.kind}{count}: {device.name}"
    ]
    settings = _configured or settings_for_device(device, backend)
    lines += [f"  {reason}" for reason in settings.reasons]
    if in_colab() and device.kind == "CPU":
        lines.append(COLAB_NO_GPU)
    return "\n".join(lines)


def in_colab() -> bool:
    return "google.colab" in sys.modules


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
) -> keras.callbacks.History:
    """Train a compiled model and return its ``History``.

    ``y`` defaults to ``x``: an autoencoder learns to reproduce its input. For a
    denoiser pass the corrupted images as ``x`` and the clean ones as ``y``. Early
    stopping watches the validation loss and restores the best weights; ``patience=None``
    turns it off. ``batch_size`` and ``steps_per_execution`` default to the device's
    settings (see :func:`device_report`); a model compiled with its own
    ``steps_per_execution`` keeps it. If the accelerator runs out of memory, the batch
    is halved and training starts again, with a line saying so.

    A model trained before with exactly the same architecture, starting weights,
    optimizer, data and arguments is loaded instead of trained again, with a line
    saying so (see :mod:`autoencoder_lib.model_cache`). ``cache=False``, or the
    environment variable ``AUTOENCODER_MODEL_CACHE=0``, always trains.
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
    settings = _configured or settings_for_device()
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
    if model_cache.enabled(cache):
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
                user_callbacks=len(list(callbacks)),
            ),
        )
        entry = model_cache.lookup(model, digest) if digest else None
        if entry is not None:
            if verbose:
                print(_loaded_line(entry))
            return model_cache.history_from(model, entry)
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
            with _scaled_learning_rate(
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
            if digest is not None:
                model_cache.store(model, digest, history, time.perf_counter() - start)
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
    (a callback of the student's own, data that is not a NumPy array...)."""
    if arguments["user_callbacks"]:
        return None  # a callback may change training in ways no key can see
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


# Epochs without a better validation loss before the learning-rate multiplier halves.
PLATEAU_EPOCHS = 2


class _LearningRateScale(keras.callbacks.Callback):
    """The optimizer's rate times ``scale``, reached by a linear warm-up over the first
    ``warm_up_epochs`` from the rate itself, and halved (down to the rate itself) each
    time the validation loss has not improved for ``PLATEAU_EPOCHS`` epochs.

    Both were measured with the GPU settings on a CPU: with a jump to the scaled rate at
    the second epoch instead of the ramp, the benchmark's denoiser did not reach its
    target in 30 epochs (the ramp: 21); without the halving, notebook 01 stopped early on
    a validation loss that the high rate made jump about.
    """

    def __init__(self, base, scale, warm_up_epochs, steps_per_epoch):
        super().__init__()
        self.base, self.scale = base, scale
        self.warm_up_epochs, self.steps_per_epoch = warm_up_epochs, steps_per_epoch
        self.warm_up_steps = warm_up_epochs * steps_per_epoch
        self.epoch = 0

    def _set(self, factor):
        # Through self.model, which on JAX writes the trained copy of the variables
        # back first, so that the next step reads the new rate (and the weights).
        self.model.optimizer.learning_rate = self.base * factor

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if epoch >= self.warm_up_epochs:
            self._set(self.scale)

    def on_train_batch_begin(self, batch, logs=None):
        step = self.epoch * self.steps_per_epoch + batch
        if step < self.warm_up_steps:
            self._set(1.0 + (self.scale - 1.0) * step / self.warm_up_steps)

    def on_train_begin(self, logs=None):
        self.best, self.waited = math.inf, 0

    def on_epoch_end(self, epoch, logs=None):
        # A high rate makes the validation loss jump about once progress slows, and
        # early stopping would end training there: halve the multiplier instead.
        loss = (logs or {}).get("val_loss")
        if loss is None or self.scale <= 1.0:
            return
        if loss < self.best:
            self.best, self.waited = loss, 0
        else:
            self.waited += 1
            if self.waited >= PLATEAU_EPOCHS:
                self.scale, self.waited = max(1.0, self.scale / 2), 0


@contextlib.contextmanager
def _scaled_learning_rate(
    model: keras.Model, scale: float, warm_up_epochs: int = 0, steps_per_epoch: int = 1
):
    """Yield the callbacks that scale a constant learning rate during ``fit``; put the
    student's rate back afterwards, also when training fails. Schedules are left alone.
    """
    optimizer = model.optimizer
    if scale == 1.0 or isinstance(
        getattr(optimizer, "_learning_rate", None),
        keras.optimizers.schedules.LearningRateSchedule,
    ):
        yield []
        return
    original = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    try:
        yield [_LearningRateScale(original, scale, warm_up_epochs, steps_per_epoch)]
    finally:
        optimizer.learning_rate = original


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
