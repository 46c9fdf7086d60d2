"""Is this machine ready for the course? Checks, and what to do about each failure.

    python -m autoencoder_lib.doctor        # or: make doctor

Checks the Python version, the packages the notebooks import, that the Keras backend
starts (and on which device, with the training settings it will use), that a dataset
loads, and that ipywidgets can draw in JupyterLab. Prints one line per check; each
failure says exactly what to fix. Exit status 1 if anything needs fixing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys

# import name -> distribution name on PyPI, for the notebooks and the library
PACKAGES = {
    "keras": "keras",
    "numpy": "numpy",
    "scipy": "scipy",
    "matplotlib": "matplotlib",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "pywt": "PyWavelets",  # scikit-image's wavelet denoiser
    "PIL": "pillow",
    "ipywidgets": "ipywidgets",
    "jupyterlab_widgets": "jupyterlab_widgets",
}
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


class Report:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.failures = 0

    def ok(self, what: str) -> None:
        print(f"  ok   {what}", file=self.stream)

    def fix(self, what: str, how: str) -> None:
        self.failures += 1
        print(f"  FIX  {what}\n       -> {how}", file=self.stream)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


# What pyproject.toml's requires-python asks for.
MINIMUM_PYTHON = (3, 11)


def check_python(report: Report, version=None) -> None:
    # A library copied or put on sys.path by hand skips pip's check of requires-python.
    version = tuple(version or sys.version_info[:3])
    found = ".".join(map(str, version))
    wanted = ".".join(map(str, MINIMUM_PYTHON))
    if version[:2] >= MINIMUM_PYTHON:
        report.ok(f"Python {found}")
    else:
        report.fix(
            f"Python {found} is too old: the course needs {wanted} or newer",
            f"install Python {wanted}+ and run `make lab PYTHON=python3.12` (or another "
            f"{wanted}+ interpreter)",
        )


def check_packages(report: Report) -> None:
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    wanted = dict(PACKAGES)
    if backend in BACKEND_PACKAGES:
        wanted[backend] = BACKEND_PACKAGES[backend]
    else:
        report.fix(
            f"KERAS_BACKEND={backend!r} is not a Keras backend",
            "unset it, or set it to tensorflow, jax or torch",
        )
    for module, distribution in wanted.items():
        if importlib.util.find_spec(module) is None:
            report.fix(
                f"{distribution} is not installed",
                f"pip install {distribution}   (or run `make lab`, which installs all)",
            )
        else:
            report.ok(f"{distribution} {_version(distribution)}")


def check_backend(report: Report) -> bool:
    try:
        from . import session

        session.start_backend()  # before keras is imported: keeps start-up noise out
        from . import training

        training.configure()
        lines = training.device_report().splitlines()
    except Exception as error:  # the message is what the student needs to see
        report.fix(
            f"the Keras backend did not start: {type(error).__name__}: {error}",
            "reinstall it (`pip install --force-reinstall tensorflow`), or try "
            "KERAS_BACKEND=jax",
        )
        return False
    report.ok(lines[0])
    for line in lines[1:]:
        print(f"       {line.strip()}", file=report.stream)
    return True


def check_data(report: Report, name: str = "mnist") -> None:
    from . import data

    try:
        x, _ = data.load_split(name, "test")
    except data.DatasetError as error:
        report.fix(f"the {name} dataset cannot be loaded", str(error))
        return
    report.ok(f"{name} test images load: {x.shape[0]:,} of shape {x.shape[1:]}")


def check_widgets(report: Report) -> None:
    try:
        import ipywidgets

        slider = ipywidgets.IntSlider(value=1, min=0, max=2)
        slider.value = 2
    except Exception as error:
        report.fix(
            f"ipywidgets cannot make a slider: {type(error).__name__}: {error}",
            "pip install 'ipywidgets>=8' jupyterlab_widgets, then restart JupyterLab",
        )
        return
    if importlib.util.find_spec("jupyterlab_widgets") is None:
        report.fix(
            "JupyterLab cannot draw widgets (jupyterlab_widgets is missing): sliders "
            "would show as 'Loading widget...'",
            "pip install jupyterlab_widgets, then restart JupyterLab",
        )
        return
    report.ok(f"ipywidgets {ipywidgets.__version__} with JupyterLab's widget manager")


def main(argv: list[str] | None = None) -> int:
    from . import config

    report = Report()
    print("Checking this machine for the autoencoder course:")
    check_python(report)
    check_packages(report)
    if check_backend(report):
        check_data(report)
    check_widgets(report)
    print(f"  ..   {config.describe()}")
    if report.failures:
        print(f"{report.failures} thing(s) to fix, listed above with FIX.")
        return 1
    print("All set: `make lab` and open 01_basic_autoencoder.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
