"""Generated card transactions with a plausible fraud pattern, and knobs to make them drift.

Everything is vectorised numpy and seeded: the same `seed` always gives the same frame,
and each drift knob draws from its own random stream, so switching a knob on changes only
what that knob is about (the base transactions stay identical).

How a row is made:

1. A customer profile: 30-day transaction count and average amount.
2. A merchant category (10 categories with realistic shares), an amount drawn log-normally
   around the category's typical ticket and scaled by the customer's usual spend, an hour
   from a daily cycle (quiet nights, a midday and an evening peak), a country (mostly the
   home country, more often abroad for travel), a device (point of sale in shops, web and
   mobile online), whether the device is new to the customer, minutes since the customer's
   previous transaction, and distance from home.
3. A fraud score from the features (night hours, abroad, far from home, amount high for
   this customer, new device, rapid succession, risky categories, thin history), plus
   noise; `is_fraud` is drawn from it with the intercept solved so the share of fraud is
   `fraud_rate`. The noise keeps the best achievable AUC near 0.95, not 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HOME_COUNTRY = "US"
UNSEEN_CATEGORY = "crypto_exchange"
DEVICES = ("pos", "web", "mobile")

# name: (share of transactions, median amount in USD, log-normal sigma, online?, risky?)
MERCHANT_CATEGORIES: dict[str, tuple[float, float, float, bool, bool]] = {
    "grocery": (0.22, 42.0, 0.55, False, False),
    "restaurants": (0.14, 28.0, 0.60, False, False),
    "online_retail": (0.14, 55.0, 0.90, True, True),
    "fuel": (0.10, 48.0, 0.35, False, False),
    "utilities": (0.08, 85.0, 0.50, True, False),
    "transport": (0.08, 18.0, 0.70, False, False),
    "entertainment": (0.07, 32.0, 0.70, True, False),
    "health": (0.06, 60.0, 0.70, False, False),
    "electronics": (0.05, 240.0, 0.85, True, True),
    "travel": (0.04, 380.0, 0.90, True, False),
    "luxury_goods": (0.02, 520.0, 0.90, False, True),
}
# The unseen category the `new_merchant_category` knob moves rows into.
UNSEEN_PROFILE = (0.0, 300.0, 1.10, True, True)

# Countries other than home, with their shares among foreign transactions.
FOREIGN_COUNTRIES: dict[str, float] = {
    "CA": 0.22,
    "MX": 0.16,
    "GB": 0.14,
    "DE": 0.09,
    "FR": 0.09,
    "BR": 0.07,
    "IN": 0.07,
    "CN": 0.06,
    "NG": 0.05,
    "RU": 0.05,
}

CATEGORICAL = ("merchant_category", "country", "device")
NUMERIC = (
    "amount",
    "hour",
    "customer_tx_count_30d",
    "customer_avg_amount_30d",
    "minutes_since_last_tx",
    "distance_from_home_km",
    "new_device",
)
FEATURES = CATEGORICAL + NUMERIC
TARGET = "is_fraud"
# Column -> kind of values: "float" (float64), "int" (int64) or "str" (pandas strings).
SCHEMA: dict[str, str] = {
    "amount": "float",
    "merchant_category": "str",
    "hour": "int",
    "country": "str",
    "device": "str",
    "customer_tx_count_30d": "int",
    "customer_avg_amount_30d": "float",
    "minutes_since_last_tx": "float",
    "distance_from_home_km": "float",
    "new_device": "int",
    TARGET: "int",
}

# Random streams: one per concern, so drift knobs never disturb the base rows.
_BASE, _NEW_CATEGORY = 0, 1
_SIGNAL_SCALE = 1.5  # signal vs logistic noise: sets the best achievable AUC (~0.97)


@dataclass(frozen=True)
class Drift:
    """How production data differs from training data; the defaults mean no drift.

    inflation: multiplies every amount (the transaction and the customer's 30-day average).
    new_merchant_category: share of rows moved to `crypto_exchange`, unseen in training.
    fraud_shift: 0 keeps the training fraud pattern (night, abroad, far from home); 1 moves
        it fully to daytime, domestic, unusually high amounts; values between mix the two.
    """

    inflation: float = 1.0
    new_merchant_category: float = 0.0
    fraud_shift: float = 0.0

    def __post_init__(self) -> None:
        if self.inflation <= 0:
            raise ValueError(f"inflation must be > 0, got {self.inflation}")
        if not 0.0 <= self.new_merchant_category <= 1.0:
            raise ValueError(
                f"new_merchant_category must be in [0, 1], got {self.new_merchant_category}"
            )
        if not 0.0 <= self.fraud_shift <= 1.0:
            raise ValueError(f"fraud_shift must be in [0, 1], got {self.fraud_shift}")


def generate_transactions(
    n_rows: int, fraud_rate: float = 0.01, seed: int = 7, drift: Drift | None = None
) -> pd.DataFrame:
    """`n_rows` transactions with columns `FEATURES` + `is_fraud`; deterministic per seed."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1, got {n_rows}")
    if not 0.0 < fraud_rate < 1.0:
        raise ValueError(f"fraud_rate must be in (0, 1), got {fraud_rate}")
    drift = drift or Drift()
    rng = np.random.default_rng([seed, _BASE])
    names = list(MERCHANT_CATEGORIES)
    profiles = np.array([MERCHANT_CATEGORIES[name][:4] for name in names] + [UNSEEN_PROFILE[:4]])
    risky = np.array([MERCHANT_CATEGORIES[name][4] for name in names] + [UNSEEN_PROFILE[4]])
    names.append(UNSEEN_CATEGORY)
    unseen = len(names) - 1

    # Customer profile.
    tx_count = rng.poisson(rng.lognormal(np.log(25.0), 0.6, n_rows)).astype(np.int64)
    avg_amount = rng.lognormal(np.log(55.0), 0.5, n_rows)

    # Merchant category (the unseen one has share 0 here) and a log-normal amount.
    category = rng.choice(len(names), size=n_rows, p=profiles[:, 0] / profiles[:, 0].sum())
    amount_noise = rng.standard_normal(n_rows)

    # Hour of day: quiet nights, a midday and an evening peak.
    hours = np.arange(24)
    weight = (
        0.12
        + np.exp(-((hours - 12.5) ** 2) / (2 * 3.5**2))
        + 0.9 * np.exp(-((hours - 19.0) ** 2) / (2 * 2.2**2))
    )
    hour = rng.choice(24, size=n_rows, p=weight / weight.sum()).astype(np.int64)

    # Country: home mostly; abroad more often for travel and online shopping.
    foreign_share = np.where(category == names.index("travel"), 0.30, 0.03)
    foreign_share = np.where(profiles[category, 3] == 1.0, foreign_share + 0.05, foreign_share)
    is_foreign = rng.random(n_rows) < foreign_share
    foreign_names = np.array(list(FOREIGN_COUNTRIES))
    foreign_p = np.array(list(FOREIGN_COUNTRIES.values()))
    country = np.where(
        is_foreign,
        foreign_names[rng.choice(len(foreign_names), size=n_rows, p=foreign_p / foreign_p.sum())],
        HOME_COUNTRY,
    )

    device_u = rng.random(n_rows)
    new_device_u = rng.random(n_rows)
    gap_u = rng.exponential(1.0, n_rows)
    distance_noise = rng.standard_normal(n_rows)
    label_noise = rng.logistic(0.0, 1.0, n_rows)

    # Drift: move a share of rows to a category never seen in training.
    if drift.new_merchant_category > 0:
        drift_rng = np.random.default_rng([seed, _NEW_CATEGORY])
        moved = drift_rng.choice(
            n_rows, size=round(drift.new_merchant_category * n_rows), replace=False
        )
        category[moved] = unseen

    median, sigma, online = profiles[category, 1], profiles[category, 2], profiles[category, 3]
    amount = median * np.exp(sigma * amount_noise) * (avg_amount / 55.0) ** 0.6
    amount = np.maximum(np.round(amount, 2), 0.5)

    # Device: point of sale in shops; web or mobile online. New devices are rare.
    pos_share = np.where(online == 1.0, 0.03, 0.75)
    web_share = np.where(online == 1.0, 0.45, 0.05)
    device = np.where(device_u < pos_share, 0, np.where(device_u < pos_share + web_share, 1, 2))
    new_device = (new_device_u < np.where(device == 0, 0.01, 0.05)).astype(np.int64)

    # Minutes since the previous transaction: about 30 days / count, exponential.
    minutes_since = np.round(gap_u * 43_200.0 / (tx_count + 1.0), 1)
    distance = np.where(
        is_foreign,
        np.exp(np.log(2_500.0) + 0.6 * distance_noise),
        np.exp(np.log(np.where(device == 0, 6.0, 12.0)) + 1.0 * distance_noise),
    )
    distance = np.round(distance, 1)

    # Fraud: a score from the features plus logistic noise; the top `fraud_rate` is fraud.
    foreign = is_foreign.astype(float)
    night = (hour <= 5).astype(float)
    daytime = ((hour >= 9) & (hour <= 17)).astype(float)
    ratio = np.clip(np.log(amount / avg_amount), -2.0, 4.0)
    rapid = (minutes_since < 10.0).astype(float)
    thin_history = (tx_count < 5).astype(float)
    common = 1.3 * new_device + 1.1 * rapid + 0.8 * risky[category] + 0.5 * thin_history
    training_pattern = (
        2.0 * night + 1.8 * foreign + 0.25 * np.log1p(distance) + 0.9 * np.maximum(ratio, 0.0)
    )
    domestic = 1.0 - foreign
    shifted_pattern = (
        1.5 * daytime + 1.0 * domestic - 1.5 * foreign - 1.0 * night + 1.8 * np.maximum(ratio, 0.0)
    )
    shift = drift.fraud_shift
    signal = common + (1.0 - shift) * training_pattern + shift * shifted_pattern
    score = _SIGNAL_SCALE * signal + label_noise
    is_fraud = _top_share(score, fraud_rate)

    frame = pd.DataFrame(
        {
            "amount": np.round(amount * drift.inflation, 2),
            "merchant_category": np.array(names)[category],
            "hour": hour,
            "country": country,
            "device": np.array(DEVICES)[device],
            "customer_tx_count_30d": tx_count,
            "customer_avg_amount_30d": np.round(avg_amount * drift.inflation, 2),
            "minutes_since_last_tx": minutes_since,
            "distance_from_home_km": distance,
            "new_device": new_device,
            TARGET: is_fraud.astype(np.int64),
        }
    )
    return frame


def _top_share(score: np.ndarray, rate: float) -> np.ndarray:
    """The top `rate` share of `score` as positives.

    The score carries logistic noise, so thresholding it is a Bernoulli draw from a
    logistic model whose intercept is chosen to hit `rate` exactly (not just on average).
    """
    n_positive = max(1, round(rate * len(score)))
    labels = np.zeros(len(score), dtype=bool)
    labels[np.argpartition(-score, n_positive - 1)[:n_positive]] = True
    return labels
