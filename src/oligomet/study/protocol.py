"""Study protocol: one TOML or YAML file, validated with pydantic v2.

Every validation error names the field (dotted path), the line in the file, what is wrong
and, where the field takes a fixed set of values, the allowed values. Checks that need the
data (unknown column, empty cohort, a group with no patients, an endpoint that cannot be
derived) happen in the runner and point back to the same lines (:meth:`Protocol.line_of`). Reading the file
(limits, TOML/YAML positions, the error format) is :mod:`oligomet.study.protocol_source`.

The schema, top to bottom (see ``docs/study.md`` and ``examples/`` for complete files):

* ``title``, ``name`` (file stem of the report), ``seed``, ``time_unit`` (``months``/``days``)
* ``[data]``: ``synthetic = {n_patients, seed}``, or ``folder``, ``workbook``, or ``url``
* ``[origin]``: how ``derive_endpoints`` sets time zero (``type``, ``index_modalities``, ...)
* ``[[derive]]``: new analysis columns from expressions (``name``, ``expr``, ``label``)
* ``[cohort]``: ``include`` / ``exclude`` criteria, applied in order (the STROBE flow)
* ``[exposure]``: named groups, each a list of conditions; the first group is the reference
* ``[[endpoints]]``: ``name``, ``label``, ``time``/``event`` columns, ``kind`` (survival/competing)
* ``[[covariates]]``: ``column``, ``label``, ``type`` (continuous/categorical/binary)
* ``[analyses]``: ``km``, ``logrank``, ``cox``, ``propensity``, ``rmst``, ``landmark``, ``time_varying``,
  ``subgroups``, ``cif``,
  ``complications``, ``followup``, ``paired``, ``table_one``
* ``[checks]``: thresholds of the report's checks (balance, PH, complete cases, events per
  parameter, group size, effective sample size, propensity overlap)
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._validation import TIES
from .._yaml import nearest_line
from ..endpoints.origin import ORIGINS
from ..matching.distance import LINKS
from ..matching.nearest import ORDERS
from ..matching.weighting import ESTIMANDS
from ..survival._km_core import CONF_TYPES
from ..survival.zph import TRANSFORMS

# The closed vocabularies live with the code that gives them meaning; the protocol offers the same words.
REPORTED_CONF_TYPES = tuple(t for t in CONF_TYPES if t != "none")   # a report always shows its CIs
OPERATORS = ("equals", "not_equals", "in", "not_in", "min", "max", "lt", "gt", "missing", "expr")


class _Model(BaseModel):
    # Unknown fields are errors: a typo in a protocol must never be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=False)


class SyntheticSource(_Model):
    n_patients: Annotated[int, Field(gt=0, le=2_000_000)] = 3000
    seed: int = 20240601
    n_sites: Annotated[int, Field(gt=0, le=50)] = 7


class DataSource(_Model):
    """Exactly one of: ``synthetic``, ``folder`` (CSV per table), ``workbook`` (.xlsx), ``url`` (database)."""

    synthetic: SyntheticSource | None = None
    folder: str | None = None
    workbook: str | None = None
    url: str | None = None
    # the order of day-month dates in a folder/workbook (and in data_lock), as `registry validate --date-format`
    date_format: str | None = None
    # a censoring date: records after it are ignored, follow-up is censored at it (docs/endpoints.md)
    data_lock: str | None = None

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, v):
        from ..registry.parse import check_date_format

        check_date_format(v)
        return v

    @field_validator("data_lock", mode="before")
    @classmethod
    def _iso_lock(cls, v, info):
        """TOML/YAML dates (``data_lock = 2024-12-31``) and ISO text, or text in ``date_format``; kept as
        ISO text. ``01-02-2020`` without a declared format is an error, never read month first."""
        from .._validation import lock_date

        if v is None:
            return None
        lock = lock_date(v, date_format=info.data.get("date_format"),
                         declare="declare its format with [data] date_format (e.g. date_format = \"DD-MM-YYYY\")")
        return lock.date().isoformat()

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("synthetic", "folder", "workbook", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one data source; allowed: synthetic, folder, workbook, url "
                             f"(got {', '.join(given) or 'none'})")
        return self


class Origin(_Model):
    type: Literal[ORIGINS] = "index_treatment"
    index_modalities: list[str] | None = None
    index_intents: list[str] | None = None

    @field_validator("index_modalities", "index_intents")
    @classmethod
    def _codes(cls, v, info):
        from ..registry.fields import INTENT, MODALITY

        allowed = MODALITY if info.field_name == "index_modalities" else INTENT
        bad = [x for x in v or [] if x not in allowed]
        if bad:
            raise ValueError(f"unknown value {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}")
        return v


def _checked_expression(v: str | None) -> str | None:
    """Refuse, while validating the file, an expression outside the language of :mod:`oligomet.expressions`."""
    if v is not None:
        from ..expressions import parse_expression

        parse_expression(v)   # its ExpressionError (a ValueError) names the token; the loader adds file and line
    return v


class Derived(_Model):
    """A new analysis column: ``expr`` is an expression over analysis columns (``oligomet.expressions``)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    expr: str
    label: str | None = None

    _expr = field_validator("expr")(_checked_expression)


