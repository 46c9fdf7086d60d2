"""Autoencoder builders: functions that return a named functional ``keras.Model``.

Introduced in notebook 01 (you write a dense encoder and decoder yourself there; later
notebooks build theirs with these functions). Every builder returns a model with
``model.encoder`` and ``model.decoder``, two models that also work on their own.
Written against ``keras`` and ``keras.ops`` only, so it runs on any Keras 3 backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{name} must be a positive integer, got {value!r}. For example {name}=32."
        )
    return value


def _check_shape(input_shape) -> tuple[int, int, int]:
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            f"input_shape must be (height, width, channels) with positive integers, got "
            f"{input_shape!r}. Use (28, 28, 1) for MNIST and (32, 32, 3) for CIFAR-10."
        )
    return shape


def _check_units(name: str, units) -> tuple[int, ...]:
    if isinstance(units, int) or not isinstance(units, Sequence) or not units:
        raise ValueError(
            f"{name} must be a non-empty list of positive integers, got {units!r}. "
            f"For example {name}=(256, 128)."
        )
    for value in units:
        _check_positive_int(f"each entry of {name}", value)
    return tuple(units)


def _check_activation(name: str, activation):
    if activation is None:
        return None
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name}={activation!r} is not an activation Keras knows. Use a name such "
            f"as 'relu', 'sigmoid', 'tanh' or 'linear', or a callable."
        ) from None
    return activation


def _check_conv(input_shape, filters, activation, output_activation):
    """Validate the arguments shared by the convolutional builders."""
    shape = _check_shape(input_shape)
    filters = _check_units("filters", filters)
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)
    factor = 2 ** len(filters)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"input_shape {shape} cannot be halved {len(filters)} times (filters="
            f"{filters}): height and width must be divisible by {factor}. Use fewer "
            "entries in filters, or pad the images."
        )
    return shape, filters, factor


def _upsample_to_image(h, filters, activation, channels, output_activation):
    """Transposed convolutions doubling the size per entry, then the output layer."""
    for i, n in enumerate(reversed(filters)):
        h = keras.layers.Conv2DTranspose(
            n,
            3,
            strides=2,
            padding="same",
            activation=activation,
            name=f"dec_deconv_{i}",
        )(h)
    return keras.layers.Conv2D(
        channels,
        3,
        padding="same",
        activation=output_activation,
        name="reconstruction",
        dtype="float32",  # stays float32 under a mixed-precision policy
    )(h)


def _assemble(encoder: keras.Model, decoder: keras.Model, name: str) -> keras.Model:
    inputs = keras.Input(shape=encoder.input_shape[1:], name="image")
    model = keras.Model(inputs, decoder(encoder(inputs)), name=name)
    model.encoder = encoder
    model.decoder = decoder
    return model


def dense_autoencoder(
    input_shape=(28, 28, 1),
    latent_dim: int = 32,
    hidden_units=(256, 128),
    activation="relu",
    output_activation="sigmoid",
    name: str = "dense_autoencoder",
) -> keras.Model:
    """A fully connected autoencoder: flatten, ``hidden_units``, code, mirror back.

    The code layer is linear (no activation), so the code can take any real value. The
    output activation must match how the inputs are scaled: sigmoid for [0, 1].
    """
    shape = _check_shape(input_shape)
    latent_dim = _check_positive_int("latent_dim", latent_dim)
    hidden_units = _check_units("hidden_units", hidden_units)
    _check_activation("activation", activation)
    _check_activation("output_activation", output_activation)

    inputs = keras.Input(shape=shape, name="image")
    h = keras.layers.Flatten()(inputs)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"enc_dense_{i}")(h)
    code = keras.layers.Dense(latent_dim, name="code")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code")
    h = code_in
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(units, activation=activation, name=f"dec_dense_{i}")(h)
    h = keras.layers.Dense(
        math.prod(shape), activation=output_activation, name="pixels", dtype="float32"
    )(h)
    # float32 output under a mixed-precision policy; the Reshape would cast back.
    outputs = keras.layers.Reshape(shape, name="reconstruction", dtype="float32")(h)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return _assemble(encoder, decoder, name)


def conv_autoencoder(
    input_shape=(28, 28, 1),
    latent_dim: int = 32,
    filters=(32, 64),
    activation="relu",
    output_activation="sigmoid",
    name: str = "conv_autoencoder",
) -> keras.Model:
    """A convolutional autoencoder: strided convolutions down to a dense code and back.

    Each entry of ``filters`` halves the height and width, so both must be divisible by
    ``2 ** len(filters)`` (28x28 works with two entries, 32x32 with up to five).
    """
    shape, filters, factor = _check_conv(
        input_shape, filters, activation, output_activation
    )
    latent_dim = _check_positive_int("latent_dim", latent_dim)
    height, width, channels = shape

    inputs = keras.Input(shape=shape, name="image")
    h = inputs
    for i, n in enumerate(filters):
        h = keras.layers.Conv2D(
            n, 3, strides=2, padding="same", activation=activation, name=f"enc_conv_{i}"
        )(h)
    grid = (height // factor, width // factor, filters[-1])
    h = keras.layers.Flatten()(h)
    code = keras.layers.Dense(latent_dim, name="code")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(latent_dim,), name="code")
    h = keras.layers.Dense(math.prod(grid), activation=activation, name="dec_dense")(
        code_in
    )
    h = keras.layers.Reshape(grid)(h)
    outputs = _upsample_to_image(h, filters, activation, channels, output_activation)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return _assemble(encoder, decoder, name)


def conv_denoiser(
    input_shape=(28, 28, 1),
    filters=(32, 32),
    activation="relu",
    output_activation="sigmoid",
    name: str = "conv_denoiser",
    output_channels: int | None = None,
) -> keras.Model:
    """A fully convolutional autoencoder for restoring images (no dense code).

    The keras.io denoising example's architecture: per entry of ``filters`` a 3x3
    convolution and a 2x2 max-pooling on the way down, a strided transposed convolution
    on the way up, and a 3x3 convolution to the output channels. Its ``encoder`` maps an
    image to a feature map of a quarter (two entries) of its height and width.
    ``output_channels`` defaults to the input's channels; notebook 05 maps one channel
    (lightness) to two (colour).
    """
    shape, filters, _ = _check_conv(input_shape, filters, activation, output_activation)
    channels = shape[2] if output_channels is None else output_channels
    _check_positive_int("output_channels", channels)
    inputs = keras.Input(shape=shape, name="image")
    h = inputs
    for i, n in enumerate(filters):
        h = keras.layers.Conv2D(
            n, 3, padding="same", activation=activation, name=f"enc_conv_{i}"
        )(h)
        h = keras.layers.MaxPooling2D(2, padding="same", name=f"enc_pool_{i}")(h)
    encoder = keras.Model(inputs, h, name="encoder")

    features = keras.Input(shape=encoder.output_shape[1:], name="features")
    outputs = _upsample_to_image(
        features, filters, activation, channels, output_activation
    )
    decoder = keras.Model(features, outputs, name="decoder")
    return _assemble(encoder, decoder, name)


def dense_layers(model: keras.Model) -> list[tuple[int, str]]:
    """The model's Dense layers in the order data flows through them, as
    ``[(units, activation name), ...]``; an ``Activation`` or ``ReLU`` layer right after a
    Dense layer counts as that layer's activation, and nested models are walked through.

    Used by notebook 01's tests to check an architecture layer by layer, whichever way a
    student wrote the activations.
    """
    stack: list[list] = []
    previous_dense = False

    def walk(layers):
        nonlocal previous_dense
        for layer in layers:
            if isinstance(layer, keras.Model):
                walk(layer.layers)
            elif isinstance(layer, keras.layers.Dense):
                stack.append([layer.units, _activation_name(layer.activation)])
                previous_dense = True
            elif previous_dense and isinstance(
                layer, (keras.layers.Activation, keras.layers.ReLU)
            ):
                name = _layer_activation_name(layer)
                before = stack[-1][1]
                stack[-1][1] = name if before == "linear" else f"{before}+{name}"
            elif not isinstance(layer, keras.layers.InputLayer):
                previous_dense = False

    walk(model.layers)
    return [(units, name) for units, name in stack]


def _layer_activation_name(layer) -> str:
    if isinstance(layer, keras.layers.ReLU):
        plain = (
            layer.max_value is None and not layer.negative_slope and not layer.threshold
        )
        return "relu" if plain else "modified relu"
    return _activation_name(layer.activation)


def _activation_name(activation) -> str:
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return name.lower()
