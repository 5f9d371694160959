# R references for oligomet's *weighted* competing-risks estimators (tests/competing/test_weighted_parity.py).
# Run from the repository root:  Rscript tests/reference/competing/weighted_cr.R
# Writes tests/reference/competing/weighted_cr.json: the data and, per case,
#  * the weighted cumulative incidence: survfit(Surv(time, factor(event)) ~ group, weights = w), the
#    Aalen-Johansen estimate of a multi-state (factor) event with case weights; std.err is survfit's
#    infinitesimal-jackknife standard error (its default for multi-state curves);
#  * the weighted Fine-Gray model: fg <- finegray(Surv(time, factor(event)) ~ ., etype = cause) and
#    coxph(Surv(fgstart, fgstop, fgstatus) ~ covariates, weights = fgwt * w, cluster = id), robust
#    (sandwich) variance clustered on the patient. cmprsk::crr takes no case weights, so this is the
#    reference. finegray's censoring distribution is unweighted (it ignores weights when computing G).
# cmprsk::cuminc has no weights either, so there is no R reference for a weighted Gray's test.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
out <- "tests/reference/competing/weighted_cr.json"
cases <- list()

set.seed(20261204)
make_data <- function(n, rounding) {
  g <- sample(c("A", "B"), n, replace = TRUE)
  x1 <- round(rnorm(n), 2)
  x2 <- rbinom(n, 1, 0.4)
  ps <- plogis(-0.3 + 0.6 * x1 + 0.5 * x2)
  t1 <- rexp(n, 0.05 * exp(0.4 * (g == "B") + 0.3 * x1))
  t2 <- rexp(n, 0.03 * exp(-0.2 * x2))
  cz <- runif(n, 5, 60)
  time <- pmin(t1, t2, cz)
  event <- ifelse(time == t1, 1, ifelse(time == t2, 2, 0))
  if (rounding) time <- pmax(round(time), 0.5)  # whole units: ties across causes and with censoring
  trt <- as.integer(g == "B")
  # IPTW-like weights from the true score (not integers)
  w <- ifelse(trt == 1, 1 / ps, 1 / (1 - ps))
  data.frame(id = seq_len(n), group = g, time = time, event = event, x1 = x1, x2 = x2, w = round(w, 6))
}

cif_reference <- function(d) {
  # the first factor level is censoring, also when nobody is censored
  d$ev <- factor(d$event, levels = c(0, sort(unique(d$event[d$event > 0]))))
  fit <- survfit(Surv(time, ev) ~ group, data = d, weights = w, conf.type = "none")
  s <- summary(fit, censored = TRUE)   # every distinct time, censorings included
  states <- fit$states                 # "(s0)", "1", "2"
  res <- list()
  for (k in seq_along(fit$strata)) {
    nm <- names(fit$strata)[k]
    sel <- s$strata == nm
    res[[length(res) + 1]] <- list(group = sub("group=", "", nm), time = s$time[sel],
      n_risk = s$n.risk[sel, 1], estimate = s$pstate[sel, -1, drop = FALSE],
      std_err = s$std.err[sel, -1, drop = FALSE])
  }
  list(states = states[-1], curves = res)
}

fg_reference <- function(d, cause, covs, ties) {
  d$ev <- factor(d$event, levels = c(0, sort(unique(d$event[d$event > 0]))))
  fg <- finegray(Surv(time, ev) ~ ., data = d[, c("id", "time", "ev", "w", covs)], etype = as.character(cause))
  f <- as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~", paste(covs, collapse = " + ")))
  fit <- coxph(f, data = fg, weights = fgwt * w, cluster = id, ties = ties)
  # predicted CIF = 1 - survfit(fit, newdata) for two profiles (covariates at -1 / +1, others 0), at 10 and 30
  nd <- as.data.frame(matrix(0, 2, length(covs), dimnames = list(NULL, covs)))
  nd[[covs[length(covs)]]] <- c(-1, 1)
  sf <- summary(survfit(fit, newdata = nd), times = c(10, 30))
  list(cause = cause, covariates = covs, ties = ties, coef = unname(coef(fit)), var = unname(fit$var),
       newdata = nd, predict_times = sf$time, predict_cif = 1 - sf$surv,
       naive_var = unname(fit$naive.var), loglik = fit$loglik, names = names(coef(fit)), n_rows = nrow(fg),
       n = fit$n, nevent = fit$nevent)
}

for (spec in list(list(id = "continuous", n = 300, rounding = FALSE),
                  list(id = "ties", n = 250, rounding = TRUE))) {
  d <- make_data(spec$n, spec$rounding)
  cases[[spec$id]] <- list(
    data = d,
    cif = cif_reference(d),
    fine_gray = list(
      fg_reference(d, 1, c("x1", "x2"), "efron"),
      fg_reference(transform(d, B = as.integer(group == "B")), 1, c("B", "x1"), "breslow"),
      fg_reference(transform(d, B = as.integer(group == "B")), 2, c("B", "x2"), "efron")))
}
# no censoring at all, and failures at time 0 (finegray's start becomes 2 * min(time) - 1)
d0 <- make_data(120, TRUE)
d0$event[d0$event == 0] <- 2
d0$time[1:3] <- 0
d0$event[1:3] <- c(1, 2, 1)
cases$no_censoring <- list(data = d0, cif = cif_reference(d0),
                           fine_gray = list(fg_reference(d0, 1, c("x1", "x2"), "efron")))
# unit weights: survfit's multi-state estimate is then cmprsk's Aalen-Johansen estimate (the variances differ)
d1 <- cases$ties$data; d1$w <- 1
cases$unit_weights <- list(data = d1, cif = cif_reference(d1), fine_gray = list(fg_reference(d1, 1, c("x1", "x2"), "efron")))

writeLines(toJSON(list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
                       cases = cases), digits = NA, matrix = "rowmajor", auto_unbox = TRUE, dataframe = "columns",
                  na = "null"), out)
