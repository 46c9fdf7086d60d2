"""A variational autoencoder in Keras 3 style: ``keras.ops`` and a ``SeedGenerator``.

Introduced in notebook 08, where you write the loss (``negative_elbo``) yourself and
hand it to :func:`build`: the library has no loss of its own.
No TensorFlow Probability and no ``add_loss`` on symbolic tensors: the loss lives in
``compute_loss``, so the same model trains on TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


class VAE(keras.Model):
    """``encoder`` maps images to ``[z_mean, z_log_var]``; ``decoder`` maps codes back.

    Training samples ``z = z_mean + exp(z_log_var / 2) * eps`` with a seeded generator;
    ``predict`` decodes ``z_mean`` (no sampling). Training and :func:`mean_negative_elbo`
    use ``loss_fn(x, reconstruction, z_mean, z_log_var)``, the loss you wrote.
    """

    def __init__(self, encoder, decoder, loss_fn=None, seed: int = 0, **kwargs):
        kwargs.setdefault("name", "vae")
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.loss_fn = loss_fn
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _loss(self, x, reconstruction, z_mean, z_log_var):
        if self.loss_fn is None:
            raise ValueError(
                "This VAE has no loss: build it with vae.build(..., loss_fn="
                "negative_elbo), your negative ELBO, or set model.loss_fn."
            )
        return self.loss_fn(x, reconstruction, z_mean, z_log_var)

    def sample_code(self, z_mean, z_log_var):
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sample_code(z_mean, z_log_var) if training else z_mean
        return self.decoder(z, training=training)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        # y_pred was decoded from a sampled code when training; the encoder is
        # deterministic, so running it again gives the same mean and log-variance.
        z_mean, z_log_var = self.encoder(x, training=training)
        return self._loss(x, y_pred, z_mean, z_log_var)


def build(
    latent_dim: int = 2,
    input_shape=(28, 28, 1),
    hidden_units=(512, 256),
    seed=0,
    loss_fn=None,
):
    """A dense VAE: ``hidden_units`` down to ``latent_dim`` means and log-variances,
    trained with ``loss_fn(x, reconstruction, z_mean, z_log_var)``."""
    if (
        isinstance(latent_dim, bool)
        or not isinstance(latent_dim, int)
        or latent_dim < 1
    ):
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    inputs = keras.Input(shape=input_shape, name="image")
    h = keras.layers.Flatten()(inputs)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"enc_dense_{i}")(h)
    # Code statistics and output stay float32 under a mixed-precision policy: the
    # loss exponentiates the log-variance and takes logs of the output.
    z_mean = keras.layers.Dense(latent_dim, name="z_mean", dtype="float32")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var", dtype="float32")(h)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    codes = keras.Input(shape=(latent_dim,), name="code")
    h = codes
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(units, activation="relu", name=f"dec_dense_{i}")(h)
    h = keras.layers.Dense(
        math.prod(input_shape), activation="sigmoid", dtype="float32"
    )(h)
    outputs = keras.layers.Reshape(input_shape, dtype="float32")(h)
    decoder = keras.Model(codes, outputs, name="decoder")
    return VAE(encoder, decoder, loss_fn=loss_fn, seed=seed)


def mean_negative_elbo(model: VAE, x, batch_size: int = 500, seed: int = 0) -> float:
    """Mean negative ELBO in nats over ``x`` (the model's own ``loss_fn``), one sampled
    code per image (unbiased)."""
    generator = keras.random.SeedGenerator(seed)
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start : start + batch_size], dtype="float32")
        z_mean, z_log_var = model.encoder(batch, training=False)
        eps = keras.random.normal(ops.shape(z_mean), seed=generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        reconstruction = model.decoder(z, training=False)
        loss = model._loss(batch, reconstruction, z_mean, z_log_var)
        total += float(ops.convert_to_numpy(loss)) * len(batch)
    return total / len(x)
