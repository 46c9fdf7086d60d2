"""The trained-model cache behind training.fit: it loads only what it would have trained.

Every test trains for real (a small dense autoencoder on 256 MNIST images) and counts
the trainings (calls of keras.Model.fit); the cache folders are temporary.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from autoencoder_lib import model_cache, models, training, vae


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv(model_cache.ENABLE_ENV, "1")
    monkeypatch.setenv(model_cache.DIR_ENV, str(folder))
    monkeypatch.delenv(model_cache.SHARED_ENV, raising=False)
    return folder


@pytest.fixture
def trainings(monkeypatch):
    """How many times fit really trained."""
    count = []
    real = keras.Model.fit

    def counted(self, *args, **kwargs):
        count.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", counted)
    return count


def _model(latent_dim=8, hidden=(32,), seed=0, loss="mse", learning_rate=1e-3):
    keras.utils.set_random_seed(seed)
    model = models.dense_autoencoder(latent_dim=latent_dim, hidden_units=hidden)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


def _fit(model, x, **kwargs):
    kwargs.setdefault("epochs", 2)
    kwargs.setdefault("batch_size", 64)
    kwargs.setdefault("verbose", False)
    return training.fit(model, x, **kwargs)


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def _data(mnist_small):
    (x_train, _), _ = mnist_small
    return x_train[:256]


def test_a_second_fit_loads_the_same_weights_and_history(
    mnist_small, cache_dir, trainings, capsys
):
    x = _data(mnist_small)
    first = _model()
    initial = _weights(first)
    history = _fit(first, x)
    trained = _weights(first)
    assert len(trainings) == 1 and len(list(cache_dir.glob("*.npz"))) == 1

    again = _model()  # built anew: other layer numbers, same architecture and seed
    assert all(
        np.array_equal(a, b) for a, b in zip(initial, _weights(again), strict=True)
    )
    loaded = _fit(again, x, verbose=True)
    assert len(trainings) == 1, "trained again instead of loading"
    assert all(
        np.array_equal(a, b) for a, b in zip(trained, _weights(again), strict=True)
    )
    assert not all(
        np.array_equal(a, b) for a, b in zip(initial, _weights(again), strict=True)
    )
    assert loaded.history == history.history and loaded.epoch == history.epoch
    assert loaded.model is again and again.history is loaded
    # How long the training took is kept, so notebooks can compare training times.
    assert history.training_seconds > 0
    assert abs(loaded.training_seconds - history.training_seconds) <= 0.005
    out = capsys.readouterr().out
    assert "Loaded from the model cache" in out and "training took" in out
    # The loaded model predicts what the trained one did.
    np.testing.assert_array_equal(
        first.predict(x[:8], verbose=0), again.predict(x[:8], verbose=0)
    )


@pytest.mark.parametrize(
    "change",
    [
        "layer size",
        "one weight",
        "one pixel",
        "epochs",
        "learning rate",
        "loss",
        "batch size",
        "validation split",
        "targets",
    ],
)
def test_each_part_of_the_key_trains_again(mnist_small, cache_dir, trainings, change):
    x = _data(mnist_small)
    _fit(_model(), x)
    assert len(trainings) == 1
    model, data, kwargs = _model(), x, {}
    if change == "layer size":
        model = _model(hidden=(33,))
    elif change == "one weight":
        kernel = model.weights[0]
        value = np.array(kernel)
        value[3, 5] += 1e-3
        kernel.assign(value)
    elif change == "one pixel":
        data = x.copy()
        data[17, 9, 11, 0] = 1.0 - data[17, 9, 11, 0]
    elif change == "epochs":
        kwargs["epochs"] = 3
    elif change == "learning rate":
        model = _model(learning_rate=2e-3)
    elif change == "loss":
        model = _model(loss="mae")
    elif change == "batch size":
        kwargs["batch_size"] = 32
    elif change == "validation split":
        kwargs["validation_split"] = 0.2
    elif change == "targets":
        kwargs["y"] = 1 - data
    y = kwargs.pop("y", None)
    training.fit(
        model, data, y, **{"epochs": 2, "batch_size": 64, "verbose": False, **kwargs}
    )
    assert len(trainings) == 2, f"a changed {change} was loaded from the cache"
    # And the unchanged call still loads.
    _fit(_model(), x)
    assert len(trainings) == 2


def _loss_with_global(x, reconstruction):
    return keras.ops.mean(keras.ops.abs(x - reconstruction) ** EXPONENT)


EXPONENT = 2.0


def test_a_loss_of_the_notebook_is_keyed_by_its_code_and_globals(
    mnist_small, cache_dir, trainings, monkeypatch
):
    x = _data(mnist_small)
    _fit(_model(loss=_loss_with_global), x)
    _fit(_model(loss=_loss_with_global), x)
    assert len(trainings) == 1
    monkeypatch.setitem(globals(), "EXPONENT", 1.5)
    _fit(_model(loss=_loss_with_global), x)
    assert len(trainings) == 2, "a changed global of the loss was loaded"

    def other_loss(x, reconstruction):
        return keras.ops.mean(keras.ops.abs(x - reconstruction) ** 1.5 + 0.0)

    _fit(_model(loss=other_loss), x)
    assert len(trainings) == 3, "another loss's code was loaded"


def test_the_vae_is_keyed_by_the_loss_function_it_was_given(
    mnist_small, cache_dir, trainings
):
    x = _data(mnist_small)

    def loss_a(x, reconstruction, z_mean, z_log_var):
        return keras.ops.mean(
            keras.ops.square(x - reconstruction)
        ) + 0.0 * keras.ops.sum(z_mean)

    def loss_b(x, reconstruction, z_mean, z_log_var):
        return keras.ops.mean(keras.ops.abs(x - reconstruction)) + 0.0 * keras.ops.sum(
            z_log_var
        )

    def built(loss):
        keras.utils.set_random_seed(0)
        model = vae.build(latent_dim=2, hidden_units=(16,), loss_fn=loss)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    _fit(built(loss_a), x)
    _fit(built(loss_a), x)
    assert len(trainings) == 1
    _fit(built(loss_b), x)
    assert len(trainings) == 2


def test_training_on_continues_from_the_loaded_optimizer_state(
    mnist_small, cache_dir, trainings
):
    x = _data(mnist_small)
    model = _model()
    _fit(model, x)
    _fit(model, x)  # two more epochs, from the trained state and its Adam moments
    continued = _weights(model)
    assert len(trainings) == 2
    rerun = _model()
    _fit(rerun, x)
    _fit(rerun, x)
    assert len(trainings) == 2, "the second call's key did not see the same state"
    assert all(
        np.array_equal(a, b) for a, b in zip(continued, _weights(rerun), strict=True)
    )
    assert int(rerun.optimizer.iterations) == int(model.optimizer.iterations)


def test_switched_off_it_always_trains(mnist_small, cache_dir, trainings, monkeypatch):
    x = _data(mnist_small)
    _fit(_model(), x)
    _fit(_model(), x, cache=False)
    assert len(trainings) == 2
    monkeypatch.setenv(model_cache.ENABLE_ENV, "0")
    _fit(_model(), x)
    assert len(trainings) == 3
    assert len(list(cache_dir.glob("*.npz"))) == 1


def test_a_callback_of_ones_own_is_never_cached(mnist_small, cache_dir, trainings):
    x = _data(mnist_small)
    for _ in range(2):
        _fit(_model(), x, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(trainings) == 2 and not list(cache_dir.glob("*.npz"))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other shapes"])
def test_a_corrupt_entry_is_trained_again_and_replaced(
    mnist_small, cache_dir, trainings, damage
):
    x = _data(mnist_small)
    _fit(_model(), x)
    (entry,) = cache_dir.glob("*.npz")
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(4096))
    else:
        # A well-formed entry whose arrays do not fit the model.
        smaller = _model(hidden=(16,))
        _fit(smaller, x, cache=False)
        model_cache.store(smaller, entry.stem, smaller.history, 1.0)
    trained_before = len(trainings)
    model = _model()
    _fit(model, x)
    assert len(trainings) == trained_before + 1
    # Replaced by a good entry: the next call loads it.
    _fit(_model(), x)
    assert len(trainings) == trained_before + 1
    assert not list(cache_dir.glob(".partial-*"))


def test_a_shared_cache_is_read_and_never_written(
    mnist_small, tmp_path, trainings, monkeypatch
):
    x = _data(mnist_small)
    shared = tmp_path / "instructor"
    monkeypatch.setenv(model_cache.ENABLE_ENV, "1")
    monkeypatch.setenv(model_cache.DIR_ENV, str(shared))
    _fit(_model(), x)  # the instructor fills it
    before = {p.name: p.read_bytes() for p in shared.iterdir()}
    own = tmp_path / "student"
    monkeypatch.setenv(model_cache.DIR_ENV, str(own))
    monkeypatch.setenv(model_cache.SHARED_ENV, str(shared))
    _fit(_model(), x)
    assert len(trainings) == 1, "the shared entry was not used"
    _fit(_model(latent_dim=9), x)  # new: into the student's own folder
    assert len(trainings) == 2
    assert {p.name: p.read_bytes() for p in shared.iterdir()} == before
    assert len(list(own.glob("*.npz"))) == 1


def test_an_unwritable_folder_warns_and_still_returns_the_trained_model(
    mnist_small, tmp_path, trainings, monkeypatch, capsys
):
    x = _data(mnist_small)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(model_cache.ENABLE_ENV, "1")
    monkeypatch.setenv(model_cache.DIR_ENV, str(blocker / "models"))
    history = _fit(_model(), x)
    assert len(history.history["loss"]) == 2 and len(trainings) == 1
    err = capsys.readouterr().err
    assert "could not write" in err and model_cache.DIR_ENV in err


@pytest.mark.integration
def test_a_rerun_in_a_fresh_process_loads_every_model(mnist_small, tmp_path):
    """What a notebook rerun after a kernel restart does: same seeds, same cells."""
    script = """
import keras, sys
from autoencoder_lib import data, models, training
keras.utils.set_random_seed(0)
(x, _), _ = data.load_dataset("mnist")
x = x[:256]
for units in (16, 24):  # two models in a row: the second's seeds follow the first's
    model = models.dense_autoencoder(latent_dim=4, hidden_units=(units,))
    model.compile(optimizer="adam", loss="mse")
    h = training.fit(model, x, epochs=2, batch_size=64)
    print("val", h.history["val_loss"][-1], float(model.get_weights()[0].sum()))
"""
    env = dict(
        os.environ,
        **{model_cache.ENABLE_ENV: "1", model_cache.DIR_ENV: str(tmp_path / "c")},
    )
    env.pop(model_cache.SHARED_ENV, None)
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    first, second = (
        [line for line in r.stdout.splitlines() if line.startswith("val")] for r in runs
    )
    assert first == second and len(first) == 2
    assert runs[0].stdout.count("Loaded from the model cache") == 0
    assert runs[1].stdout.count("Loaded from the model cache") == 2
    assert len(list(Path(tmp_path / "c").glob("*.npz"))) == 2
