# R reference values for oligomet.match (tests/matching/).
#
# Run from the repository root, with MatchIt 4.7.2 in a private library (Debian's MatchIt 4.5.1 has
# the nearest-neighbour bugs below; ../shared/tools/install_current_matchit.sh builds 4.7.2):
#   MATCHIT_LIB=/path/to/lib Rscript tests/reference/matching/make_matching_fixtures.R
#
# MatchIt 4.5.0-4.5.3 builds have two bugs in their C++ nn_matchC_vec, both fixed in 4.5.4:
#   * MatchIt issue #163: the C integer abs() is applied to distance differences, so a
#     caliper on the propensity score never binds and ties go to the lower control;
#   * replace = TRUE with ratio > 1 looks up already-used controls off by one (NEWS 4.5.2.9000).
# The script checks the caliper is respected and stops otherwise.
# The "bug451" cases pin oligomet's compat = "matchit-4.5.1" mode. They were generated once with the
# stock 4.5.1 build and are carried over unchanged from the previous fixture file (never regenerate
# them with a buggy install on purpose).
suppressPackageStartupMessages({library(jsonlite); library(survival)})
out_dir <- "tests/reference/matching"
fixed_lib <- Sys.getenv("MATCHIT_LIB", "/tmp/rlib_matchit")

load_matchit <- function(lib) {
  if ("MatchIt" %in% loadedNamespaces()) unloadNamespace("MatchIt")
  if (is.null(lib)) library(MatchIt) else library(MatchIt, lib.loc = lib)
}

# ---- data sets --------------------------------------------------------------------------
colon_d <- subset(colon, etype == 2 & rx != "Lev")
colon_d$treated <- as.integer(colon_d$rx == "Lev+5FU")
colon_cov <- c("age", "sex", "obstruct", "perfor", "adhere", "nodes", "differ", "extent", "surg")
colon_d <- colon_d[complete.cases(colon_d[, c("treated", colon_cov)]), c("treated", colon_cov, "time", "status")]
rownames(colon_d) <- NULL

lung_d <- lung
lung_d$female <- as.integer(lung_d$sex == 2)
lung_cov <- c("age", "ph.ecog", "ph.karno", "wt.loss")
lung_d <- lung_d[complete.cases(lung_d[, c("female", lung_cov)]), c("female", lung_cov)]
# ph.ecog 3 has one patient; MatchIt 4.5.1 fails on an exact stratum without treated units
lung_d <- lung_d[lung_d$ph.ecog < 3, ]
lung_d$ph.ecog <- factor(lung_d$ph.ecog)
rownames(lung_d) <- NULL

# many exactly tied propensity scores: tests MatchIt's tie rule (data order)
set.seed(20231)
n <- 300
ties_d <- data.frame(x1 = sample(0:2, n, TRUE), x2 = rbinom(n, 1, 0.5))
ties_d$treat <- rbinom(n, 1, plogis(-0.8 + 0.5 * ties_d$x1 + 0.4 * ties_d$x2))
ties_d <- ties_d[, c("treat", "x1", "x2")]

# continuous covariates: no two controls at exactly the same Mahalanobis distance from a treated unit
set.seed(20261204)
cont_d <- data.frame(x1 = rnorm(400), x2 = rnorm(400, 2, 3), x3 = rexp(400))
cont_d$treat <- rbinom(400, 1, plogis(-0.7 + 0.6 * cont_d$x1 - 0.2 * cont_d$x2))
cont_d <- cont_d[, c("treat", "x1", "x2", "x3")]
write.csv(cont_d, file.path(out_dir, "cont.csv"), row.names = FALSE)

# MatchIt's own example data (Dehejia & Wahba's NSW/PSID sample), as its documentation uses it
data("lalonde", package = "MatchIt", lib.loc = fixed_lib)
lalonde_d <- lalonde[, c("treat", "age", "educ", "race", "married", "nodegree", "re74", "re75")]
rownames(lalonde_d) <- NULL
lalonde_cov <- c("age", "educ", "race", "married", "nodegree", "re74", "re75")

