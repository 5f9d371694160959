"""The demo sheets cover every cell of Table 4 and each study's suggestion."""
import json

from oligomet.board.demo import write_demo_sheets
from oligomet.datasets.synthetic import synthetic_registry


def test_demo_sheets_cover_table4_and_the_studies(tmp_path):
    entries = write_demo_sheets(synthetic_registry(2500, seed=20240601), tmp_path)
    fired = {}
    for e in entries:
        doc = json.loads((tmp_path / e["href"]).with_name("case.json").read_text())
        fired[e["href"].split("/")[0]] = {p["rule"] for p in doc["rules"]["path"]}
    assert fired["t4-both-curable"] >= {"T4-both-curable", "T4-fn1-equal-difficulty", "T4-fn3-neoadjuvant-length",
                                        "T4-fn4-regimen-factors"}
    assert fired["t4-lung-curable-liver-incurable"] >= {"T4-lung-curable-liver-incurable",
                                                        "T4-fn2-lung-not-resectable"}
    assert "T4-lung-incurable-liver-curable" in fired["t4-lung-incurable-liver-curable"]
    assert "T4-both-incurable" in fired["t4-both-incurable"]
    assert "CRLM-ER-4-to-12m" in fired["crlm-early-recurrence"]
    assert "CRLM-ABL-upfront" in fired["crlm-ablation"]
    assert "LUNG-SALVAGE-after-SABR" in fired["lung-salvage"]
    assert "STS-LUNG-over-2cm" in fired["sarcoma-over-2cm"]
    index = (tmp_path / "index.html").read_text()
    assert all(e["href"] in index for e in entries)
