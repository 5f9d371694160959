"""matching layer: propensity scores, nearest-neighbour matching, weighting, balance.

* :func:`oligomet.match` (``matching.nearest``): greedy nearest-neighbour matching as MatchIt.
* :func:`oligomet.weight` (``matching.weighting``): IPTW and overlap weights.
* ``matching.outcome.matched_survival``: KM, log-rank and Cox (cluster-robust) after either.
* ``matching.balance``: MatchIt's ``summary(standardize = TRUE)`` statistics.
* ``matching.propensity``: R's ``glm`` logistic fit.

See ``docs/matching.md``.
"""
