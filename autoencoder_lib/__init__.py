"""Shared helpers for the autoencoder course.

Import the modules you need, for example::

    from autoencoder_lib import session
    session.start()  # quiet backend start-up, seeds, device report
    from autoencoder_lib import data, models, training, metrics, plots

Importing the package does nothing by itself: no seeding, no downloads, no backend
start-up. ``session.start()`` is the one call with side effects.
"""

__version__ = "0.1.0"
