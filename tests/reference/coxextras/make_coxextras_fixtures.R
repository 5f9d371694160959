# Reference values for oligomet's Cox extras: concordance, cox.zph (3.x score test),
# predicted survival after a Cox fit (survfit.coxph) and the baseline cumulative hazard.
#
# Run from the repository root:  Rscript tests/reference/coxextras/make_coxextras_fixtures.R
# Needs R's survival (written with 3.5-3) and jsonlite. Writes
#   tests/reference/coxextras/coxextras.json   (cases and R's results)
#   tests/reference/coxextras/data/<case>.csv  (the exact rows R analysed: time, event, strata, w, X columns)
# The tests read these files only; R is not needed to run them.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") >= "3.0")
out_dir <- "tests/reference/coxextras"
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)

lung2 <- within(na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog", "ph.karno", "wt.loss", "inst")]), {
  dead <- as.integer(status == 2)
})
# deterministic, non-integer case weights
lung2$w <- 0.5 + (seq_len(nrow(lung2)) %% 4) / 2
vet <- veteran
vet$cell_smallcell <- as.integer(vet$celltype == "smallcell")
vet$cell_adeno <- as.integer(vet$celltype == "adeno")
vet$cell_large <- as.integer(vet$celltype == "large")
vet$w <- 1 + (seq_len(nrow(vet)) %% 3) / 3
vet$month <- ceiling(vet$time / 30)      # heavy ties in time
col2 <- subset(colon, etype == 2)
col2$rx_lev <- as.integer(col2$rx == "Lev")
col2$rx_lev5fu <- as.integer(col2$rx == "Lev+5FU")
col2 <- col2[complete.cases(col2[, c("time", "status", "age", "nodes", "differ", "extent", "sex")]), ]
col2$year <- ceiling(col2$time / 365.25) # very heavy ties

# edge cases: an event at time 0, a stratum whose rows are all censored, a stratum with a single
# row (an event), heavy ties from rounding to 60-day periods
edge <- lung2
edge$time[1] <- 0; edge$dead[1] <- 1
edge$grp <- c("a", "b", "c", "c")[edge$ph.ecog + 1]
edge$grp[11:20] <- "d"; edge$dead[11:20] <- 0
edge$grp[21] <- "e"; edge$dead[21] <- 1
edge$period <- ceiling(edge$time / 60)

# name, data, time, event, x columns, term of each column, strata column, weights column, ties
cox_cases <- list(
  list(id = "lung_efron", d = lung2, time = "time", event = "dead",
       x = c("age", "sex", "ph.ecog", "ph.karno", "wt.loss"), ties = "efron"),
  list(id = "lung_breslow", d = lung2, time = "time", event = "dead",
       x = c("age", "sex", "ph.ecog", "ph.karno", "wt.loss"), ties = "breslow"),
  list(id = "lung_strata_sex", d = lung2, time = "time", event = "dead",
       x = c("age", "ph.ecog", "ph.karno"), strata = "sex", ties = "efron"),
  list(id = "lung_weights", d = lung2, time = "time", event = "dead",
       x = c("age", "sex", "ph.ecog"), weights = "w", ties = "efron"),
  list(id = "lung_cluster_inst", d = subset(lung2, !is.na(inst)), time = "time", event = "dead",
       x = c("age", "sex", "ph.ecog"), cluster = "inst", ties = "efron"),
  list(id = "lung_strata_inst", d = subset(lung2, !is.na(inst)), time = "time", event = "dead",
       x = c("age", "sex", "ph.ecog"), strata = "inst", ties = "efron"),
  list(id = "veteran_celltype", d = vet, time = "time", event = "status",
       x = c("trt", "karno", "cell_smallcell", "cell_adeno", "cell_large", "age"),
       rhs = "trt + karno + celltype + age",  # a 3-df factor term: zph tests it jointly
       terms = c("trt", "karno", "celltype", "celltype", "celltype", "age"), ties = "efron"),
  list(id = "veteran_strata_breslow_weights", d = vet, time = "time", event = "status",
       x = c("karno", "age", "trt"), strata = "celltype", weights = "w", ties = "breslow"),
  list(id = "veteran_month_efron", d = vet, time = "month", event = "status",
       x = c("trt", "karno", "age", "prior"), ties = "efron"),
  list(id = "veteran_month_breslow_weights", d = vet, time = "month", event = "status",
       x = c("trt", "karno", "age", "prior"), weights = "w", ties = "breslow"),
  list(id = "lung_edge_strata_efron", d = edge, time = "time", event = "dead",
       x = c("age", "sex", "wt.loss"), strata = "grp", ties = "efron"),
  list(id = "lung_edge_period_breslow_weights", d = edge, time = "period", event = "dead",
       x = c("age", "sex", "wt.loss"), strata = "grp", weights = "w", ties = "breslow"),
  list(id = "colon_death_efron", d = col2, time = "time", event = "status",
       x = c("rx_lev", "rx_lev5fu", "age", "nodes", "differ", "extent"), strata = "sex", ties = "efron"),
  list(id = "colon_year_efron_weights", d = transform(col2, w = 1 + (id %% 5) / 4), time = "year",
       event = "status", x = c("rx_lev", "rx_lev5fu", "age", "nodes"), weights = "w", ties = "efron")
)

