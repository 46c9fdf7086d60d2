"""Keras' own transposed convolution against autoencoder_lib.jax_conv_transpose, on JAX.

Trains the course's convolutional denoiser (``models.conv_denoiser``, the model of
notebooks 03-05) for one epoch on MNIST-sized images with each version in turn, in
alternating rounds (own, faster, faster, own, ...) so that a machine that speeds up or
slows down weighs on both; each round compiles a fresh model first, and only the
epoch after that is timed. Prints seconds per epoch and the ratio; the last line is
one JSON object.

    KERAS_BACKEND=jax python benchmarks/jax_conv_transpose.py
    KERAS_BACKEND=jax python benchmarks/jax_conv_transpose.py --images 8192 --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

from autoencoder_lib import session  # noqa: E402

session.start_backend()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.backend.jax import nn as jax_nn  # noqa: E402

from autoencoder_lib import models  # noqa: E402


def epoch_seconds(x: np.ndarray, batch_size: int) -> float:
    model = models.conv_denoiser()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x[:batch_size], x[:batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.fit(x, x, batch_size=batch_size, epochs=1, verbose=0)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        parser.error("run it with KERAS_BACKEND=jax")
    fast = jax_nn.conv_transpose
    own = getattr(fast, "original", None)
    if own is None:
        parser.error("the faster version is not in place (jax_conv_transpose.install)")
    x = np.random.default_rng(0).random((args.images, 28, 28, 1)).astype("float32")
    versions = {"keras": own, "faster": fast}
    times = {name: [] for name in versions}
    for r in range(args.rounds):
        for name in versions if r % 2 == 0 else list(versions)[::-1]:
            jax_nn.conv_transpose = versions[name]
            times[name].append(round(epoch_seconds(x, args.batch_size), 2))
            print(f"{name:<7} {times[name][-1]:.2f} s per epoch", flush=True)
    jax_nn.conv_transpose = fast
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["keras"] / median["faster"]
    print(
        f"median of {args.rounds}: Keras' own {median['keras']:.2f} s, faster "
        f"{median['faster']:.2f} s per epoch of {args.images} images: {ratio:.2f}x"
    )
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                "keras": keras.__version__,
                "images": args.images,
                "batch_size": args.batch_size,
                "seconds": times,
                "speedup": round(ratio, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
