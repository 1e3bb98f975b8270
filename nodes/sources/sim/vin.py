"""Seeded Vehicle Identification Numbers with a valid ISO 3779 / 49 CFR 565 check digit."""

from __future__ import annotations

import random

ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True))}
_VALUES |= dict(zip("JKLMN", range(1, 6), strict=True)) | {"P": 7, "R": 9}
_VALUES |= dict(zip("STUVWXYZ", range(2, 10), strict=True))
MANUFACTURERS = ("WVW", "WBA", "VF1", "JTD", "1FA", "ZFA", "YV1", "TMB")
MODEL_YEARS = "GHJKLMNPRS"  # 2016..2025


def check_digit(vin: str) -> str:
    """The ninth character a VIN must carry (``X`` stands for 10)."""
    total = sum(_VALUES[c] * w for c, w in zip(vin.upper(), WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def is_valid_vin(vin: str) -> bool:
    vin = vin.upper()
    return len(vin) == 17 and all(c in ALPHABET for c in vin) and vin[8] == check_digit(vin)


def random_vin(rng: random.Random) -> str:
    body = (
        rng.choice(MANUFACTURERS)
        + "".join(rng.choice(ALPHABET) for _ in range(5))
        + "0"
        + rng.choice(MODEL_YEARS)
        + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        + "".join(rng.choice("0123456789") for _ in range(6))
    )
    return body[:8] + check_digit(body) + body[9:]
