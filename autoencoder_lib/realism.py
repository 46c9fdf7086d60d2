"""How much a generated image looks like a real digit, measured in a digit classifier's features.

Introduced in notebook 07, used again in 08. "Looks like a digit" measured in pixels, as the
mean squared error to the closest real digit, rewards blur: a blurred digit, or the average
of many, sits close to many digits at once, so it scores better than a sharp real digit does.
A classifier trained to tell digits apart sees strokes instead: a blurred or ambiguous image
gives features unlike those of any real digit.

:func:`digit_critic` trains a small convolutional classifier on labelled real digits
(through :func:`autoencoder_lib.training.fit`, so a rerun loads it). Its
:meth:`DigitCritic.distance` is the distance, in the classifier's features, from each image
to the closest of a reference set of real training digits, divided by the same distance for
a typical real digit (the median over the reference set, each digit's closest *other*
digit). A real digit therefore scores about 1; higher means less like any real digit.
"""

from __future__ import annotations

import keras
import numpy as np

from . import training


def nearest_distances(a, b, skip_self: bool = False) -> np.ndarray:
    """Euclidean distance from each row of ``a`` to its nearest row of ``b`` (with
    ``skip_self``, ``a`` is ``b`` and a row's own distance is left out). Computed by blocks
    of rows, so that the distance matrix stays small whatever the number of rows."""
    a, b = np.asarray(a), np.asarray(b)
    b_squared = (b**2).sum(axis=1)
    out = np.empty(len(a))
    for start in range(0, len(a), 1_000):
        block = a[start : start + 1_000]
        squared = (block**2).sum(axis=1)[:, None] - 2 * block @ b.T + b_squared[None, :]
        if skip_self:
            rows = np.arange(len(block))
            squared[rows, start + rows] = np.inf
        out[start : start + len(block)] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def _check_images(name: str, images) -> np.ndarray:
    images = np.asarray(keras.ops.convert_to_numpy(images), dtype="float32")
    if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
        raise ValueError(
            f"{name} must be a batch of 28x28 greyscale images shaped (N, 28, 28, 1), "
            f"got {images.shape}. Add a channel axis with x[..., None] if it is missing."
        )
    if len(images) == 0:
        raise ValueError(f"{name} is empty: pass at least one image.")
    return images


class DigitCritic:
    """A trained digit classifier and the features of its reference digits.

    ``classifier`` maps images to class probabilities; ``features`` to the 64 numbers
    before its last layer. ``distance(images)`` is described in the module's docstring.
    """

    def __init__(self, classifier: keras.Model, reference):
        self.classifier = classifier
        self.features = keras.Model(
            classifier.inputs, classifier.get_layer("features").output
        )
        self.reference = self._features(_check_images("reference", reference))
        if len(self.reference) < 2:
            raise ValueError("The reference set needs at least two real digits.")
        self.typical = float(
            np.median(nearest_distances(self.reference, self.reference, True))
        )

    def _features(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.features.predict(images, batch_size=500, verbose=0), dtype=np.float64
        )

    def distance(self, images) -> np.ndarray:
        """For each image, its distance to the closest reference digit in the
        classifier's features, in units of a real digit's (about 1 for real digits)."""
        features = self._features(_check_images("images", images))
        return nearest_distances(features, self.reference) / self.typical

    def accuracy(self, x, y) -> float:
        """The classifier's accuracy on labelled digits: a critic that cannot tell digits
        apart measures nothing."""
        probabilities = self.classifier.predict(
            _check_images("x", x), batch_size=500, verbose=0
        )
        return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(y)))


def digit_critic(
    x_train, y_train, *, reference: int = 5_000, epochs: int = 3
) -> DigitCritic:
    """Train the critic's classifier on labelled real digits ``(x_train, y_train)`` and
    keep the features of the first ``reference`` of them as the real digits to compare
    with. The classifier never sees a generated image."""
    x_train = _check_images("x_train", x_train)
    y_train = np.asarray(y_train)
    if y_train.shape != (len(x_train),):
        raise ValueError(
            f"y_train must hold one label per image, shape ({len(x_train)},), "
            f"got {y_train.shape}."
        )
    layers = keras.layers
    classifier = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu", name="features"),
            layers.Dense(10, activation="softmax"),
        ],
        name="digit_critic",
    )
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy"
    )
    training.fit(classifier, x_train, y_train, epochs=epochs, verbose=False)
    return DigitCritic(classifier, x_train[:reference])