write.csv(colon_d, file.path(out_dir, "colon.csv"), row.names = FALSE)
write.csv(lalonde_d, file.path(out_dir, "lalonde.csv"), row.names = FALSE)
write.csv(lung_d, file.path(out_dir, "lung.csv"), row.names = FALSE)
write.csv(ties_d, file.path(out_dir, "ties.csv"), row.names = FALSE)
datasets <- list(colon = list(d = colon_d, treat = "treated", cov = colon_cov),
                 lung = list(d = lung_d, treat = "female", cov = lung_cov),
                 ties = list(d = ties_d, treat = "treat", cov = c("x1", "x2")),
                 lalonde = list(d = lalonde_d, treat = "treat", cov = lalonde_cov),
                 cont = list(d = cont_d, treat = "treat", cov = c("x1", "x2", "x3")))

cases <- list(
  colon_caliper = list(data = "colon", caliper = 0.2),
  colon_nocaliper = list(data = "colon"),
  colon_ratio2 = list(data = "colon", ratio = 2),
  colon_ratio2_caliper = list(data = "colon", ratio = 2, caliper = 0.1),
  colon_replace = list(data = "colon", replace = TRUE, caliper = 0.05),
  colon_replace_ratio3 = list(data = "colon", replace = TRUE, ratio = 3),
  colon_exact = list(data = "colon", exact = c("sex", "differ"), caliper = 0.25),
  colon_logit_caliper = list(data = "colon", link = "linear.logit", caliper = 0.2),
  colon_smallest = list(data = "colon", order = "smallest", caliper = 0.2),
  colon_data_order = list(data = "colon", order = "data"),
  colon_raw_caliper = list(data = "colon", caliper = 0.01, std_caliper = FALSE),
  lung_factor = list(data = "lung", caliper = 0.2),
  lung_ratio2_exact = list(data = "lung", ratio = 2, exact = "ph.ecog"),
  ties_largest = list(data = "ties"),
  ties_smallest_ratio2 = list(data = "ties", order = "smallest", ratio = 2),
  ties_data = list(data = "ties", order = "data"),
  # MatchIt >= 4.5.4 options
  lalonde_default = list(data = "lalonde"),
  lalonde_discard_both = list(data = "lalonde", discard = "both", caliper = 0.1),
  lalonde_ratio3_replace = list(data = "lalonde", ratio = 3, replace = TRUE),
  colon_discard_control = list(data = "colon", discard = "control", caliper = 0.2),
  colon_reuse2_ratio2 = list(data = "colon", ratio = 2, reuse_max = 2),
  colon_antiexact_sex = list(data = "colon", antiexact = "sex", caliper = 0.3),
  colon_caliper_covs = list(data = "colon", caliper = 0.2, caliper_covs = list(age = 5, nodes = 0.5),
                            std_caliper_covs = list(age = FALSE, nodes = TRUE)),
  lung_caliper_age_only = list(data = "lung", caliper_covs = list(age = 0.1), std_caliper_covs = list(age = TRUE)),
  ties_reuse3 = list(data = "ties", reuse_max = 3, ratio = 2),
  ties_replace_ratio3 = list(data = "ties", replace = TRUE, ratio = 3),
  ties_antiexact_exact = list(data = "ties", exact = "x2", antiexact = "x1", ratio = 2),
  colon_closest = list(data = "colon", order = "closest", caliper = 0.2),
  lalonde_farthest_ratio2 = list(data = "lalonde", order = "farthest", ratio = 2),
  ties_closest_ratio2 = list(data = "ties", order = "closest", ratio = 2),
  ties_farthest = list(data = "ties", order = "farthest"),
  colon_closest_reuse2_exact = list(data = "colon", order = "closest", reuse_max = 2, ratio = 2, exact = "sex"),
  colon_subclass = list(data = "colon", method = "subclass"),
  lalonde_subclass_ate = list(data = "lalonde", method = "subclass", subclass = 5, estimand = "ATE"),
  lalonde_subclass_discard = list(data = "lalonde", method = "subclass", subclass = 4, discard = "both"),
  ties_subclass_min2 = list(data = "ties", method = "subclass", subclass = 8, min_n = 2),
  lung_subclass_atc = list(data = "lung", method = "subclass", subclass = 7, estimand = "ATC"),
  lalonde_mahal = list(data = "lalonde", distance = "mahalanobis"),
  colon_mahal_ratio2 = list(data = "colon", distance = "mahalanobis", ratio = 2, exact = "sex"),
  lung_mahal_replace = list(data = "lung", distance = "mahalanobis", replace = TRUE, ratio = 2),
  colon_ps_mahvars = list(data = "colon", mahvars = c("age", "nodes"), caliper = 0.25),
  lalonde_ps_mahvars_reuse = list(data = "lalonde", mahvars = c("age", "educ", "re74"), caliper = 0.5,
                                  reuse_max = 2, ratio = 2),
  ties_mahal = list(data = "ties", distance = "mahalanobis", ratio = 2),
  cont_mahal = list(data = "cont", distance = "mahalanobis"),
  cont_mahal_ratio3 = list(data = "cont", distance = "mahalanobis", ratio = 3, reuse_max = 2),
  cont_ps_mahvars_caliper = list(data = "cont", mahvars = c("x1", "x3"), caliper = 0.3, ratio = 2),
  cont_mahal_replace = list(data = "cont", distance = "mahalanobis", replace = TRUE, ratio = 2),
  bug451_colon_caliper = list(data = "colon", caliper = 0.2, bug451 = TRUE),
  bug451_colon_ratio2 = list(data = "colon", ratio = 2, caliper = 0.2, bug451 = TRUE)
)

