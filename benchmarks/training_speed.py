"""How fast does ``autoencoder_lib.training`` train, next to the keras.io recipe?

Trains, in one run on one machine, the conv denoiser of the keras.io denoising example
(two Conv2D(32), two Conv2DTranspose(32); MNIST with Gaussian noise 0.4 -> clean;
Adam, binary cross-entropy):

  (a) the recipe: batch 128, float32, ``model.fit`` on arrays, as keras.io writes it;
  (b) the same architecture through the library: ``training.configure()`` and
      ``training.fit()`` with the settings it picks for the device.

For each it reports images per second once compiled (the epochs after the first) and
the time from the start of ``fit`` (compilation included) to the first epoch whose
validation loss reaches the target. Each configuration first trains a throwaway model
for one epoch, so that one-off GPU autotuning is not charged to whichever run happens
to come first (``--no-warm-up`` charges it). The last line printed is one JSON object.

    python benchmarks/training_speed.py            # all of MNIST (60,000 / 10,000)
    python benchmarks/training_speed.py --quick    # 6,000 / 1,000 images: < 1 min on CPU
    KERAS_BACKEND=jax python benchmarks/training_speed.py

Extra variants (``--variants``) train the library path with one choice changed, to show
what each setting is worth on this device.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from autoencoder_lib import session

session.start(seed=0, report=False)

import keras  # noqa: E402

from autoencoder_lib import corruptions, data, models, training  # noqa: E402

# Reached by the recipe after about 10 epochs (full) and 5 epochs (quick) on a CPU.
TARGET = {"full": 0.0895, "quick": 0.125}


def keras_io_denoiser() -> keras.Model:
    """The model exactly as the keras.io example builds it."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    x = keras.layers.MaxPooling2D((2, 2), padding="same")(x)
    x = keras.layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = keras.layers.MaxPooling2D((2, 2), padding="same")(x)
    x = keras.layers.Conv2DTranspose(
        32, (3, 3), strides=2, activation="relu", padding="same"
    )(x)
    x = keras.layers.Conv2DTranspose(
        32, (3, 3), strides=2, activation="relu", padding="same"
    )(x)
    x = keras.layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(inputs, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    return autoencoder


class EpochClock(keras.callbacks.Callback):
    """Time and validation loss at the end of every epoch; stops at the target."""

    def __init__(self, target: float):
        super().__init__()
        self.target = target
        self.times, self.val_losses = [], []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)
        self.val_losses.append(float(logs["val_loss"]))
        if self.val_losses[-1] <= self.target:
            self.model.stop_training = True


def summarise(name, clock, n_train, settings):
    # Images per second once compiled: epochs after the first.
    if len(clock.times) >= 2:
        steady = (len(clock.times) - 1) * n_train / (clock.times[-1] - clock.times[0])
    else:
        steady = n_train / clock.times[0]
    reached = [
        t
        for t, v in zip(clock.times, clock.val_losses, strict=True)
        if v <= clock.target
    ]
    return {
        "name": name,
        "settings": settings,
        "epochs": len(clock.times),
        "samples_per_s": round(steady, 1),
        "time_to_target_s": round(reached[0], 2) if reached else None,
        "final_val_loss": round(clock.val_losses[-1], 5),
        "val_loss_per_epoch": [round(v, 5) for v in clock.val_losses],
        "seconds_at_epoch_end": [round(t, 2) for t in clock.times],
    }


def run_recipe(x, y, val, target, max_epochs, warm_up=True):
    keras.mixed_precision.set_global_policy("float32")

    def train(epochs, callbacks):
        keras.utils.set_random_seed(0)
        model = keras_io_denoiser()
        model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=128,
            shuffle=True,
            validation_data=val,
            callbacks=callbacks,
            verbose=0,
        )

    if warm_up:
        train(1, [])
    clock = EpochClock(target)
    train(max_epochs, [clock])
    return summarise("keras.io recipe", clock, len(x), "batch 128, float32, model.fit")


