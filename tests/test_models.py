import keras
import numpy as np
import pytest

from autoencoder_lib import models

BUILDERS = [models.dense_autoencoder, models.conv_autoencoder]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_shapes_and_named_parts(builder, shape):
    model = builder(input_shape=shape, latent_dim=8)
    assert model.name == builder.__name__
    assert model.input_shape == (None, *shape) and model.output_shape == (None, *shape)
    assert model.encoder.name == "encoder" and model.decoder.name == "decoder"
    x = np.random.default_rng(0).random((4, *shape)).astype("float32")
    codes = model.encoder.predict(x, verbose=0)
    assert codes.shape == (4, 8)
    # The two halves, used apart, compose to the whole model.
    np.testing.assert_allclose(
        model.decoder.predict(codes, verbose=0), model.predict(x, verbose=0), atol=1e-5
    )
    out = model.predict(x, verbose=0)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output for [0, 1] images


@pytest.mark.parametrize("builder", BUILDERS)
def test_training_lowers_the_loss_on_real_digits(builder, mnist_small):
    (x_train, _), _ = mnist_small
    keras.utils.set_random_seed(0)
    model = builder(latent_dim=16)
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x_train, x_train, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latent_dim": 0}, r"latent_dim must be a positive integer, got 0"),
        ({"latent_dim": "32"}, r"latent_dim must be a positive integer, got '32'"),
        ({"latent_dim": 2.5}, r"latent_dim must be a positive integer"),
        (
            {"input_shape": (28, 28)},
            r"input_shape must be \(height, width, channels\).*\(28, 28\)",
        ),
        (
            {"activation": "relux"},
            r"activation='relux' is not an activation Keras knows",
        ),
        ({"output_activation": "sigmoidal"}, r"output_activation='sigmoidal'"),
    ],
)
@pytest.mark.parametrize("builder", BUILDERS)
def test_bad_arguments_say_what_and_how(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(**kwargs)


def test_dense_hidden_units_must_be_a_list():
    with pytest.raises(
        ValueError, match="hidden_units must be a non-empty list.*got 128"
    ):
        models.dense_autoencoder(hidden_units=128)
    with pytest.raises(
        ValueError, match="each entry of hidden_units must be a positive"
    ):
        models.dense_autoencoder(hidden_units=(128, -1))


def test_conv_needs_divisible_sizes():
    with pytest.raises(ValueError, match="divisible by 8"):
        models.conv_autoencoder(input_shape=(28, 28, 1), filters=(16, 32, 64))
    model = models.conv_autoencoder(input_shape=(32, 32, 3), filters=(16, 32, 64))
    assert model.output_shape == (None, 32, 32, 3)


def test_dense_layers_follow_the_arguments():
    model = models.dense_autoencoder(latent_dim=5, hidden_units=(64, 16))
    units = [layer.units for layer in model.encoder.layers if hasattr(layer, "units")]
    assert units == [64, 16, 5]
    units = [layer.units for layer in model.decoder.layers if hasattr(layer, "units")]
    assert units == [16, 64, 784]


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_conv_denoiser_is_fully_convolutional(shape):
    model = models.conv_denoiser(input_shape=shape, filters=(16, 16))
    assert model.output_shape == (None, *shape)
    assert model.encoder.output_shape == (None, shape[0] // 4, shape[1] // 4, 16)
    x = np.random.default_rng(0).random((2, *shape)).astype("float32")
    np.testing.assert_allclose(
        model.decoder.predict(model.encoder.predict(x, verbose=0), verbose=0),
        model.predict(x, verbose=0),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="divisible by 8"):
        models.conv_denoiser(input_shape=(28, 28, 1), filters=(8, 8, 8))


def test_conv_denoiser_can_change_the_number_of_channels():
    model = models.conv_denoiser(
        input_shape=(32, 32, 1), filters=(8, 8), output_channels=2
    )
    assert model.output_shape == (None, 32, 32, 2)
    with pytest.raises(ValueError, match="output_channels must be a positive integer"):
        models.conv_denoiser(input_shape=(32, 32, 1), output_channels=0)


def test_dense_layers_reads_sizes_and_activations_in_order():
    inputs = keras.Input(shape=(28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256)(h)
    h = keras.layers.ReLU()(h)  # a separate activation layer counts as the Dense's
    h = keras.layers.Dense(128, activation=keras.activations.relu)(h)
    h = keras.layers.Dense(5, activation="tanh")(h)
    h = keras.layers.LeakyReLU()(h)  # not a plain ReLU: the tanh stays the layer's
    model = keras.Model(inputs, h)
    assert models.dense_layers(model) == [(256, "relu"), (128, "relu"), (5, "tanh")]
    nested = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(784), keras.layers.Activation("sigmoid")]
    )
    assert models.dense_layers(nested) == [(784, "sigmoid")]
    built = models.dense_autoencoder(latent_dim=3, hidden_units=(16,))
    assert models.dense_layers(built) == [
        (16, "relu"),
        (3, "linear"),
        (16, "relu"),
        (784, "sigmoid"),
    ]


def test_dense_layers_tells_a_modified_relu_from_a_plain_one():
    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(3)(inputs)
    h = keras.layers.ReLU(negative_slope=0.1)(h)
    assert models.dense_layers(keras.Model(inputs, h)) == [(3, "modified relu")]
