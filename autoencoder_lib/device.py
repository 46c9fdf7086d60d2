"""The device policy: what the Keras backend computes on, and the training settings
chosen for it, each with its reason.

* :func:`detect_device` looks once at what the backend computes on;
* :func:`settings_for_device` turns that into a batch size, ``steps_per_execution``,
  a learning-rate multiplier for large batches, a mixed-precision policy and a
  data-parallel engine;
* :func:`configure` applies the two global choices (precision, distribution); it must
  run before models are built, so ``session.start()`` calls it, and
  :func:`configured` says what it chose.

Notebooks reach all of this through :mod:`autoencoder_lib.training`, which re-exports
it; every choice can be overridden there.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass

import keras

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
    # halved whenever the validation loss stalls (see callbacks.LearningRateScale).
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


def capability_from_name(name: str) -> tuple[int, int] | None:
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
                or capability_from_name(name),
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
                or capability_from_name(first.device_kind),
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
# Measured with benchmarks/learning_rate_rules.py (benchmarks/RESULTS.md, "Training on a GPU").
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
    GPU figures behind these choices are in ``benchmarks/RESULTS.md``.
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


def configured() -> Settings | None:
    """The settings :func:`configure` applied, or None before it ran."""
    return _configured


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