class Condition(_Model):
    """One condition on an analysis column. Give ``column`` and exactly one operator, or only ``expr``.

    Operators: ``equals``, ``not_equals``, ``in``, ``not_in``, ``min`` (>=), ``max`` (<=), ``lt``, ``gt``,
    ``missing`` (true/false), ``expr`` (an expression of ``oligomet.expressions`` giving true/false).
    """

    column: str | None = None
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    min: Any = None
    max: Any = None
    lt: Any = None
    gt: Any = None
    missing: bool | None = None
    expr: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    _expr = field_validator("expr")(_checked_expression)

    @model_validator(mode="after")
    def _one_operator(self):
        ops = [op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None]
        if self.expr is not None:
            if self.column is not None or len(ops) != 1:
                raise ValueError("a condition with 'expr' takes no 'column' and no other operator")
            return self
        if self.column is None:
            raise ValueError(f"a condition needs 'column' and one operator ({', '.join(OPERATORS)})")
        if len(ops) != 1:
            raise ValueError(f"a condition takes exactly one operator; allowed: {', '.join(OPERATORS)} "
                             f"(got {', '.join(ops) or 'none'})")
        return self

    @property
    def operator(self) -> str:
        return next(op for op in OPERATORS if getattr(self, "in_" if op == "in" else op) is not None)

    @property
    def value(self):
        op = self.operator
        return getattr(self, "in_" if op == "in" else op)

    def describe(self) -> str:
        if self.expr is not None:
            return self.expr
        op, v = self.operator, self.value
        words = {"equals": "=", "not_equals": "≠", "in": "in", "not_in": "not in", "min": "≥", "max": "≤",
                 "lt": "<", "gt": ">"}
        if op == "missing":
            return f"{self.column} is {'missing' if v else 'known'}"
        if isinstance(v, list):
            v = ", ".join(map(str, v))
        return f"{self.column} {words[op]} {v}"


class Criterion(Condition):
    """A cohort criterion: a condition with a ``label`` (shown in the STROBE flow). ``missing_is``: what a
    missing value means for the flow diagram: ``"unknown"`` (the value was not recorded; counted apart from
    "criterion not met") or ``"not_met"`` (the attribute does not apply, e.g. the index modality of a patient
    who had no local treatment)."""

    label: str | None = None
    missing_is: Literal["unknown", "not_met"] = "unknown"


class Cohort(_Model):
    source_label: str = "Patients in the registry"
    include: list[Criterion] = []
    exclude: list[Criterion] = []
    drop_zero_steps: bool = False   # the flow diagram leaves out criteria that excluded nobody (the table keeps them)


class Group(_Model):
    name: str
    where: list[Condition] = Field(min_length=1)


class Exposure(_Model):
    label: str = "Group"
    groups: list[Group] = Field(min_length=2)

    @field_validator("groups")
    @classmethod
    def _unique(cls, v):
        names = [g.name for g in v]
        if len(set(names)) != len(names):
            raise ValueError(f"group names must be unique, got {names}")
        return v


