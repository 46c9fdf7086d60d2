"""How many epochs does a large batch need, under each learning-rate rule?

On a GPU ``training.fit`` trains with batch 1,024, eight times the batch the notebooks'
learning rates were chosen for, so an epoch has eight times fewer steps. This script
counts the epochs each rule needs to bring the keras.io conv denoiser (the model of
``training_speed.py``: MNIST, noise 0.4, Adam at 1e-3, binary cross-entropy) to that
benchmark's validation target, through the library's own ``training.fit``:

  recipe     batch 128, the optimizer's rate (what keras.io does)
  none       batch 1,024, the optimizer's rate
  sqrt       batch 1,024, rate x sqrt(8) from the first step
  linear     batch 1,024, rate x8, ramped up from the optimizer's rate over the first
             epoch (the default on a GPU)
  linear-x2  batch 1,024, rate x16, the same ramp (past the rule)

Whatever the rule, fit halves the multiplier when the validation loss stalls for two
epochs.

Epoch counts depend on the arithmetic, not on the device, so a CPU can measure them
(slowly: about 20 s an epoch on 2 cores); multiply by a GPU's seconds per epoch from
``training_speed.py`` to see what a rule costs there. The last line is one JSON object.

    python benchmarks/learning_rate_rules.py                   # every rule
    python benchmarks/learning_rate_rules.py --rules recipe linear --max-epochs 30
"""

from __future__ import annotations

import argparse
import json
import math
import time

from autoencoder_lib import session

session.start(seed=0, report=False)

import keras  # noqa: E402

from autoencoder_lib import corruptions, data, models, training  # noqa: E402

TARGET = 0.0895  # training_speed.py's full-mode target

RULES = {
    "recipe": dict(batch_size=128, learning_rate_scale=1.0, warm_up_epochs=0),
    "none": dict(batch_size=1024, learning_rate_scale=1.0, warm_up_epochs=0),
    "sqrt": dict(batch_size=1024, learning_rate_scale=8**0.5, warm_up_epochs=0),
    "linear": dict(batch_size=1024, learning_rate_scale=8.0, warm_up_epochs=1),
    "linear-x2": dict(batch_size=1024, learning_rate_scale=16.0, warm_up_epochs=1),
}


class StopAtTarget(keras.callbacks.Callback):
    def __init__(self, target):
        super().__init__()
        self.target, self.val_losses = target, []

    def on_epoch_end(self, epoch, logs=None):
        self.val_losses.append(round(float(logs["val_loss"]), 5))
        if self.val_losses[-1] <= self.target:
            self.model.stop_training = True


def run(rule, x, y, val, max_epochs):
    chosen = RULES[rule]
    # Settings as fit applies them when it picked the batch itself; steps per
    # execution and precision do not change the arithmetic of an epoch.
    settings = training.Settings(
        batch_size=chosen["batch_size"],
        learning_rate_scale=chosen["learning_rate_scale"],
        warm_up_epochs=chosen["warm_up_epochs"],
    )
    training.configure(settings)
    keras.utils.set_random_seed(0)
    model = models.conv_denoiser()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    stop = StopAtTarget(TARGET)
    start = time.perf_counter()
    training.fit(
        model,
        x,
        y,
        epochs=max_epochs,
        validation_data=val,
        patience=None,
        verbose=False,
        callbacks=[stop],
    )
    reached = next((i + 1 for i, v in enumerate(stop.val_losses) if v <= TARGET), None)
    return {
        "rule": rule,
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in chosen.items()},
        "epochs_to_target": reached,
        "steps_to_target": reached
        and reached * math.ceil(len(x) / chosen["batch_size"]),
        "val_loss_per_epoch": stop.val_losses,
        "seconds": round(time.perf_counter() - start, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES))
    parser.add_argument("--max-epochs", type=int, default=30)
    args = parser.parse_args()

    (x_train, _), (x_test, _) = data.load_dataset("mnist")
    noisy_train = corruptions.gaussian_noise(x_train, 0.4, seed=1)
    noisy_test = corruptions.gaussian_noise(x_test, 0.4, seed=2)
    runs = []
    for rule in args.rules:
        runs.append(
            run(rule, noisy_train, x_train, (noisy_test, x_test), args.max_epochs)
        )
        r = runs[-1]
        print(
            f"{rule:<10} batch {r['batch_size']:>5}  lr x{r['learning_rate_scale']:<6g}"
            f" warm-up {r['warm_up_epochs']}  epochs to {TARGET}: "
            f"{r['epochs_to_target'] or 'not within ' + str(args.max_epochs)}",
            flush=True,
        )
    device = training.detect_device()
    print(
        json.dumps(
            {
                "device": f"{device.kind} x{device.count}: {device.name}",
                "backend": keras.backend.backend(),
                "keras": keras.__version__,
                "target_val_loss": TARGET,
                "max_epochs": args.max_epochs,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
