"""The library trains on every Keras backend: TensorFlow, JAX and PyTorch (CPU builds).

Each backend runs in its own interpreter (Keras picks the backend once, at import).
`make test` installs the JAX and PyTorch CPU builds; where one is missing its test is
skipped with the reason.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import keras
import numpy as np

from autoencoder_lib import models, training, vae

x = np.random.default_rng(0).random((128, 28, 28, 1)).astype("float32")
builders = (
    lambda: models.dense_autoencoder(latent_dim=4, hidden_units=(32,)),
    lambda: models.conv_autoencoder(latent_dim=4, filters=(8, 8)),
    lambda: models.conv_denoiser(filters=(8, 8)),
)
for build in builders:
    model = build()
    model.compile(optimizer="adam", loss="mse")
    history = training.fit(model, x, epochs=2, verbose=False, patience=None)
    assert np.all(np.isfinite(history.history["loss"])), history.history
    assert model.predict(x[:4], verbose=0).shape == (4, 28, 28, 1)

binary = (x > 0.5).astype("float32")
model = vae.build(latent_dim=2, hidden_units=(64,))
model.compile(optimizer=keras.optimizers.Adam(1e-3))
losses = model.fit(binary, binary, epochs=5, batch_size=32, verbose=0).history["loss"]
assert losses[-1] < losses[0], losses
assert np.isfinite(vae.test_negative_elbo(model, binary[:64]))
print("OK", keras.backend.backend(), round(losses[0], 1), round(losses[-1], 1))
"""


@pytest.mark.parametrize(
    "backend, module",
    [("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch")],
)
def test_models_training_and_vae_on_backend(backend, module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed; `make test` installs it (or pip install "
            f"{module}) to test the {backend} backend"
        )
    env = dict(os.environ, KERAS_BACKEND=backend)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"OK {backend}" in result.stdout, result.stdout