class Endpoint(_Model):
    """``time``/``event`` default to ``<name>_time``/``<name>_event`` in the endpoint frame."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    label: str | None = None
    time: str | None = None
    event: str | None = None
    kind: Literal["survival", "competing"] = "survival"
    cause_labels: dict[str, str] = {}
    landmarks: list[Annotated[float, Field(ge=0)]] | None = None  # overrides the analysis' landmarks
    ylabel: str | None = None  # y-axis label of its curves (default "Survival probability")

    @property
    def time_col(self) -> str:
        return self.time or f"{self.name}_time"

    @property
    def event_col(self) -> str:
        return self.event or f"{self.name}_event"

    @property
    def title(self) -> str:
        return self.label or self.name.upper()


class Covariate(_Model):
    column: str
    label: str | None = None
    type: Literal["continuous", "categorical", "binary"] = "continuous"
    reference: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.column


class AnalysisOptions(_Model):
    """The options of one analysis. Each declares what the generic protocol checks need, so that
    :func:`_reference_problems` has no per-analysis code:

    * ``endpoint_fields``: fields naming declared endpoints (a list, or one name);
    * ``endpoint_kind``: the endpoint kind those must have (``"survival"``, ``"competing"``, or None: any);
    * ``covariate_fields``: fields naming declared covariates, each with the extra names it allows;
    * ``needs_exposure``: the analysis compares exposure groups;
    * :meth:`problems`: checks of its own (location relative to the protocol, message).
    """

    endpoint_fields: ClassVar[tuple[str, ...]] = ()
    endpoint_kind: ClassVar[str | None] = None
    covariate_fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    needs_exposure: ClassVar[bool] = False

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        return []


Palette = Literal["default", "okabe_ito", "grayscale"]   # report.figures._palettes.PALETTES (a test keeps them equal)


class CurveFigure(AnalysisOptions):
    """How curves are drawn (the numbers do not change): ``percent`` y ticks 0–100%, ``break_every``
    an x tick every so many time units (e.g. 12 months), ``palette`` one of the named palettes."""

    percent: bool = False
    break_every: Annotated[float, Field(gt=0)] | None = None
    palette: Palette = "default"


class KMAnalysis(CurveFigure):
    """``annotate`` writes a number into each curve panel, taken from the analysis that computed it:
    ``"logrank"`` the log-rank p of ``[analyses.logrank]``, ``"hr"`` the exposure HR (95% CI) of the
    multivariable model of ``[analyses.cox]``; both need the curves by group and that analysis of the endpoint."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"

    endpoints: list[str] = []
    landmarks: list[Annotated[float, Field(ge=0)]] = []
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = []
    by_group: bool = True
    conf_type: Literal[REPORTED_CONF_TYPES] = "log"
    max_time: Annotated[float, Field(gt=0)] | None = None  # x-axis end of the curves (numbers use all data)
    annotate: Literal["none", "logrank", "hr"] = "none"

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        if self.annotate == "none":
            return []
        at = loc + ("annotate",)
        source = {"logrank": p.analyses.logrank, "hr": p.analyses.cox}[self.annotate]
        table = "logrank" if self.annotate == "logrank" else "cox"
        if p.exposure is None or not self.by_group:
            return [(at, f"annotate = {self.annotate!r} compares exposure groups: it needs an [exposure] "
                         f"and by_group = true")]
        if source is None:
            return [(at, f"annotate = {self.annotate!r} shows the result of [analyses.{table}]: add that "
                         f"analysis, or set annotate = \"none\"")]
        missing = [e for e in self.endpoints if e not in source.endpoints]
        if missing:
            return [(at, f"annotate = {self.annotate!r}: [analyses.{table}] does not analyse "
                         f"{', '.join(map(repr, missing))}; add it to its endpoints")]
        return []


class LogrankAnalysis(AnalysisOptions):
    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    needs_exposure = True

    endpoints: list[str] = []
    rho: Annotated[float, Field(ge=0)] = 0.0


class Imputation(_Model):
    """``missing = { impute = 20, seed = 1 }``: multiple imputation by chained equations (``om.impute``,
    with the event and the Nelson–Aalen cumulative hazard as predictors) of the multivariable model's
    variables, the model pooled over the ``impute`` completed datasets by Rubin's rules (``om.pool_cox``)."""

    impute: Annotated[int, Field(ge=2, le=500)]
    seed: Annotated[int, Field(ge=0)] | None = None   # None: the protocol's seed
    maxit: Annotated[int, Field(ge=1, le=100)] = 10


