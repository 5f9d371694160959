"""Federated multicenter studies on vantage6: the analysis travels to each hospital, only aggregates return.

Layers, one way:

* :mod:`.node` — a site's own configuration (its registry, minimum cell count, time grid, allowed
  analyses, limits) and the checks a node applies to a protocol sent by another institution;
* :mod:`.disclosure` — minimum cell counts and the time grid of the privacy-preserving mode;
* :mod:`.site` — partial functions run at one site on its own registry (study layer's cohort and
  endpoints), each returning a JSON-able message of aggregates only;
* :mod:`.central` — combiners: flow, Kaplan–Meier/log-rank from per-time counts, Cox by Newton steps;
* :mod:`.algorithm` — the vantage6 entry points (``partial`` and ``central``);
* :mod:`.mock` — a run over local site folders with vantage6's mock network.

See ``docs/federated.md`` for each exchange and what it discloses.
"""
