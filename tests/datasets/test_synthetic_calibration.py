"""The synthetic registry's calibration runs on first use, once, and never at import; TRUE_EFFECTS is read-only."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from oligomet.datasets.synthetic import TRUE_EFFECTS, true_effects
from oligomet.datasets.synthetic.calibration import calibrated_rates

# Counts the root-finder's calls: the calibration is the only user of brentq in the package, and each
# module binds the patched function when it is imported after the patch.
_PROBE = textwrap.dedent("""
    import json, scipy.optimize
    calls = []
    _brentq = scipy.optimize.brentq
    scipy.optimize.brentq = lambda *a, **k: calls.append(1) or _brentq(*a, **k)
    import oligomet.datasets.synthetic as synthetic
    from oligomet.datasets import TRUE_EFFECTS
    from oligomet.datasets.synthetic.calibration import calibrated_rates
    seen = {"import": (len(calls), calibrated_rates.cache_info().currsize)}
    TRUE_EFFECTS["crlm_ablation_timing"]["os_hr_upfront_vs_delayed"]
    seen["first_use"] = (len(calls), calibrated_rates.cache_info().currsize)
    synthetic.synthetic_registry(20, seed=1)
    synthetic.synthetic_registry(20, seed=2)
    seen["two_registries"] = (len(calls), calibrated_rates.cache_info().currsize)
    print(json.dumps(seen))
""")


def test_import_does_not_calibrate_and_first_use_calibrates_once():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["import"] == [0, 0]                     # importing solved for nothing
    calls, cached = seen["first_use"]
    assert calls > 0 and cached == 1                    # the first look into TRUE_EFFECTS calibrated
    assert seen["two_registries"] == [calls, 1]         # and the registries reused the cached rates


def test_true_effects_is_read_only():
    with pytest.raises(TypeError):
        TRUE_EFFECTS["sarcoma_lung"] = {}
    with pytest.raises(TypeError):
        TRUE_EFFECTS["sarcoma_lung"]["os_hr"]["lesion_gt_2cm"] = 1.0
    with pytest.raises(TypeError):
        TRUE_EFFECTS["crlm_ablation_timing"]["os_hr_upfront_vs_delayed"] = 1.0
    assert TRUE_EFFECTS["sarcoma_lung"]["os_hr"]["lesion_gt_2cm"] == 5.6


def test_true_effects_mapping_matches_accessor_and_calibrated_rates():
    assert dict(TRUE_EFFECTS) == dict(true_effects())
    assert set(TRUE_EFFECTS) == {"salvage_after_sabr", "crlm_early_recurrence", "crlm_ablation_timing", "sarcoma_lung"}
    cal = calibrated_rates()
    abl = TRUE_EFFECTS["crlm_ablation_timing"]
    assert abl["os_hr_upfront_vs_delayed"] == pytest.approx(cal["upfront"][0] / cal["delayed"][0], abs=5e-4)
    assert abl["dfs_hr_upfront_vs_delayed"] == pytest.approx(sum(cal["upfront"]) / sum(cal["delayed"]), abs=5e-4)
