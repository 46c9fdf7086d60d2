import matplotlib.pyplot as plt
import numpy as np
import pytest

from autoencoder_lib import models, plots


class CountingModel:
    """Wraps a model and counts predict calls: figures must decode in one batch."""

    def __init__(self, model):
        self.model = model
        self.calls = 0

    def predict(self, x, verbose=0):
        self.calls += 1
        return self.model.predict(x, verbose=verbose)


def test_reconstructions_decode_in_one_batch(mnist_small):
    _, (x_test, _) = mnist_small
    model = CountingModel(models.dense_autoencoder(latent_dim=4, hidden_units=(16,)))
    fig = plots.reconstructions(model, x_test, n=8)
    assert model.calls == 1
    assert len(fig.axes) == 16  # two rows of eight
    plt.close(fig)


def test_image_rows_handles_grey_and_colour():
    grey = np.random.default_rng(0).random((5, 28, 28))
    colour = np.random.default_rng(0).random((5, 32, 32, 3))
    fig = plots.image_rows({"grey": grey, "colour": colour}, n=3)
    assert len(fig.axes) == 6
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shaped \(N, height, width, 1 or 3\)"):
        plots.image_rows({"bad": np.zeros((2, 5, 5, 4))})


def test_loss_curves():
    fig = plots.loss_curves({"loss": [0.3, 0.2], "val_loss": [0.31, 0.25]})
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["loss", "val_loss"]
    plt.close(fig)
    with pytest.raises(ValueError, match="history is empty"):
        plots.loss_curves({})


def test_filters_draws_each_code_unit():
    kernel = np.random.default_rng(0).normal(size=(10, 784))
    fig = plots.filters(kernel, n=10)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    # Each filter is scaled on its own, symmetric about zero (grey = 0).
    low, high = shown[3].images[0].get_clim()
    assert high == pytest.approx(np.abs(kernel[3]).max()) and low == -high
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shaped \(code units, 784\)"):
        plots.filters(np.zeros((784, 10)))
