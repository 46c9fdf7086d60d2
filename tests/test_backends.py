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
from needs import missing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
def negative_elbo(x, reconstruction, z_mean, z_log_var):
    batch = keras.ops.shape(x)[0]
    x = keras.ops.reshape(x, (batch, -1))
    r = keras.ops.clip(keras.ops.reshape(reconstruction, (batch, -1)), 1e-7, 1 - 1e-7)
    nll = -keras.ops.sum(x * keras.ops.log(r) + (1 - x) * keras.ops.log(1 - r), axis=1)
    kl = -0.5 * keras.ops.sum(
        1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=1
    )
    return keras.ops.mean(nll + kl)


model = vae.build(latent_dim=2, hidden_units=(64,), loss_fn=negative_elbo)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
losses = model.fit(binary, binary, epochs=5, batch_size=32, verbose=0).history["loss"]
assert losses[-1] < losses[0], losses
assert np.isfinite(vae.mean_negative_elbo(model, binary[:64]))

# Mixed precision as chosen for a GPU, forced here on the CPU.
training.configure(training.settings_for_device(mixed_precision="mixed_bfloat16"))
model = models.conv_denoiser(filters=(8, 8))
model.compile(optimizer="adam", loss="mse")
assert model.encoder.get_layer("enc_conv_0").compute_dtype == "bfloat16"
history = training.fit(model, x, epochs=2, verbose=False, patience=None)
assert np.all(np.isfinite(history.history["loss"])), history.history
assert keras.backend.standardize_dtype(model(x[:2]).dtype) == "float32"
training.configure(training.settings_for_device(mixed_precision=None))
print("OK", keras.backend.backend(), round(losses[0], 1), round(losses[-1], 1))
"""

# Data-parallel training over two devices, made from the CPU: the engine a machine with
# several GPUs gets (MirroredStrategy on TensorFlow, DataParallel on JAX).
DATA_PARALLEL_SCRIPT = r"""
import keras
import numpy as np

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

from autoencoder_lib import models, training

training.configure(training.settings_for_device(data_parallel=True))
assert training.replicas() == 2, training.replicas()
x = np.random.default_rng(0).random((256, 28, 28, 1)).astype("float32")
model = models.conv_denoiser(filters=(8, 8))
model.compile(optimizer="adam", loss="mse")
history = training.fit(model, x, epochs=3, batch_size=64, verbose=False, patience=None)
losses = history.history["loss"]
assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
print("OK", keras.backend.backend(), training.replicas())
"""

# The library's own unit tests that touch Keras, run again on the other backends.
UNIT_TESTS = [
    "tests/test_models.py",
    "tests/test_training.py",
    "tests/test_vae.py",
    "tests/test_widgets.py",
    "tests/test_plots.py",
    "tests/test_jax_conv_transpose.py",
]


BACKENDS = [("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch")]


def _run(backend, module, args, **env):
    if importlib.util.find_spec(module) is None:
        missing(
            f"{module} is not installed; `make test` installs it (or pip install "
            f"{module}) to test the {backend} backend"
        )
    return subprocess.run(
        [sys.executable, *args],
        env=dict(os.environ, KERAS_BACKEND=backend, **env),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )


@pytest.mark.parametrize("backend, module", BACKENDS)
def test_models_training_and_vae_on_backend(backend, module):
    result = _run(backend, module, ["-c", SCRIPT])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"OK {backend}" in result.stdout, result.stdout


@pytest.mark.parametrize("backend, module", BACKENDS[:2])
def test_data_parallel_training_on_backend(backend, module):
    result = _run(
        backend,
        module,
        ["-c", DATA_PARALLEL_SCRIPT],
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"OK {backend} 2" in result.stdout, result.stdout


@pytest.mark.parametrize("backend, module", BACKENDS[1:])
def test_library_unit_tests_pass_on_backend(backend, module):
    # TensorFlow runs them in the main session already.
    result = _run(backend, module, ["-m", "pytest", "-q", "-x", *UNIT_TESTS])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
