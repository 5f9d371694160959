"""Secure summation of counts: the centre learns the total over the sites, not any site's count.

DataSHIELD-style suppression makes rare outcomes (a 90-day death, a grade V complication: 1-4 patients at a
hospital) vanish from a federated study, so the pooled rate cannot be exact. For such tables the sites add
masks that cancel in the sum (additive secret sharing over the ring of participating sites):

* the sites share a ``federation_key`` (set in each ``node.yaml``, agreed among the hospitals, never given
  to the centre);
* for a request the centre sends a fresh ``nonce`` and the ``ring`` (the sites taking part, in order);
* site j sends ``(counts + r_j − r_{j+1}) mod 2⁶²``, r_j a pseudo-random vector drawn from
  SHA-256(key, nonce, ring[j]); the masks cancel around the ring and the centre's sum mod 2⁶² is the total.

Each message is uniformly distributed for whoever lacks the key: it reveals nothing about the site's counts.
The totals are the study's results (a pooled report shows them too). Limits, stated in docs/federated.md: a
site that colludes with the centre can unmask the others (every site holds the key); a site that leaves
mid-request breaks the cancellation, so the centre asks again with the smaller ring.
"""
from __future__ import annotations

import hashlib

import numpy as np

MODULUS = 1 << 62


def _stream(key: str, nonce: str, site: str, size: int) -> np.ndarray:
    seed = hashlib.sha256(f"{key}\x00{nonce}\x00{site}".encode()).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
    return rng.integers(0, MODULUS, size=size, dtype=np.int64).astype(object)


def mask(counts: list[int], key: str, nonce: str, ring: list[str], site: str) -> list[int]:
    """This site's masked counts (Python ints in [0, 2⁶²))."""
    j = ring.index(site)
    here, nxt = _stream(key, nonce, site, len(counts)), _stream(key, nonce, ring[(j + 1) % len(ring)], len(counts))
    return [int((c + a - b) % MODULUS) for c, a, b in zip(counts, here, nxt)]


def unmask(messages: list[list[int]]) -> list[int]:
    """The totals: the sum of the ring's masked vectors mod 2⁶²."""
    return [int(sum(col) % MODULUS) for col in zip(*messages)]
