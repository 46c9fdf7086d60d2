"""The callbacks ``training.fit`` trains with: its one-line progress bar, and the
learning-rate multiplier for large batches (warm-up, then halving on a plateau)."""

from __future__ import annotations

import contextlib
import math
import sys
import time

import keras


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


# Epochs without a better validation loss before the learning-rate multiplier halves.
PLATEAU_EPOCHS = 2


class LearningRateScale(keras.callbacks.Callback):
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
def scaled_learning_rate(
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
        yield [LearningRateScale(original, scale, warm_up_epochs, steps_per_epoch)]
    finally:
        optimizer.learning_rate = original
