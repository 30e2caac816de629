"""Which conversations QA scores: a fixed fraction, chosen by a hash of the conversation id.

A hash rather than a random draw, so that replaying an export, or the stream after a
restart, samples exactly the same conversations, and two workers agree without talking.
The id alone is hashed (not the shop or the rate), so raising a shop's rate from 5 % to
10 % keeps the conversations the 5 % sample held and adds others.
"""

from __future__ import annotations

import hashlib

from monitor.settings import QASettings

_SPACE = "guanchao-qa:"  # a prefix of our own, so the fraction is not any other system's hash


def sample_fraction(conversation_id: str) -> float:
    """Where the id falls in [0, 1): the first 8 bytes of SHA-256, as a fraction."""
    digest = hashlib.sha256((_SPACE + conversation_id).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def rate_for(shop: str, settings: QASettings) -> float:
    """The shop's own rate if the config gives one, else the default."""
    return settings.shop_rates.get(shop, settings.sample_rate)


def is_sampled(conversation_id: str, shop: str, settings: QASettings) -> bool:
    return sample_fraction(conversation_id) < rate_for(shop, settings)
