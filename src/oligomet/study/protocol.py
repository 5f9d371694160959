"""Study protocol: one TOML or YAML file, validated with pydantic v2.

Every validation error names the field (dotted path), the line in the file, what is wrong
and, where the field takes a fixed set of values, the allowed values. Checks that need the
data (unknown column, empty cohort, a group with no patients, an endpoint that cannot be
derived) happen in the runner and point back to the same lines (:meth:`Protocol.line_of`).

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

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from .._yaml import nearest_line, pretty_loc, yaml_lines, yaml_loader, yaml_refusals
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_BYTES = 1_000_000   # a protocol is a page of settings; a larger file is a mistake or an attack
MAX_NESTING = 50        # sections/lists/tables inside each other; Python's parsers recurse per level
MAX_YAML_NODES = 20_000  # a protocol has a few hundred values; a million take PyYAML minutes
ORIGIN_TYPES = ("index_treatment", "metastasis_diagnosis", "mdt_decision", "first_recurrence")
OPERATORS = ("equals", "not_equals", "in", "not_in", "min", "max", "lt", "gt", "missing", "expr")


class ProtocolError(ValueError):
    """A protocol problem: ``problems`` is a list of (field path, line or None, message)."""

    def __init__(self, path: str | Path | None, problems: list[tuple[str, int | None, str]]):
        self.path = str(path) if path is not None else "<protocol>"
        self.problems = problems
        lines = [f"{self.path}:{line if line is not None else '?'}: {field}: {msg}" for field, line, msg in problems]
        super().__init__(f"invalid protocol ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n" +
                         "\n".join(lines))


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
    data_lock: str | None = Field(None, description="ISO date; events after it are ignored")

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("synthetic", "folder", "workbook", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one data source; allowed: synthetic, folder, workbook, url "
                             f"(got {', '.join(given) or 'none'})")
        return self


class Origin(_Model):
    type: Literal["index_treatment", "metastasis_diagnosis", "mdt_decision", "first_recurrence"] = "index_treatment"
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
    """A cohort criterion: a condition with a ``label`` (shown in the STROBE flow)."""

    label: str | None = None


class Cohort(_Model):
    source_label: str = "Patients in the registry"
    include: list[Criterion] = []
    exclude: list[Criterion] = []


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


class KMAnalysis(AnalysisOptions):
    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"

    endpoints: list[str] = []
    landmarks: list[Annotated[float, Field(ge=0)]] = []
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = []
    by_group: bool = True
    conf_type: Literal["log", "log-log", "plain", "logit", "arcsin"] = "log"
    max_time: Annotated[float, Field(gt=0)] | None = None  # x-axis end of the curves (numbers use all data)


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
    ties: Literal["efron", "breslow"] = "efron"
    ph_check: bool = True
    ph_transform: Literal["km", "rank", "identity"] = "km"
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
    order: Literal["largest", "smallest", "random", "data"] = "largest"
    link: Literal["logit", "linear.logit"] = "logit"
    exact: list[str] = []
    estimand: Literal["ATE", "ATT", "ATO"] = "ATE"
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
    likelihood-ratio test of the exposure × subgroup interaction in Cox."""

    endpoint_fields = ("endpoints",)
    endpoint_kind = "survival"
    covariate_fields = {"covariates": ()}
    needs_exposure = True

    name: str
    column: str | None = None
    where: list[Condition] | None = None
    endpoints: list[str] = []
    covariates: list[str] = []

    @model_validator(mode="after")
    def _one(self):
        if (self.column is None) == (self.where is None):
            raise ValueError("a subgroup takes exactly one of 'column' (its levels) or 'where' (in vs out)")
        return self


class CIFAnalysis(AnalysisOptions):
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

    def problems(self, p: "Protocol", loc: tuple) -> list[tuple[tuple, str]]:
        if self.fine_gray and not self.covariates and p.exposure is None:
            return [(loc + ("fine_gray",), "a Fine–Gray model needs covariates or an [exposure]")]
        return []


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
        return _nearest_line(self._lines, tuple(path))

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


# --- loading ------------------------------------------------------------------------------------

# The YAML helpers are shared with the site mapping files (registry/mapping.py): one home, _yaml.py.
_nearest_line = nearest_line
_yaml_loader = yaml_loader
_yaml_lines = yaml_lines


def _yaml_refusals(text: str) -> list[tuple[str, int | None, str]]:
    return yaml_refusals(text, "protocol", MAX_YAML_NODES, MAX_NESTING)


