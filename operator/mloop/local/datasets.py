"""A realistic, seeded credit-default dataset for the examples, the demo and the end-to-end tests.

No downloads: the rows are generated. The label depends non-linearly on a few features, some columns are
categorical, one identifies the applicant, two leak the outcome (they are only known after a default), and
``shift`` moves the applicant population so the drift checks have something real to find.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

__all__ = ["credit_csv", "credit_frame"]

PURPOSES = ("car", "education", "furniture", "business", "repairs")
HOUSING = ("own", "rent", "free")


def credit_frame(
    rows: int = 2000, *, seed: int = 7, shift: float = 0.0, concept: float = 0.0, label_noise: float = 0.05
) -> pd.DataFrame:
    """``rows`` applicants. ``shift`` (in standard deviations) ages the population and raises amounts (data
    drift); ``concept`` changes how features relate to defaults (concept drift: an older model gets worse)."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(40 + 10 * shift, 11, rows), 18, 85).round()
    income = np.exp(rng.normal(10.4 + 0.1 * shift, 0.45, rows)).round(-2)
    amount = np.exp(rng.normal(8.3 + 0.5 * shift, 0.7, rows)).round(-1)
    duration = rng.choice([6, 12, 18, 24, 36, 48, 60], rows, p=[0.1, 0.25, 0.15, 0.2, 0.15, 0.1, 0.05])
    purpose = rng.choice(PURPOSES, rows, p=[0.3, 0.15, 0.25, 0.15, 0.15])
    housing = rng.choice(HOUSING, rows, p=[0.55, 0.35, 0.10])
    months_of_income = amount / (income / 12)
    logit = (
        -1.2
        + 1.6 * np.log(months_of_income)
        + 0.04 * (duration - 24)
        - 0.05 * (1 - 2 * concept) * (age - 40)
        + np.where(purpose == "business", 1.0 - 2.0 * concept, np.where(purpose == "education", -0.6, 0.0))
        + (1 - 2 * concept) * np.where(housing == "rent", 0.7, np.where(housing == "free", 0.3, -0.4))
    )
    default = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    flip = rng.random(rows) < label_noise
    default = np.where(flip, 1 - default, default)
    days_past_due = np.where(default == 1, rng.integers(30, 180, rows), rng.integers(0, 5, rows))
    collection = np.where(default == 1, "in_collection", "none")
    age_band = pd.cut(age, bins=[0, 30, 45, 60, 200], labels=["18-30", "31-45", "46-60", "60+"]).astype(str)
    return pd.DataFrame(
        {
            "applicant_id": [f"A{seed:02d}{i:06d}" for i in range(rows)],
            "age": age,
            "income": income,
            "credit_amount": amount,
            "duration_months": duration,
            "purpose": purpose,
            "housing": housing,
            "age_band": age_band,
            "days_past_due": days_past_due,
            "collection_status": collection,
            "default": default,
        }
    )


def credit_csv(
    rows: int = 2000, *, seed: int = 7, shift: float = 0.0, concept: float = 0.0, label_noise: float = 0.05
) -> bytes:
    """The same data as CSV bytes, ready to upload to S3."""
    buffer = io.StringIO()
    credit_frame(rows, seed=seed, shift=shift, concept=concept, label_noise=label_noise).to_csv(
        buffer, index=False
    )
    return buffer.getvalue().encode()