# R's survfit step function read at arbitrary times: 1 before the first time, the value at the
# last time <= t, NA after the last observed time of the stratum (summary.survfit(extend=FALSE)
# drops such times rather than extrapolating).
step_at <- function(tt, ss, at, before = 1) {
  i <- findInterval(at, tt)
  v <- c(before, ss)[i + 1]
  v[at > max(tt)] <- NA
  v
}

res <- list()
for (cc in cox_cases) {
  d <- cc$d
  terms <- if (is.null(cc$terms)) cc$x else cc$terms
  rhs <- paste(sprintf("`%s`", cc$x), collapse = " + ")
  rhs_terms <- if (is.null(cc$rhs)) rhs else cc$rhs
  st <- if (is.null(cc$strata)) "" else paste0(" + strata(", cc$strata, ")")
  f <- as.formula(sprintf("Surv(%s, %s) ~ %s%s", cc$time, cc$event, rhs, st))
  f_terms <- as.formula(sprintf("Surv(%s, %s) ~ %s%s", cc$time, cc$event, rhs_terms, st))
  w <- if (is.null(cc$weights)) rep(1, nrow(d)) else d[[cc$weights]]
  d$.w <- w
  if (!is.null(cc$cluster)) d$.cl <- d[[cc$cluster]]
  fit <- if (is.null(cc$cluster)) coxph(f, data = d, ties = cc$ties, weights = .w) else
    coxph(f, data = d, ties = cc$ties, weights = .w, cluster = .cl)
  # the fit with factor terms (same design, same coefficients) is the one cox.zph tests term by term
  fit_terms <- coxph(f_terms, data = d, ties = cc$ties, weights = .w)
  stopifnot(max(abs(coef(fit) - coef(fit_terms))) < 1e-12)
  # the rows R analysed, in R's order; strata as 0-based codes in R's factor order
  sf <- if (is.null(cc$strata)) rep(0L, nrow(d)) else as.integer(factor(d[[cc$strata]])) - 1L
  slev <- if (is.null(cc$strata)) list() else as.character(levels(factor(d[[cc$strata]])))
  rows <- data.frame(time = d[[cc$time]], event = d[[cc$event]], strata = sf, w = w)
  for (v in cc$x) rows[[v]] <- d[[v]]
  if (!is.null(cc$cluster)) rows$cluster <- d[[cc$cluster]]
  write.csv(rows, file.path(out_dir, "data", paste0(cc$id, ".csv")), row.names = FALSE)

  zph <- list()
  for (tr in c("km", "rank", "identity")) {
    z <- cox.zph(fit_terms, transform = tr)
    zph[[tr]] <- list(terms = rownames(z$table), chisq = unname(z$table[, "chisq"]),
                      df = unname(z$table[, "df"]), p = unname(z$table[, "p"]))
  }
  zk <- cox.zph(fit_terms, transform = "km")
  zph[["km_residuals"]] <- list(y = unname(zk$y), x = unname(zk$x), time = unname(zk$time),
                                var = unname(zk$var), terms = colnames(zk$y))
  z <- cox.zph(fit_terms, transform = function(t) sqrt(t))
  zph[["sqrt"]] <- list(terms = rownames(z$table), chisq = unname(z$table[, "chisq"]),
                        df = unname(z$table[, "df"]), p = unname(z$table[, "p"]))

  # profiles for prediction: all zeros, the (unweighted) column means, and three real rows
  X <- as.matrix(d[, cc$x])
  prof <- rbind(rep(0, length(cc$x)), colMeans(X), X[c(1, 7, 20), , drop = FALSE])
  colnames(prof) <- cc$x
  pstrat <- c(0L, 0L, sf[c(1, 7, 20)])
  if (length(slev) > 1) pstrat[1:2] <- c(0L, length(slev) - 1L)
  etimes <- sort(unique(d[[cc$time]][d[[cc$event]] == 1]))
  at <- sort(unique(c(0, etimes[1] / 2, etimes[1], quantile(etimes, c(.25, .5, .75), type = 1),
                      mean(etimes[2:3]), max(d[[cc$time]]), max(d[[cc$time]]) * 1.5)))
  surv <- se <- lo <- hi <- matrix(NA_real_, length(at), nrow(prof))
  for (i in seq_len(nrow(prof))) {
    nd <- as.data.frame(prof[i, , drop = FALSE])
    if (!is.null(cc$strata)) nd[[cc$strata]] <- d[[cc$strata]][match(pstrat[i], sf)]
    s1 <- survfit(fit, newdata = nd)
    surv[, i] <- step_at(s1$time, s1$surv, at)
    se[, i] <- step_at(s1$time, s1$std.err, at, before = 0)
    lo[, i] <- step_at(s1$time, s1$lower, at)
    hi[, i] <- step_at(s1$time, s1$upper, at)
  }
  # baseline: survfit(fit) without newdata = the curve at fit$means (R's centring)
  s0 <- survfit(fit)
  bstr <- if (is.null(s0$strata)) rep(0L, length(s0$time)) else rep(seq_along(s0$strata) - 1L, s0$strata)
  res[[cc$id]] <- list(
    kind = "cox", time = cc$time, event = cc$event, x = cc$x, terms = terms, ties = cc$ties,
    strata = if (is.null(cc$strata)) NULL else cc$strata, strata_levels = slev,
    weights = if (is.null(cc$weights)) NULL else cc$weights,
    coef = unname(coef(fit)), var = unname(fit$var), means = unname(fit$means),
    linear_predictors = unname(fit$linear.predictors),
    concordance = unname(fit$concordance["concordance"]),
    concordance_std = unname(fit$concordance["std"]),
    cluster = if (is.null(cc$cluster)) NULL else cc$cluster,
    concordance_count = as.list(fit$concordance[c("concordant", "discordant", "tied.x", "tied.y", "tied.xy")]),
    zph = zph,
    predict = list(profiles = unname(prof), strata = pstrat, times = at, survival = surv, std_err = se,
                   lower = lo, upper = hi),
    baseline = list(strata = bstr, time = s0$time, cumhaz = s0$cumhaz, surv = s0$surv,
                    std_err = s0$std.err, lower = s0$lower, upper = s0$upper,
                    n_risk = s0$n.risk, n_event = s0$n.event)
  )
}

