"""Datasets of the course: one registry, verified files, arrays ready for Keras.

Introduced in notebook 01 (loading MNIST). ``load_dataset(name)`` returns
``(x_train, y_train), (x_test, y_test)`` with images as float32 in [0, 1], channels
last, and labels as int64.

Where files come from, in this order:

1. the folder named by ``AUTOENCODER_DATA_DIR`` (files directly in it, or in a
   sub-folder named after the dataset), for machines without internet;
2. the Keras download cache (``~/.keras/datasets/autoencoder_lib/<name>/``);
3. a download through ``keras.utils.get_file``.

Every file is checked against the checksum in the registry before it is read.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import os
import pickle
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR_ENV = "AUTOENCODER_DATA_DIR"
CACHE_SUBDIR = "autoencoder_lib"


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupt or not what the registry expects."""


@dataclass(frozen=True)
class RemoteFile:
    """One original file: its name, where it is published, and its checksum."""

    filename: str
    url: str
    checksum: str  # sha256 (64 hex digits) or md5 (32 hex digits) of the file

    @property
    def algorithm(self) -> str:
        return "sha256" if len(self.checksum) == 64 else "md5"


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    files: dict  # split -> (images RemoteFile, labels RemoteFile), or "archive" -> RemoteFile


_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def _idx_files(base_url: str, checksums: dict[str, str]) -> dict:
    def remote(name):
        return RemoteFile(name, base_url + name, checksums[name])

    return {
        "train": (
            remote("train-images-idx3-ubyte.gz"),
            remote("train-labels-idx1-ubyte.gz"),
        ),
        "test": (
            remote("t10k-images-idx3-ubyte.gz"),
            remote("t10k-labels-idx1-ubyte.gz"),
        ),
    }


REGISTRY: dict[str, Dataset] = {
    "mnist": Dataset(
        name="mnist",
        description="MNIST handwritten digits, 60,000 train / 10,000 test, 28x28 grey",
        image_shape=(28, 28, 1),
        class_names=tuple(str(d) for d in range(10)),
        files=_idx_files(
            _MNIST_URL,
            {
                "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            },
        ),
    ),
    "fashion_mnist": Dataset(
        name="fashion_mnist",
        description="Fashion-MNIST clothing, 60,000 train / 10,000 test, 28x28 grey",
        image_shape=(28, 28, 1),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),  # fmt: skip
        files=_idx_files(
            _FASHION_URL,
            {
                # md5 as published by the Fashion-MNIST authors where no sha256 is at hand
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            },
        ),
    ),
    "cifar10": Dataset(
        name="cifar10",
        description="CIFAR-10 colour photos, 50,000 train / 10,000 test, 32x32 RGB",
        image_shape=(32, 32, 3),
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),  # fmt: skip
        files={
            "archive": RemoteFile(
                "cifar-10-python.tar.gz",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a",
            )
        },
    ),
}

# The offline CIFAR-10 subset laid out as in the course's shared data folder: PNG strips
# of 1000 images each (one image per row) and a CSV of labels.
CIFAR10_SUBSET_FOLDER = "color"
CIFAR10_SUBSET = {
    "train": ("cifar10_batch_0.png", "cifar10_batch_1.png"),
    "test": ("cifar10_batch_50.png",),
}
CIFAR10_SUBSET_CHECKSUMS = {
    "cifar10_batch_0.png": "0614720d69293a033786d5fe2924c4e9a9b48874f19ca4627c4662a864ee9f2d",
    "cifar10_batch_1.png": "2927e26ea68602e34a7424826b76b7336ce36b8f6bcc2e9fce0c05568ff6b4c1",
    "cifar10_batch_50.png": "5cea9e8fb7933540a2236a4bb25c1ed3a8447f345c55ae659143a95a5d8dac5e",
    "cifar10_labels.csv": "8808f0fdf66de4a76c6b72ece4d9b3f05803ee868e47f8394e869e88060683b2",
}


