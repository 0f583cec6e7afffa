"""The site's data for federated statistics: ``load_data(site_name)``.

Returns ``{dataset: {feature: numpy array}}``. The scaffold generates synthetic ``train``
and ``test`` datasets deterministically from the site name (each site's distribution is
shifted a little, as real sites differ). Replace it with your own loader.
"""

import os
import zlib

import numpy as np


def load_data(site_name: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """``{"train": {feature: array}, "test": {feature: array}}`` for ``site_name``.

    When the site name is not passed, it comes from ``FLJOB_SITE_NAME`` (set for every
    job process and training script on a site).
    """
    site = site_name or os.environ.get("FLJOB_SITE_NAME", "site")
    rng = np.random.default_rng(zlib.crc32(site.encode("utf-8")))
    shift = rng.uniform(-5.0, 5.0)
    datasets = {}
    for name, size in (("train", 800), ("test", 200)):
        datasets[name] = {
            "age": rng.normal(40.0 + shift, 12.0, size).clip(18, 90),
            "income": rng.lognormal(10.5, 0.4, size),
            "hours_per_week": rng.normal(38.0, 6.0, size).clip(1, 99),
        }
    return datasets
