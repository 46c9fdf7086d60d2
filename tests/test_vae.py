import keras
import numpy as np
import pytest
from keras import ops

from autoencoder_lib import vae


def _value(tensor) -> float:
    return float(ops.convert_to_numpy(tensor))


def negative_elbo(x, reconstruction, z_mean, z_log_var):
    """A reference loss for these tests; the library has none (notebook 08's students
    write it, and a library copy would be their answer)."""
    z_mean = ops.convert_to_tensor(z_mean, "float32")
    z_log_var = ops.convert_to_tensor(z_log_var, "float32")
    batch = ops.shape(x)[0]
    x = ops.reshape(ops.cast(x, "float32"), (batch, -1))
    r = ops.clip(ops.reshape(reconstruction, (batch, -1)), 1e-7, 1.0 - 1e-7)
    log_likelihood = ops.sum(x * ops.log(r) + (1.0 - x) * ops.log(1.0 - r), axis=1)
    kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), 1)
    return ops.mean(kl - log_likelihood)


def test_coin_flip_decoder_with_prior_posterior_costs_784_log_2():
    x = (np.random.default_rng(0).random((3, 28, 28, 1)) > 0.5).astype("float32")
    half = np.full_like(x, 0.5)
    zeros = np.zeros((3, 4), dtype="float32")
    assert _value(negative_elbo(x, half, zeros, zeros)) == pytest.approx(
        784 * np.log(2), abs=1e-2
    )


def test_kl_is_summed_over_latent_dimensions_and_batch_is_averaged():
    x = np.ones((2, 28, 28, 1), dtype="float32")
    perfect = np.ones_like(x)
    z_mean = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]], dtype="float32")
    z_log_var = np.zeros_like(z_mean)
    # Perfect reconstruction: only KL = 0.5 * sum(mu^2) = 2.5 per example remains.
    assert _value(negative_elbo(x, perfect, z_mean, z_log_var)) == pytest.approx(
        2.5, abs=1e-3
    )
    one = _value(negative_elbo(x[:1], perfect[:1], z_mean[:1], z_log_var[:1]))
    assert one == pytest.approx(2.5, abs=1e-3)


def test_vae_predict_is_deterministic_and_build_checks_arguments():
    model = vae.build(latent_dim=2, hidden_units=(16,))
    x = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    assert isinstance(model, keras.Model) and model.decoder.input_shape == (None, 2)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        vae.build(latent_dim=0)


def test_the_library_has_no_loss_of_its_own_and_says_what_to_pass():
    model = vae.build(latent_dim=2, hidden_units=(16,))
    x = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="loss_fn=negative_elbo"):
        vae.mean_negative_elbo(model, x)
    assert not hasattr(vae, "negative_elbo")
    trained = vae.build(latent_dim=2, hidden_units=(16,), loss_fn=negative_elbo)
    assert np.isfinite(vae.mean_negative_elbo(trained, x))