class CoxAnalysis(AnalysisOptions):
    """``strata``: declared covariates (e.g. the centre) with a baseline hazard of their own in every model
    (R's ``strata()``); ``cluster``: a declared covariate whose levels are clusters (R's ``cluster()``: the
    robust sandwich SE grouped by centre). Neither may also be a covariate of the model."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": (), "fixed": ("exposure",), "strata": ()}

    endpoints: list[str] = []
    covariates: list[str] = []
    include_exposure: bool = True
    selection: Literal["p_value", "fixed", "all"] = "p_value"
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.10
    fixed: list[str] = []
    ties: Literal[TIES] = "efron"
    ph_check: bool = True
    ph_transform: Literal[TRANSFORMS] = "km"
    missing: Literal["complete_case"] | Imputation = "complete_case"
    strata: list[str] = []
    cluster: str | None = None

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        out = []
        model = set(self.covariates) | set(self.fixed)
        for i, col in enumerate(self.strata):
            if col in model:
                out.append((loc + ("strata", i), f"{col!r} is both a stratum and a covariate of the model; a "
                                                  f"stratified Cox model has no coefficient for its strata, so "
                                                  f"list it in one of the two"))
        if self.cluster is not None and self.cluster not in {c.column for c in p.covariates}:
            out.append((loc + ("cluster",), f"unknown covariate {self.cluster!r}; declared covariates: "
                                            f"{', '.join(sorted(c.column for c in p.covariates)) or 'none'}"))
        if self.missing != "complete_case":
            for name in ("strata", "cluster"):
                if getattr(self, name):
                    out.append((loc + (name,), f"{name!r} is not combined with multiple imputation (the imputed "
                                               f"datasets hold the model's variables only); drop {name!r} or use "
                                               f"missing = \"complete_case\""))
        return out


class RMSTAnalysis(AnalysisOptions):
    """Restricted mean survival time up to ``tau`` per exposure group, with the difference and ratio
    (survRM2's ``rmst2``); IPTW-weighted when ``[analyses.propensity]`` has ``method = "weight"``."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"

    endpoints: list[str] = Field(min_length=1)
    tau: Annotated[float, Field(gt=0)]
    by_group: bool = True
    adjusted: bool = True    # use the propensity weights when the protocol weights


class LandmarkAnalysis(AnalysisOptions):
    """Landmark analysis: patients alive and event-free at ``at``, exposed when ``exposure_time`` (time
    from the origin, in the protocol's unit; missing = never) is at or before ``at``; KM and Cox from ``at``."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": ()}

    endpoints: list[str] = Field(min_length=1)
    at: Annotated[float, Field(gt=0)]
    exposure_time: str
    label: str = "Exposed by the landmark"
    covariates: list[str] = []


class TimeVaryingAnalysis(AnalysisOptions):
    """Cox model with a time-varying exposure: 0 until ``exposure_time`` (time from the origin; missing =
    never), 1 after (``om.time_dependent``, R's ``tmerge``/``tdc``), robust SE clustered on the patient."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": ()}

    endpoints: list[str] = Field(min_length=1)
    exposure_time: str
    label: str = "Time-varying exposure"
    covariates: list[str] = []


class PropensityAnalysis(AnalysisOptions):
    """Matching (``om.match``: ``caliper``, ``ratio``, ``replace``, ``order``, ``link``, ``exact``) or weighting
    (``om.weight``: ``estimand``, ``stabilize``, ``trim``). ``link = "linear.logit"`` matches on the logit of
    the score, so ``caliper = 0.2`` is Austin's 0.2 SD of the logit; ``exact`` lists declared covariates
    within whose levels pairs are formed (e.g. the centre)."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": (), "exact": ()}
    needs_exposure = True

    method: Literal["match", "weight"] = "match"
    covariates: list[str] = Field(min_length=1)
    caliper: Annotated[float, Field(gt=0)] | None = 0.2
    ratio: Annotated[int, Field(ge=1, le=10)] = 1
    replace: bool = False
    order: Literal[ORDERS] = "largest"
    link: Literal[LINKS] = "logit"
    exact: list[str] = []
    estimand: Literal[ESTIMANDS] = "ATE"
    stabilize: bool = False
    trim: Annotated[float, Field(gt=0.5)] | None = None   # a quantile in (0.5, 1) or an absolute cap >= 1
    endpoints: list[str] = []
    landmarks: list[Annotated[float, Field(ge=0)]] = []
    max_time: Annotated[float, Field(gt=0)] | None = None  # x-axis end of the curves

    # options that only one method reads: given with the other, they would be silently ignored (caliper,
    # ratio, replace and order predate this check and stay accepted with either method)
    _MATCH_ONLY: ClassVar[tuple[str, ...]] = ("link", "exact")
    _WEIGHT_ONLY: ClassVar[tuple[str, ...]] = ("stabilize", "trim")

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        out = []
        if p.exposure is not None and len(p.exposure.groups) != 2:
            out.append((("exposure", "groups"), "propensity-score matching/weighting needs exactly 2 groups"))
        other = "weight" if self.method == "match" else "match"
        for name in self._WEIGHT_ONLY if self.method == "match" else self._MATCH_ONLY:
            if name in self.model_fields_set:
                out.append((loc + (name,), f"{name!r} is an option of method = {other!r}; this protocol has "
                                           f"method = {self.method!r}"))
        if self.method == "weight" and self.stabilize and self.estimand != "ATE":
            out.append((loc + ("stabilize",), f"stabilize = true is defined for estimand = 'ATE' only (got "
                                              f"{self.estimand!r}): ATT and overlap weights need no stabilisation"))
        return out


class Subgroup(AnalysisOptions):
    """Effect of the exposure within the levels of ``column`` (or of a ``where`` split), with the
    likelihood-ratio test of the exposure × subgroup interaction in Cox.

    ``cuts`` splits a count or continuous ``column`` at declared points, each level closed on the left:
    ``cuts = [2]`` gives ``< 2`` and ``≥ 2``; ``labels`` names the levels in order ("1 lesion", "≥ 2 lesions").
    ``name`` defaults to the column's covariate label (or the column)."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": ()}
    needs_exposure = True

    name: str | None = None
    column: str | None = None
    cuts: list[float] | None = Field(None, min_length=1)
    labels: list[str] | None = None
    where: list[Condition] | None = None
    endpoints: list[str] = []
    covariates: list[str] = []

    @model_validator(mode="after")
    def _one(self):
        if (self.column is None) == (self.where is None):
            raise ValueError("a subgroup takes exactly one of 'column' (its levels) or 'where' (in vs out)")
        if self.where is not None and self.name is None:
            raise ValueError("a subgroup with 'where' needs a 'name' (the heading of its rows)")
        if self.cuts is not None and self.column is None:
            raise ValueError("'cuts' splits a 'column'; a 'where' split has no cuts")
        if self.cuts is not None and any(b <= a for a, b in zip(self.cuts, self.cuts[1:])):
            raise ValueError(f"'cuts' must increase strictly, got {self.cuts}")
        if self.labels is not None:
            if self.cuts is None:
                raise ValueError("'labels' names the levels made by 'cuts'; give 'cuts' too")
            if len(self.labels) != len(self.cuts) + 1:
                raise ValueError(f"{len(self.cuts)} cut(s) make {len(self.cuts) + 1} levels; 'labels' has "
                                 f"{len(self.labels)}: {self.labels}")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError(f"'labels' must be different from each other, got {self.labels}")
        return self

    def level_labels(self) -> list[str]:
        """The labels of the levels ``cuts`` make, in order (the first is the reference of the interaction)."""
        c = [f"{x:g}" for x in self.cuts or []]
        return self.labels or ([f"< {c[0]}"] + [f"{a} to < {b}" for a, b in zip(c, c[1:])] + [f"≥ {c[-1]}"])


class CIFAnalysis(CurveFigure):
    """Cumulative incidence; with ``fine_gray``, a Fine–Gray model of cause 1 on the exposure
    (when there are groups) and ``covariates``. When ``[analyses.propensity]`` weights (``method =
    "weight"``) and ``adjusted`` (the default), both run in the weighted cohort by group (weighted
    Aalen–Johansen as R's survfit, Fine–Gray as finegray + weighted coxph; no Gray's test)."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "competing"
    covariate_fields = {"covariates": ()}

    endpoints: list[str] = []
    landmarks: list[Annotated[float, Field(ge=0)]] = []
    by_group: bool = True
    fine_gray: bool = False
    covariates: list[str] = []
    max_time: Annotated[float, Field(gt=0)] | None = None  # x-axis end of the curves
    adjusted: bool = True    # use the propensity weights when the protocol weights
    causes: list[Annotated[int, Field(ge=1)]] = []   # the causes drawn (e.g. [1]); empty: all. Tables keep all.

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        bad = []
        if self.fine_gray and not self.covariates and p.exposure is None:
            bad.append((loc + ("fine_gray",), "a Fine–Gray model needs covariates or an [exposure]"))
        if len(set(self.causes)) != len(self.causes):
            bad.append((loc + ("causes",), f"causes lists a cause twice: {self.causes}"))
        for name in self.endpoints:
            ep = next((e for e in p.endpoints if e.name == name), None)
            known = {int(k) for k in ep.cause_labels if str(k).isdigit()} if ep is not None else set()
            for i, c in enumerate(self.causes):
                if known and c not in known:
                    bad.append((loc + ("causes", i), f"endpoint {name!r} has no cause {c}; its causes: "
                                                     f"{', '.join(map(str, sorted(known)))}"))
        return bad


class ComplicationsAnalysis(AnalysisOptions):
    """Complications of the index procedure: columns of the endpoint frame holding the worst
    Clavien–Dindo grade, the CCI and 90-day mortality (names as ``derive_endpoints`` writes them)."""

    grade: str = "cd_worst"
    cci: str = "cci"
    mortality_90d: str = "mortality_90d"
    extra_binary: list[str] = []


class FollowupAnalysis(AnalysisOptions):
    endpoint_fields = ("endpoint",)

    endpoint: str = "os"


class PairedAnalysis(AnalysisOptions):
    name: str
    before: str
    after: str
    test: Literal["mcnemar", "wilcoxon"]
    label: str | None = None


class TableOneAnalysis(AnalysisOptions):
    covariate_fields = {"variables": ()}

    variables: list[str] = []


class BoardQualityAnalysis(AnalysisOptions):
    """The tumor board's decisions (``board_decisions``) joined to the cohort: concordance with the rules
    per site and ``period``, and OS from the decision by concordance (crude, and adjusted for ``adjust``).
    ``decisions``: the database holding the decisions; default the ``[data] url``."""

    covariate_fields = {"adjust": ()}

    decisions: str | None = None
    period: Literal["year", "month"] = "year"
    adjust: list[str] = []

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        if self.decisions is None and p.data.url is None:
            return [(loc + ("decisions",), "the board decisions live in a database: give its URL here "
                                           "(or read the registry from [data] url)")]
        return []


class Analyses(_Model):
    """One field per analysis of ``oligomet.study.catalogue.CATALOGUE`` (a test keeps the two in step):
    the options of a single analysis, or a list of them."""

    table_one: TableOneAnalysis | None = None
    km: KMAnalysis | None = None
    logrank: LogrankAnalysis | None = None
    cox: CoxAnalysis | None = None
    propensity: PropensityAnalysis | None = None
    rmst: RMSTAnalysis | None = None
    landmark: LandmarkAnalysis | None = None
    time_varying: TimeVaryingAnalysis | None = None
    subgroups: list[Subgroup] = []
    cif: CIFAnalysis | None = None
    complications: ComplicationsAnalysis | None = None
    followup: FollowupAnalysis | None = None
    paired: list[PairedAnalysis] = []
    board_quality: BoardQualityAnalysis | None = None


class Checks(_Model):
    """Thresholds of the report's checks (the "Checks" panel and the warnings in the results paragraph).
    The defaults are the usual ones; see docs/study.md."""

    max_abs_smd: Annotated[float, Field(gt=0)] = 0.1          # balance after matching/weighting (cobalt)
    ph_p: Annotated[float, Field(gt=0, lt=1)] = 0.05          # cox.zph p of the exposure below this: PH violated
    max_complete_case_loss: Annotated[float, Field(ge=0, le=1)] = 0.10   # share of eligible patients dropped
    min_events_per_parameter: Annotated[float, Field(ge=0)] = 10.0
    min_group_size: Annotated[int, Field(ge=0)] = 20
    min_ess_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5          # effective sample size / n, per group
    max_outside_overlap: Annotated[float, Field(ge=0, le=1)] = 0.05      # share outside the common PS support


class Protocol(_Model):
    title: str
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    seed: int = 20240601
    time_unit: Literal["months", "days"] = "months"
    data: DataSource
    origin: Origin = Origin()
    derive: list[Derived] = []
    cohort: Cohort = Cohort()
    exposure: Exposure | None = None
    endpoints: list[Endpoint] = Field(min_length=1)
    covariates: list[Covariate] = []
    analyses: Analyses = Analyses()
    checks: Checks = Checks()

    # Set by the loaders, not by the file.
    _source_path: str | None = None
    _lines: dict = {}
    _text_hash: str = ""

    # --- helpers -----------------------------------------------------------------------------
    def endpoint(self, name: str) -> Endpoint:
        return next(e for e in self.endpoints if e.name == name)

    def covariate(self, column: str) -> Covariate:
        for c in self.covariates:
            if c.column == column:
                return c
        return Covariate(column=column)

    def line_of(self, *path) -> int | None:
        """Line of a dotted field path in the source file (nearest enclosing field known)."""
        return nearest_line(self._lines, tuple(path))

    @property
    def hash(self) -> str:
        """SHA-256 of the protocol file's text (the report records it)."""
        return self._text_hash

    @property
    def source_path(self) -> str | None:
        return self._source_path


def _analysis_options(a: Analyses):
    """(field, options, location) of every analysis the protocol asks for, lists item by item."""
    for key in Analyses.model_fields:
        value = getattr(a, key)
        items = enumerate(value) if isinstance(value, list) else [(None, value)] if value is not None else []
        for i, opts in items:
            yield key, opts, ("analyses", key) + (() if i is None else (i,))


def _reference_problems(p: Protocol) -> list[tuple[tuple, str]]:
    """Names used in analyses must be declared endpoints / covariates, of the kind the analysis
    takes, with an exposure where it compares groups: (location, message) pairs. Driven by what
    each analysis' options declare (:class:`AnalysisOptions`), so no analysis is named here."""
    eps = {e.name for e in p.endpoints}
    covs = {c.column for c in p.covariates}
    kinds = {e.name: e.kind for e in p.endpoints}
    bad: list[tuple[tuple, str]] = []

    def check(names, declared, loc, kind):
        for i, n in enumerate(names):
            if n not in declared:
                bad.append((loc + (i,), f"unknown {kind} {n!r}; declared {kind}s: "
                                        f"{', '.join(sorted(declared)) or 'none'}"))

    no_exposure = set()
    for key, opts, loc in _analysis_options(p.analyses):
        for f in opts.endpoint_fields:
            value = getattr(opts, f)
            single = isinstance(value, str)
            names = [value] if single else value
            for i, n in enumerate(names):
                at = loc + (f,) + (() if single else (i,))
                if n not in eps:
                    bad.append((at, f"unknown endpoint {n!r}; declared endpoints: {', '.join(sorted(eps)) or 'none'}"))
                elif opts.endpoint_kind == "competing" and kinds[n] == "survival":
                    bad.append((at, f"{n!r} is a survival endpoint; a CIF needs an endpoint with kind = 'competing'"))
                elif opts.endpoint_kind == "survival" and kinds[n] == "competing":
                    bad.append((at, f"{n!r} is a competing-risks endpoint; analyse it under analyses.cif"))
        for f, also in opts.covariate_fields.items():
            check(getattr(opts, f), covs | set(also), loc + (f,), "covariate")
        if opts.needs_exposure and p.exposure is None and key not in no_exposure:
            no_exposure.add(key)   # once per analysis, also for a list of them
            bad.append((("analyses", key), "needs an [exposure] section with groups"))
        bad += opts.problems(p, loc)
    names = [e.name for e in p.endpoints]
    for i, n in enumerate(names):
        if names.index(n) != i:
            bad.append((("endpoints", i, "name"), f"duplicate endpoint name {n!r}"))
    return bad