def _nesting(data) -> int:
    """Depth of nested dicts/lists, without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack and deepest <= MAX_NESTING:
        node, d = stack.pop()
        deepest = max(deepest, d)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, d + 1) for c in children)
    return deepest


def _deep_dotted_key(text: str) -> int | None:
    """The first line whose key has more than MAX_NESTING dotted parts: tomllib takes quadratic time
    in their number (a 100 kB key takes minutes), so such a file is refused before parsing."""
    for no, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].count(".") > MAX_NESTING:
            return no
    return None


def _too_deep(text: str, path) -> ProtocolError:
    """Nesting beyond MAX_NESTING, located at the first line that opens that many inline arrays/tables
    or holds that many dotted keys (brackets inside strings may shift it, which only moves the pointer)."""
    depth, at = 0, None
    for no, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].count(".") > MAX_NESTING:
            at = no
        for ch in line:
            depth += (ch in "[{") - (ch in "]}")
            at = at or (no if depth > MAX_NESTING else None)
        if at:
            break
    return ProtocolError(path, [("(syntax)", at, f"nested more than {MAX_NESTING} levels deep")])


_TOML_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_TOML_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _toml_key_parts(raw: str) -> tuple:
    parts = []
    for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', raw):
        parts.append(p.strip("\"'"))
    return tuple(parts)


def _toml_lines(text: str) -> dict:
    """Map key paths to line numbers by scanning the text (tomllib keeps no positions).

    Handles ``[table]``, ``[[array.of.tables]]`` (with running indices), dotted keys and the
    first line of inline tables/arrays; a path inside an inline value maps to its key's line.
    """
    out: dict = {(): 1}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    depth = 0  # bracket depth of a multi-line array value: its lines hold no keys
    for no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if depth > 0:
            depth += stripped.count("[") - stripped.count("]")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        m = _TOML_HEADER.match(line)
        if m and "=" not in stripped.split("]")[0]:
            keys = _toml_key_parts(m.group(2))
            if m.group(1) == "[[":
                # index among earlier [[same]] headers under the same parent instance
                parent = _resolve(keys[:-1], counters)
                base = parent + (keys[-1],)
                i = counters.get(base, -1) + 1
                counters[base] = i  # nested arrays resolve through this index, so no reset is needed
                current = base + (i,)
                out.setdefault(base, no)
            else:
                current = _resolve(keys, counters)
            out[current] = no
            continue
        m = _TOML_KEY.match(line)
        if m:
            keys = _toml_key_parts(m.group(1))
            for j in range(1, len(keys) + 1):
                out.setdefault(current + keys[:j], no)
            out[current + keys] = no
            value = line[m.end():]
            value = value.split("#")[0] if '"' not in value and "'" not in value else value
            depth = max(0, value.count("[") - value.count("]"))
    return out


def _resolve(keys: tuple, counters: dict) -> tuple:
    """Insert the current array-of-tables index after every key that names one."""
    path: tuple = ()
    for k in keys:
        path = path + (k,)
        if path in counters:
            path = path + (counters[path],)
    return path


_pretty_loc = pretty_loc


def _field_names(loc: tuple) -> list[str]:
    """The field names allowed at ``loc``'s parent, for unknown-field errors."""
    model: Any = Protocol
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        info = next((f for n, f in fields.items() if n == part or f.alias == part), None)
        if info is None:
            return []
        model = _inner_model(info.annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def _inner_model(tp):
    import typing

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def from_mapping(data: dict, *, lines: dict | None = None, path: str | Path | None = None,
                 text: str = "") -> Protocol:
    """Validate a parsed protocol (a dict); errors carry field paths and line numbers."""
    lines = lines or {}
    try:
        proto = Protocol.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            # pydantic reports union/literal branches in loc; drop the branch tags
            loc = tuple(p for p in loc if p not in ("str", "int", "float", "list[str]", "dict[str,str]"))
            if err["type"] == "extra_forbidden":
                allowed = _field_names(loc)
                msg = f"unknown field {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
            elif err["type"] == "literal_error":
                msg = f"{err.get('input')!r} is not allowed; allowed: {err['ctx']['expected']}"
            else:
                msg = err["msg"].removeprefix("Value error, ")
            problems.append((_pretty_loc(loc), _nearest_line(lines, loc), msg))
        raise ProtocolError(path, problems) from None
    refs = _reference_problems(proto)
    if refs:
        raise ProtocolError(path, [(_pretty_loc(loc), _nearest_line(lines, loc), msg) for loc, msg in refs])
    proto._lines = lines
    proto._source_path = str(path) if path is not None else None
    proto._text_hash = hashlib.sha256(text.encode()).hexdigest() if text else \
        hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
    return proto


def loads(text: str, fmt: Literal["toml", "yaml"], *, path: str | Path | None = None) -> Protocol:
    """Parse and validate protocol text."""
    if len(text) > MAX_BYTES:
        raise ProtocolError(path, [("(file)", None, f"the protocol is {len(text):,} characters long; "
                                                    f"at most {MAX_BYTES:,} are allowed")])
    if fmt == "toml":
        import tomllib

        if _deep_dotted_key(text):
            raise _too_deep(text, path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ProtocolError(path, [("(syntax)", int(m.group(1)) if m else None, f"TOML syntax error: {exc}")]
                                ) from None
        except RecursionError:   # tomllib recurses once per nested inline array/table
            raise _too_deep(text, path) from None
        if _nesting(data) > MAX_NESTING:
            raise _too_deep(text, path)
        lines = _toml_lines(text)
    elif fmt == "yaml":
        import yaml

        try:
            refused = _yaml_refusals(text)
            if refused:
                raise ProtocolError(path, refused)
            lines, duplicates = _yaml_lines(text)
            if duplicates:
                raise ProtocolError(path, duplicates)
            data = yaml.load(text, Loader=_yaml_loader())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ProtocolError(path, [("(syntax)", mark.line + 1 if mark else None, f"YAML syntax error: {exc}")]
                                ) from None
        if not isinstance(data, dict):
            raise ProtocolError(path, [("(top level)", 1, "a protocol must be a mapping of fields")])
    else:
        raise ValueError(f"unknown protocol format {fmt!r}; allowed: toml, yaml")
    return from_mapping(data, lines=lines, path=path, text=text)


def load(path: str | Path) -> Protocol:
    """Read a protocol file (``.toml``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(path, [("(file)", None, "no such file")])
    if path.stat().st_size > MAX_BYTES:   # before reading it into memory
        raise ProtocolError(path, [("(file)", None, f"the file is {path.stat().st_size:,} bytes; a protocol "
                                                    f"is at most {MAX_BYTES:,} bytes")])
    suffix = path.suffix.lower()
    fmt = {"toml": "toml", "yaml": "yaml", "yml": "yaml"}.get(suffix.lstrip("."))
    if fmt is None:
        raise ProtocolError(path, [("(file)", None, f"unknown protocol format {suffix!r}; allowed: .toml, .yaml, .yml")])
    return loads(path.read_text(encoding="utf-8"), fmt, path=path)