def available() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(REGISTRY)


def _dataset(name: str) -> Dataset:
    if name not in REGISTRY:
        raise ValueError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(available())}."
        )
    return REGISTRY[name]


def data_dir() -> Path | None:
    """The offline data folder named by ``AUTOENCODER_DATA_DIR``, or None."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DatasetError(
            f"{DATA_DIR_ENV} is set to {value!r}, which is not a folder. Point it at the "
            "folder holding the dataset files (for example .../data with mnist/ inside), "
            "or unset it to use the download cache."
        )
    return path


def _candidates(dataset: str, filename: str, folder: str | None = None) -> list[Path]:
    root = data_dir()
    if root is None:
        return []
    return [root / (folder or dataset) / filename, root / filename]


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def _cache_path(dataset: str, filename: str) -> Path:
    return _keras_home() / "datasets" / CACHE_SUBDIR / dataset / filename


@functools.cache
def _hash_of(path: str, algorithm: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, checksum: str, how_to_fix: str) -> Path:
    """Raise :class:`DatasetError` unless ``path`` has the given sha256/md5 checksum."""
    algorithm = "sha256" if len(checksum) == 64 else "md5"
    stat = path.stat()
    actual = _hash_of(str(path), algorithm, stat.st_size, stat.st_mtime_ns)
    if actual != checksum:
        raise DatasetError(
            f"{path} is corrupt or not the expected file: its {algorithm} is {actual}, "
            f"expected {checksum}. {how_to_fix}"
        )
    return path


def fetch(dataset: str, remote: RemoteFile) -> Path:
    """Return a verified local path of one registry file, downloading it if needed."""
    fix = (
        f"Delete it and run again to download it, or put the original {remote.filename} "
        f"(from {remote.url}) in ${DATA_DIR_ENV}/{dataset}/."
    )
    for path in _candidates(dataset, remote.filename):
        if path.is_file():
            return verify(path, remote.checksum, fix)

    cached = _cache_path(dataset, remote.filename)
    if cached.is_file():
        try:
            return verify(cached, remote.checksum, fix)
        except DatasetError:
            pass  # a stale or partial download: fetch it again below

    looked = [str(p) for p in _candidates(dataset, remote.filename)] + [str(cached)]
    try:
        import keras

        cached.parent.mkdir(parents=True, exist_ok=True)
        downloaded = keras.utils.get_file(
            fname=remote.filename,
            origin=remote.url,
            file_hash=remote.checksum,
            hash_algorithm=remote.algorithm,
            cache_dir=str(_keras_home()),
            cache_subdir=str(Path("datasets") / CACHE_SUBDIR / dataset),
        )
    except Exception as error:  # network errors come in many types
        raise DatasetError(
            f"Could not find or download {remote.filename} for dataset {dataset!r}.\n"
            f"  Looked in: {', '.join(looked)}\n"
            f"  Download from {remote.url} failed: {type(error).__name__}: {error}\n"
            f"  To fix: connect to the internet and run again, or download the file by "
            f"hand and put it in a folder DIR as DIR/{dataset}/{remote.filename}, then "
            f"set {DATA_DIR_ENV}=DIR."
        ) from None
    return verify(Path(downloaded), remote.checksum, fix)


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Read a gzip-compressed IDX file (the original MNIST format) as uint8."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DatasetError(
            f"{path} is not a readable gzip file ({error}). Delete it and fetch it again."
        ) from None
    magic = 0x0800 + expected_dims
    header = 4 + 4 * expected_dims
    if len(raw) < header or struct.unpack(">I", raw[:4])[0] != magic:
        raise DatasetError(
            f"{path} is not an IDX file with {expected_dims} dimension(s) "
            f"(magic number {magic:#x} expected). Check the file name and fetch it again."
        )
    shape = struct.unpack(">" + "I" * expected_dims, raw[4:header])
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(shape)):
        raise DatasetError(
            f"{path} is truncated: its header announces shape {shape} but it holds "
            f"{data.size} values. Delete it and fetch it again."
        )
    return data.reshape(shape)


def _idx_split(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = dataset.files[split]
    images = _read_idx(fetch(dataset.name, images_file), 3)
    labels = _read_idx(fetch(dataset.name, labels_file), 1)
    if len(images) != len(labels):
        raise DatasetError(
            f"{dataset.name} {split}: {len(images)} images but {len(labels)} labels."
        )
    return images[..., np.newaxis], labels


def _cifar_subset_dir() -> Path | None:
    root = data_dir()
    if root is None:
        return None
    for folder in (root / CIFAR10_SUBSET_FOLDER, root / "cifar10"):
        if (folder / "cifar10_labels.csv").is_file():
            return folder
    return None


def _cifar_subset_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    fix = f"Replace it with the original file of the CIFAR-10 subset in {folder}."
    labels_path = verify(
        folder / "cifar10_labels.csv",
        CIFAR10_SUBSET_CHECKSUMS["cifar10_labels.csv"],
        fix,
    )
    with open(labels_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    images, labels = [], []
    for filename in CIFAR10_SUBSET[split]:
        path = folder / filename
        if not path.is_file():
            raise DatasetError(
                f"{path} is missing from the CIFAR-10 subset folder. {fix}"
            )
        verify(path, CIFAR10_SUBSET_CHECKSUMS[filename], fix)
        strip = np.asarray(Image.open(path).convert("RGB"))
        images.append(strip.reshape(-1, 32, 32, 3))
        by_row = {int(r["row"]): int(r["label"]) for r in rows if r["file"] == filename}
        labels.append(np.array([by_row[i] for i in range(len(images[-1]))]))
    return np.concatenate(images), np.concatenate(labels)


def _cifar_archive_split(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = fetch(dataset.name, dataset.files["archive"])
    members = (
        [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    )
    images, labels = [], []
    # The archive's checksum was verified above, so unpickling its batches is safe.
    with tarfile.open(path, "r:gz") as archive:
        for member in members:
            batch = pickle.load(
                archive.extractfile(f"cifar-10-batches-py/{member}"), encoding="bytes"
            )
            images.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.array(batch[b"labels"]))
    return np.concatenate(images), np.concatenate(labels)


def _cifar_split(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    archive = dataset.files["archive"]
    has_archive = any(p.is_file() for p in _candidates(dataset.name, archive.filename))
    subset = _cifar_subset_dir()
    if subset is not None and not has_archive:
        images, labels = _cifar_subset_split(subset, split)
        print(
            f"cifar10 {split}: using the {len(images)}-image offline subset in {subset} "
            "(the full set has 50,000 train / 10,000 test images)."
        )
        return images, labels
    return _cifar_archive_split(dataset, split)


@functools.lru_cache(maxsize=8)
def _raw_split(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    dataset = _dataset(name)
    if name == "cifar10":
        return _cifar_split(dataset, split)
    return _idx_split(dataset, split)


def load_split(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one split (``"train"`` or ``"test"``) as ``(x, y)``, see :func:`load_dataset`."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    images, labels = _raw_split(name, split)
    return (images.astype(np.float32) / 255.0), labels.astype(np.int64)


def load_dataset(name: str):
    """Load a dataset of the registry as ``(x_train, y_train), (x_test, y_test)``.

    Introduced in notebook 01. Images are float32 in [0, 1] with shape (N, H, W, C);
    labels are int64 class indices (see ``REGISTRY[name].class_names``).
    """
    return load_split(name, "train"), load_split(name, "test")


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) images as (N, H*W*C) rows, for PCA and other flat-vector methods."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(
            f"Expected a batch of images (N, H, W, C), got shape {x.shape}."
        )
    return x.reshape(len(x), -1)
