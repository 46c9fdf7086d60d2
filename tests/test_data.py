import gzip
import re
import shutil

import numpy as np
import pytest

from autoencoder_lib import data


def test_mnist_arrays_are_ready_for_keras():
    (x_train, y_train), (x_test, y_test) = data.load_dataset("mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert y_train.dtype == np.int64 and set(np.unique(y_test)) == set(range(10))
    # The first training labels of the official MNIST file.
    assert list(y_train[:8]) == [5, 0, 4, 1, 9, 2, 1, 3]
    # Roughly 19 % of MNIST pixels are ink: a check that the bytes were not scrambled.
    assert 0.1 < float((x_test > 0.5).mean()) < 0.2


def test_loading_twice_gives_independent_copies():
    (x1, _), _ = data.load_dataset("mnist")
    x1[0] = 7.0
    (x2, _), _ = data.load_dataset("mnist")
    assert x2.max() == 1.0


def test_fashion_mnist_test_split():
    x, y = data.load_split("fashion_mnist", "test")
    assert x.shape == (10000, 28, 28, 1)
    assert np.bincount(y).tolist() == [1000] * 10


def test_cifar10_is_rgb_channels_last():
    (x_train, y_train), (x_test, y_test) = data.load_dataset("cifar10")
    assert x_train.shape[1:] == (32, 32, 3) and x_test.shape[1:] == (32, 32, 3)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    # Labels of the official files: first training and test images.
    assert list(y_train[:10]) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert list(y_test[:10]) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert len(x_train) == len(y_train) and len(x_test) == len(y_test)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(
        ValueError, match="Unknown dataset 'mnsit'.*cifar10, fashion_mnist, mnist"
    ):
        data.load_dataset("mnsit")


def test_bad_split_is_rejected():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.load_split("mnist", "validation")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty data folder, an empty download cache, and no network."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(folder))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    import keras

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    data._raw_split.cache_clear()
    yield folder
    data._raw_split.cache_clear()


def test_missing_file_offline_says_where_and_how(offline):
    with pytest.raises(data.DatasetError) as error:
        data.load_dataset("mnist")
    message = str(error.value)
    assert (
        "t10k-images-idx3-ubyte.gz" in message
        or "train-images-idx3-ubyte.gz" in message
    )
    assert str(offline / "mnist") in message  # where it looked
    assert "network is unreachable" in message  # why the download failed
    assert data.DATA_DIR_ENV in message  # how to supply it


def test_corrupt_file_is_named_with_its_checksum(offline):
    (offline / "mnist").mkdir()
    bad = offline / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"not the MNIST labels"))
    with pytest.raises(
        data.DatasetError, match="t10k-labels-idx1-ubyte.gz is corrupt.*sha256"
    ):
        data.fetch("mnist", data.REGISTRY["mnist"].files["test"][1])


def test_stale_cache_file_is_fetched_again(offline, tmp_path):
    cached = data._cache_path("mnist", "t10k-labels-idx1-ubyte.gz")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.raises(data.DatasetError, match="Could not find or download"):
        data.load_split("mnist", "test")


def test_data_dir_that_is_not_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DatasetError, match="not a folder"):
        data.data_dir()


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    source = data.fetch("mnist", data.REGISTRY["mnist"].files["test"][1])
    raw = gzip.decompress(source.read_bytes())
    truncated = tmp_path / "labels.gz"
    truncated.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(data.DatasetError, match="truncated"):
        data._read_idx(truncated, 1)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(source.read_bytes()[:1000])
    with pytest.raises(data.DatasetError, match="not a readable gzip file"):
        data._read_idx(broken, 1)
    with pytest.raises(data.DatasetError, match="not an IDX file with 3 dimension"):
        data._read_idx(source, 3)


def test_files_are_found_directly_in_the_data_dir(tmp_path, monkeypatch):
    remote = data.REGISTRY["mnist"].files["test"][1]
    shutil.copy(data.fetch("mnist", remote), tmp_path / remote.filename)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.fetch("mnist", remote) == tmp_path / remote.filename


def test_flatten():
    assert data.flatten(np.zeros((3, 28, 28, 1))).shape == (3, 784)
    with pytest.raises(ValueError, match="batch of images"):
        data.flatten(np.zeros(5))


def _remote_files():
    for name, dataset in data.REGISTRY.items():
        for entry in dataset.files.values():
            for remote in entry if isinstance(entry, tuple) else (entry,):
                yield name, remote


def test_every_registry_file_has_a_public_source_and_a_checksum():
    """Colab and a fresh laptop fetch every file from its source, checked on arrival."""
    files = list(_remote_files())
    assert len(files) == 4 + 4 + 1
    for name, remote in files:
        assert remote.url.startswith("https://"), (name, remote.url)
        assert remote.url.endswith("/" + remote.filename), (name, remote.url)
        assert re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{64}", remote.checksum), remote


def test_each_offline_file_matches_its_registry_checksum():
    folder = data.data_dir()
    if folder is None:
        pytest.skip(f"no offline data folder (${data.DATA_DIR_ENV} unset)")
    checked = []
    for name, remote in _remote_files():
        path = folder / name / remote.filename
        if path.is_file():
            data.verify(path, remote.checksum, "the offline folder holds another file")
            checked.append(path)
    subset = folder / data.CIFAR10_SUBSET_FOLDER
    for filename, checksum in data.CIFAR10_SUBSET_CHECKSUMS.items():
        if (subset / filename).is_file():
            data.verify(subset / filename, checksum, "the offline subset differs")
            checked.append(subset / filename)
    assert checked, f"no registry file found in {folder}"