# concordance() on its own, as coxph computes it: reverse=TRUE, timewt="n"
conc_cases <- list(
  list(id = "conc_veteran_karno", d = vet, time = "time", event = "status", x = "karno"),
  list(id = "conc_veteran_month_weights", d = vet, time = "month", event = "status", x = "karno", weights = "w"),
  list(id = "conc_veteran_strata_celltype", d = vet, time = "time", event = "status", x = "age",
       strata = "celltype", weights = "w"),
  list(id = "conc_lung_strata_inst", d = subset(lung2, !is.na(inst)), time = "time", event = "dead", x = "age",
       strata = "inst"),
  list(id = "conc_colon_year", d = col2, time = "year", event = "status", x = "nodes"),
  # more than 10 strata: R switches to its counting-process trick (disjoint time windows)
  list(id = "conc_colon_year_strata18", d = transform(col2, st = interaction(rx, differ, sex)), time = "year",
       event = "status", x = "nodes", strata = "st"),
  list(id = "conc_colon_year_strata_weights", d = transform(col2, w = 1 + (id %% 5) / 4), time = "year",
       event = "status", x = "extent", strata = "rx", weights = "w")
)
for (cc in conc_cases) {
  d <- cc$d
  w <- if (is.null(cc$weights)) rep(1, nrow(d)) else d[[cc$weights]]
  d$.w <- w
  rhs <- cc$x
  if (!is.null(cc$strata)) rhs <- paste0(rhs, " + strata(", cc$strata, ")")
  f <- as.formula(sprintf("Surv(%s, %s) ~ %s", cc$time, cc$event, rhs))
  cf <- concordance(f, data = d, weights = .w, reverse = TRUE)
  sf <- if (is.null(cc$strata)) rep(0L, nrow(d)) else as.integer(factor(d[[cc$strata]])) - 1L
  rows <- data.frame(time = d[[cc$time]], event = d[[cc$event]], strata = sf, w = w, risk = d[[cc$x]])
  write.csv(rows, file.path(out_dir, "data", paste0(cc$id, ".csv")), row.names = FALSE)
  cnt <- if (is.matrix(cf$count)) colSums(cf$count) else cf$count
  res[[cc$id]] <- list(kind = "concordance", concordance = unname(cf$concordance), std = sqrt(cf$var),
                       count = as.list(cnt[c("concordant", "discordant", "tied.x", "tied.y", "tied.xy")]))
}

res[["_meta"]] <- list(R = R.version.string, survival = as.character(packageVersion("survival")))
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE),
           file.path(out_dir, "coxextras.json"))
cat("wrote", length(res) - 1, "cases\n")