tab <- function(x) lapply(as.data.frame(x, check.names = FALSE), function(v) unname(v))

run_case <- function(spec) {
  # spec[["x"]], not spec$x: `$` partially matches, so spec$caliper would find caliper_covs
  ds <- datasets[[spec[["data"]]]]
  f <- reformulate(ds$cov, ds$treat)
  args <- list(formula = f, data = ds$d, method = "nearest", distance = "glm",
               link = if (is.null(spec[["link"]])) "logit" else spec[["link"]],
               ratio = if (is.null(spec[["ratio"]])) 1 else spec[["ratio"]],
               replace = isTRUE(spec[["replace"]]),
               m.order = if (is.null(spec[["order"]])) "largest" else spec[["order"]],
               std.caliper = if (is.null(spec[["std_caliper"]])) TRUE else spec[["std_caliper"]])
  cal <- c(spec[["caliper"]], unlist(spec[["caliper_covs"]]))
  if (length(cal)) {
    if (!is.null(spec[["caliper"]])) names(cal)[1] <- ""
    args$caliper <- cal
    std <- c(if (!is.null(spec[["caliper"]])) args$std.caliper, unlist(spec[["std_caliper_covs"]]))
    if (length(std) == length(cal)) args$std.caliper <- std
  }
  if (!is.null(spec[["exact"]])) args$exact <- reformulate(spec[["exact"]])
  if (!is.null(spec[["antiexact"]])) args$antiexact <- reformulate(spec[["antiexact"]])
  if (!is.null(spec[["discard"]])) args$discard <- spec[["discard"]]
  if (!is.null(spec[["reuse_max"]])) args$reuse.max <- spec[["reuse_max"]]
  if (!is.null(spec[["mahvars"]])) args$mahvars <- reformulate(spec[["mahvars"]])
  if (identical(spec[["distance"]], "mahalanobis")) {
    args$distance <- "mahalanobis"
    args$link <- NULL
    if (is.null(spec[["order"]])) args$m.order <- NULL
  }
  if (identical(spec[["method"]], "subclass")) {
    args <- list(formula = f, data = ds$d, method = "subclass", distance = "glm",
                 subclass = if (is.null(spec[["subclass"]])) 6 else spec[["subclass"]],
                 min.n = if (is.null(spec[["min_n"]])) 1 else spec[["min_n"]],
                 estimand = if (is.null(spec[["estimand"]])) "ATT" else spec[["estimand"]])
    if (!is.null(spec[["discard"]])) args$discard <- spec[["discard"]]
  }
  m <- suppressWarnings(do.call(matchit, args))
  s <- summary(m, standardize = TRUE)
  mm <- if (is.null(m$match.matrix)) matrix(integer(0), 0, 1) else m$match.matrix
  sum_after <- if (!is.null(s$sum.across)) s$sum.across else s$sum.matched

  mah_vars <- if (!is.null(spec[["mahvars"]])) spec[["mahvars"]] else if (identical(spec[["distance"]], "mahalanobis")) ds$cov
  # the coordinates MatchIt matches on (its transform_covariates call in matchit2nearest), so the walk can be
  # checked on exactly R's numbers
  mahcovs <- if (is.null(mah_vars)) NULL else
    unname(lapply(as.data.frame(MatchIt:::transform_covariates(reformulate(mah_vars), data = ds$d,
      method = "mahalanobis", s.weights = m$s.weights, treat = ds$d[[ds$treat]], discarded = m$discarded)),
      function(v) sprintf("%.17g", v)))  # as text: jsonlite writes at most 15 significant digits
  list(spec = spec, mahcovs = mahcovs,
       propensity = if (is.null(m$model)) NULL else unname(m$model$fitted.values),
       distance = if (is.null(m$distance)) NULL else unname(m$distance),
       caliper = if (is.null(m$caliper)) NULL else unname(m$caliper),
       match_treated = as.integer(rownames(mm)),
       match_matrix = unname(lapply(seq_len(ncol(mm)), function(j) as.integer(mm[, j]))),
       weights = unname(m$weights),
       subclass = if (is.null(m$subclass)) NULL else as.integer(as.character(m$subclass)),
       balance_rows = rownames(s$sum.all),
       sum_all = tab(s$sum.all), sum_matched = tab(sum_after),
       nn_rows = rownames(s$nn), nn_control = unname(s$nn[, "Control"]), nn_treated = unname(s$nn[, "Treated"]))
}