def run_library(
    x, y, val, target, max_epochs, name="autoencoder_lib", warm_up=True, **overrides
):
    settings = training.configure(training.settings_for_device(**overrides))

    def train(epochs, callbacks):
        keras.utils.set_random_seed(0)
        model = models.conv_denoiser()
        model.compile(optimizer="adam", loss="binary_crossentropy")
        training.fit(
            model,
            x,
            y,
            epochs=epochs,
            validation_data=val,
            patience=None,
            verbose=False,
            callbacks=callbacks,
        )

    if warm_up:
        train(1, [])
    clock = EpochClock(target)
    train(max_epochs, [clock])
    chosen = (
        f"batch {settings.batch_size}, steps/execution "
        f"{settings.steps_per_execution}, {settings.mixed_precision or 'float32'}, "
        f"lr x{settings.learning_rate_scale:g}"
        + (f", ramp {settings.warm_up_epochs} epoch" if settings.warm_up_epochs else "")
    )
    return summarise(name, clock, len(x), chosen)


VARIANTS = {
    "lib, mixed precision": dict(mixed_precision="auto"),
    "lib, batch 512": dict(batch_size=512, learning_rate_scale=4.0, warm_up_epochs=1),
    "lib, steps/execution 1": dict(steps_per_execution=1),
    "lib, learning rate x1": dict(learning_rate_scale=1.0),
    "lib, square-root rule": dict(learning_rate_scale=8**0.5, warm_up_epochs=0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6,000 training images")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument(
        "--target",
        type=float,
        default=None,
        help="validation loss to reach (BCE per pixel)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="charge one-off compilation and autotuning to the measured run",
    )
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also train the library path with one setting changed",
    )
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    target = TARGET[mode] if args.target is None else args.target
    max_epochs = args.max_epochs or (10 if args.quick else 30)

    (x_train, _), (x_test, _) = data.load_dataset("mnist")
    if args.quick:
        x_train, x_test = x_train[:6000], x_test[:1000]
    noisy_train = corruptions.gaussian_noise(x_train, 0.4, seed=1)
    noisy_test = corruptions.gaussian_noise(x_test, 0.4, seed=2)
    val = (noisy_test, x_test)

    device = training.detect_device()
    warm = not args.no_warm_up
    runs = [
        run_recipe(noisy_train, x_train, val, target, max_epochs, warm),
        run_library(noisy_train, x_train, val, target, max_epochs, warm_up=warm),
    ]
    if args.variants:
        for name, overrides in VARIANTS.items():
            runs.append(
                run_library(
                    noisy_train,
                    x_train,
                    val,
                    target,
                    max_epochs,
                    name=name,
                    warm_up=warm,
                    **overrides,
                )
            )

    print(f"{'run':<24} {'settings':<52} {'img/s':>10} {'to target':>10} epochs")
    for r in runs:
        to_target = (
            f"{r['time_to_target_s']} s" if r["time_to_target_s"] else "not reached"
        )
        print(
            f"{r['name']:<24} {r['settings']:<52} {r['samples_per_s']:>10,.0f} "
            f"{to_target:>10} {r['epochs']}"
        )
    recipe, lib = runs[0], runs[1]
    both = recipe["time_to_target_s"] and lib["time_to_target_s"]
    print(
        json.dumps(
            {
                "device": f"{device.kind} x{device.count}: {device.name}",
                "host": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                "backend": keras.backend.backend(),
                "keras": keras.__version__,
                "mode": mode,
                "train_images": len(x_train),
                "target_val_loss": target,
                "recipe_samples_per_s": recipe["samples_per_s"],
                "lib_samples_per_s": lib["samples_per_s"],
                "speedup": round(lib["samples_per_s"] / recipe["samples_per_s"], 2),
                "recipe_time_to_target_s": recipe["time_to_target_s"],
                "lib_time_to_target_s": lib["time_to_target_s"],
                "time_to_target_ratio": round(
                    lib["time_to_target_s"] / recipe["time_to_target_s"], 2
                )
                if both
                else None,
                "lib_settings": lib["settings"],
                "warm_up": warm,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
