"""The row accumulator of the synthetic registry, and the lesion and complication rows every setting adds.

Each setting adds column blocks with integer keys (lesions, treatments) for cross references;
``assemble`` turns them into the registry's tables with their string ids.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .draws import pick, uniform_days


class Tables:
    """Accumulates column blocks per table, with integer keys for cross references."""

    def __init__(self):
        self.blocks = {name: [] for name in ("lesions", "treatments", "links", "complications", "events", "labs",
                                             "mdt")}
        self.next_lesion = 0
        self.next_treatment = 0
        # one empty block per table, so a table nobody adds rows to (tiny registries) still has its columns
        z, zf = np.zeros(0, dtype=np.int64), np.zeros(0)
        self.lesions(z, z, zf, None)
        self.treatments(z, None, z)
        self.link(z, z)
        self.complications(z, z, None)
        self.events(z, z, None, None)
        self.labs(z, z, zf)
        self.mdt(z, z, None)

    def lesions(self, pix, detection, diameter, organ, lobe=None):
        n = len(pix)
        keys = np.arange(self.next_lesion, self.next_lesion + n)
        self.next_lesion += n
        self.blocks["lesions"].append(dict(key=keys, pix=pix, detection=detection, diameter=diameter,
                                           organ=_arr(organ, n), lobe=_arr(lobe, n)))
        return keys

    def treatments(self, pix, modality, start, end=None, **cols):
        n = len(pix)
        keys = np.arange(self.next_treatment, self.next_treatment + n)
        self.next_treatment += n
        block = dict(key=keys, pix=pix, modality=_arr(modality, n), start=start,
                     end=_arr(end, n, float))
        for c in ("intent", "approach", "margin", "regimen", "setting"):
            block[c] = _arr(cols.get(c), n)
        for c in ("dose", "fractions", "line"):
            block[c] = _arr(cols.get(c), n, float)
        self.blocks["treatments"].append(block)
        return keys

    def link(self, tkeys, lkeys):
        self.blocks["links"].append(dict(tkey=np.asarray(tkeys), lkey=np.asarray(lkeys)))

    def complications(self, tkey, date, grade):
        self.blocks["complications"].append(dict(tkey=tkey, date=date, grade=_arr(grade, len(tkey))))

    def events(self, pix, date, etype, organ, lkey=None):
        n = len(pix)
        self.blocks["events"].append(dict(pix=pix, date=date, type=_arr(etype, n), organ=_arr(organ, n),
                                          lkey=_arr(lkey, n, float)))

    def labs(self, pix, date, cea):
        self.blocks["labs"].append(dict(pix=pix, date=date, cea=cea))

    def mdt(self, pix, date, rec):
        self.blocks["mdt"].append(dict(pix=pix, date=date, rec=_arr(rec, len(pix))))

    def frame(self, name):
        blocks = [b for b in self.blocks[name] if len(next(iter(b.values())))]
        if not blocks:  # no rows: keep each column's dtype (integer keys must stay usable as indices)
            first = self.blocks[name][0] if self.blocks[name] else {}
            return pd.DataFrame({k: np.asarray(v)[:0] for k, v in first.items()})
        return pd.DataFrame({k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]})


def _arr(value, n, dtype=object):
    if value is None:
        return np.full(n, np.nan if dtype is float else None, dtype=dtype)
    if np.isscalar(value):
        return np.full(n, value, dtype=dtype)
    return np.asarray(value, dtype=dtype)



def extra_lesions(acc, rng, pix, n_les, maxd, detection, organ, lobes):
    """Lesion rows: the largest first, the others smaller; returns (first keys, all keys, owner index)."""
    rep = np.repeat(np.arange(len(pix)), n_les)
    rank = np.arange(len(rep)) - np.repeat(np.cumsum(n_les) - n_les, n_les)
    diam = np.where(rank == 0, maxd[rep], np.minimum(maxd[rep], (maxd[rep] * rng.uniform(0.3, 1.0, len(rep))).round()))
    diam = np.maximum(diam, 3.0)
    keys = acc.lesions(pix[rep], detection[rep], diam, organ, pick(rng, lobes, np.ones(len(lobes)), len(rep)))
    return keys[rank == 0], keys, rep


def complications(acc, rng, tkeys, day, kind):
    probs = {"hepatectomy": [0.62, 0.08, 0.14, 0.09, 0.04, 0.02, 0.01],
             "ablation": [0.80, 0.08, 0.07, 0.04, 0.01, 0.0, 0.0],
             "repeat": [0.70, 0.08, 0.11, 0.07, 0.03, 0.01, 0.0],
             "sarcoma": [0.75, 0.08, 0.10, 0.04, 0.02, 0.01, 0.0],
             "sabr": [0.88, 0.07, 0.05, 0.0, 0.0, 0.0, 0.0]}
    grades = ["none", "I", "II", "IIIa", "IIIb", "IVa", "IVb"]
    n = len(tkeys)
    if np.isscalar(kind):
        g = pick(rng, grades, probs[kind], n)
    else:
        g = np.empty(n, dtype=object)
        for k in sorted(set(kind)):  # fixed order: the draws must not depend on PYTHONHASHSEED
            sel = kind == k
            g[sel] = pick(rng, grades, probs[k], sel.sum())
    has = g != "none"
    acc.complications(np.asarray(tkeys)[has], np.asarray(day)[has] + uniform_days(rng, 1, 20, has.sum()), g[has])
    # a second, milder complication for some severe ones: CCI then exceeds the worst grade's value
    sev = has & np.isin(g, ["IIIa", "IIIb", "IVa", "IVb"]) & (rng.random(n) < 0.4)
    acc.complications(np.asarray(tkeys)[sev], np.asarray(day)[sev] + uniform_days(rng, 1, 20, sev.sum()), "II")