# sanity: the fixed build must respect the caliper
load_matchit(fixed_lib)
chk <- matchit(reformulate(colon_cov, "treated"), data = colon_d, caliper = 0.2)
gap <- abs(chk$distance[as.integer(rownames(chk$match.matrix))] - chk$distance[as.integer(chk$match.matrix[, 1])])
if (any(gap > chk$caliper, na.rm = TRUE)) stop("MatchIt at ", fixed_lib, " has the integer-abs caliper bug (#163)")
fixed_version <- as.character(packageVersion("MatchIt", lib.loc = fixed_lib))

res <- list()
for (id in names(cases)) if (!isTRUE(cases[[id]]$bug451)) { message(id); res[[id]] <- run_case(cases[[id]]) }
old <- fromJSON(file.path(out_dir, "matching_fixtures.json"), simplifyVector = FALSE)
for (id in names(cases)) if (isTRUE(cases[[id]]$bug451)) res[[id]] <- old$cases[[id]]

meta <- list(R = R.version.string, survival = as.character(packageVersion("survival")),
             matchit = fixed_version, matchit_stock = old$meta$matchit_stock)
writeLines(toJSON(list(meta = meta, cases = res), auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = FALSE),
           file.path(out_dir, "matching_fixtures.json"))
cat("wrote", length(res), "cases\n")

