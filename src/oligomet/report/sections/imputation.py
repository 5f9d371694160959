"""Multiple imputation of a Cox model's covariates (``analyses.cox.missing``): the sentence saying how the
multivariable model was fitted, added to each Cox section, and the methods sentence."""
from __future__ import annotations

from ..document import StudyResults, TextItem


def with_imputation(build):
    """``build`` (the Cox section builder), then the imputation's statements for endpoints that were imputed."""
    def build_with_imputation(doc: StudyResults, r) -> None:
        build(doc, r)
        build_imputation(doc, r)
    return build_with_imputation


def describe(imp: dict) -> str:
    vars_ = "; ".join(f"{n}: {v['n_missing']} missing, {v['method']}" for n, v in imp["imputed"].items())
    return (f"The multivariable model was fitted on {imp['m']} datasets completed by multiple imputation by chained "
            f"equations (seed {imp['seed']}, {imp['maxit']} iterations; {vars_ or 'nothing was missing'}) and "
            f"pooled by Rubin's rules; the univariable models use complete cases.")


def build_imputation(doc: StudyResults, r) -> None:
    imputed = [e for e in r.endpoints if e.imputation is not None]
    for e in imputed:
        doc.section(f"cox_{e.name}", f"{e.title}: Cox regression").items.append(TextItem(describe(e.imputation),
                                                                                          kind="note"))
    if imputed:
        m = imputed[0].imputation["m"]
        doc.methods.append(
            f"Missing covariate values were handled by multiple imputation by chained equations (m = {m} imputed "
            f"datasets; predictive mean matching for continuous and logistic or polytomous regression for categorical "
            f"variables, with the event indicator and the Nelson–Aalen cumulative hazard as predictors, White & "
            f"Royston 2009); the multivariable Cox estimates were pooled with Rubin's rules.")