# ---- weighting: weights by formula from R's glm, balance by MatchIt's own bal1var ---------
# (WeightIt / cobalt are not installed; MatchIt:::bal1var is the routine behind
#  summary.matchit and uses cobalt's conventions: fixed unweighted SD, p(1-p) for binary.)
wcases <- list(
  colon_ATE = list(data = "colon", estimand = "ATE"),
  colon_ATE_stab = list(data = "colon", estimand = "ATE", stabilize = TRUE),
  colon_ATT = list(data = "colon", estimand = "ATT"),
  colon_ATO = list(data = "colon", estimand = "ATO"),
  colon_ATE_trim = list(data = "colon", estimand = "ATE", trim = 0.9),
  lung_ATT_trim = list(data = "lung", estimand = "ATT", trim = 0.95),
  lung_ATE = list(data = "lung", estimand = "ATE")
)
wres <- list()
for (id in names(wcases)) {
  spec <- wcases[[id]]
  ds <- datasets[[spec$data]]
  tr <- ds$d[[ds$treat]]
  e <- fitted(glm(reformulate(ds$cov, ds$treat), data = ds$d, family = binomial))
  w <- switch(spec$estimand, ATE = ifelse(tr == 1, 1 / e, 1 / (1 - e)), ATT = ifelse(tr == 1, 1, e / (1 - e)),
              ATO = ifelse(tr == 1, 1 - e, e))
  if (isTRUE(spec$stabilize)) w <- w * ifelse(tr == 1, mean(tr), 1 - mean(tr))
  if (!is.null(spec$trim)) {
    sel <- if (spec$estimand == "ATT") tr == 0 else rep(TRUE, length(w))
    cap <- quantile(w[sel], spec$trim, type = 7)
    w[sel & w > cap] <- cap
  }
  X <- MatchIt:::get_covs_matrix(data = ds$d[ds$cov])
  X <- cbind(distance = e, X)
  denom <- if (spec$estimand == "ATT") "treated" else "pooled"
  bal <- function(ww) t(vapply(seq_len(ncol(X)), function(j)
    MatchIt:::bal1var(X[, j], tt = tr, ww = ww, s.weights = rep(1, length(tr)), standardize = TRUE,
                      s.d.denom = denom, compute.pair.dist = FALSE)[1:6], numeric(6)))
  b0 <- bal(NULL); b1 <- bal(w)
  colnames(b0) <- colnames(b1) <- c("Means Treated", "Means Control", "Std. Mean Diff.", "Var. Ratio", "eCDF Mean", "eCDF Max")
  ess <- function(v) sum(v)^2 / sum(v^2)
  wres[[id]] <- list(spec = spec, propensity = unname(e), weights = unname(w), balance_rows = colnames(X),
                     before = tab(b0), after = tab(b1),
                     ess_control = ess(w[tr == 0]), ess_treated = ess(w[tr == 1]))
}
writeLines(toJSON(list(meta = meta, cases = wres), auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           file.path(out_dir, "weighting_fixtures.json"))
cat("wrote", length(wres), "weighting cases\n")

# ---- outcome analysis after matching / weighting (survival 3.5-3) ------------------------------
# As MatchIt's vignette "Estimating Effects After Matching": Cox on the matched data with a
# cluster-robust SE on the pair (subclass), matching weights when ratio > 1; KM and log-rank.
load_matchit(fixed_lib)
times <- c(365, 730, 1825)
outcome <- function(md, w, cluster) {
  md$w_ <- w
  if (is.null(cluster)) {
    fit <- coxph(Surv(time, status) ~ treated, data = md, weights = w_, robust = TRUE)
  } else {
    md$cl_ <- cluster
    fit <- coxph(Surv(time, status) ~ treated, data = md, weights = w_, cluster = cl_)
  }
  km <- survfit(Surv(time, status) ~ treated, data = md, weights = w_)
  s <- summary(km, times = times)
  lr <- survdiff(Surv(time, status) ~ treated, data = md)
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$var))), naive_se = unname(sqrt(diag(fit$naive.var))),
       km_strata = as.character(s$strata), km_time = s$time, km_surv = s$surv, km_lower = s$lower, km_upper = s$upper,
       logrank_chisq = lr$chisq, logrank_p = pchisq(lr$chisq, 1, lower.tail = FALSE))
}
f <- reformulate(colon_cov, "treated")
m1 <- matchit(f, data = colon_d, caliper = 0.2)
md1 <- match.data(m1)
m2 <- matchit(f, data = colon_d, ratio = 2)
md2 <- match.data(m2)
e <- fitted(glm(f, data = colon_d, family = binomial))
wate <- ifelse(colon_d$treated == 1, 1 / e, 1 / (1 - e))
ores <- list(colon_caliper = outcome(md1, md1$weights, md1$subclass),
             colon_ratio2 = outcome(md2, md2$weights, md2$subclass),
             colon_ATE = outcome(colon_d, wate, NULL))
writeLines(toJSON(list(meta = meta, times = times, cases = ores), auto_unbox = TRUE, digits = NA),
           file.path(out_dir, "outcome_fixtures.json"))
cat("wrote outcome cases\n")
