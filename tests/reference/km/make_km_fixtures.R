# Reference values for oligomet's Kaplan-Meier, log-rank (G-rho), trend test and
# reverse-KM follow-up, computed by R's survival package.
#
#   cd tests/reference/km && Rscript make_km_fixtures.R
#
# Writes data/<name>.csv (the exact rows R analysed) and km_fixtures.json
# (case -> parameters + R's results). Tested with R 4.2, survival 3.5-3, jsonlite.
# The Python tests read only the CSV/JSON files, so they run without R.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") == "3.5.3")
dir.create("data", showWarnings = FALSE)
# Inf cannot be written to JSON; write it as the string "Inf" so that it is not confused with NA.
enc <- function(x) { if (is.numeric(x) && any(is.infinite(x))) { y <- as.list(x); y[is.infinite(x)] <- ifelse(x[is.infinite(x)] > 0, "Inf", "-Inf"); y } else x }
out <- list()

## ---------------------------------------------------------------- data sets
set.seed(20261123)
# heavy ties: integer months 0..24, three groups, two strata, ~35% censored
n <- 400
ties <- data.frame(time = pmin(rgeom(n, 0.08), 24), grp = sample(c("A", "B", "C"), n, TRUE),
                   site = sample(c("s1", "s2"), n, TRUE))
ties$status <- as.integer(runif(n) < 0.65 & ties$time < 24)
ties$time[ties$grp == "C"] <- pmin(ties$time[ties$grp == "C"] + 2L, 24)
ties$wt_int <- sample(1:3, n, TRUE)
ties$wt_frac <- round(runif(n, 0.2, 3), 3)
ties$score <- c(A = 0, B = 1, C = 3)[ties$grp]
write.csv(ties, "data/ties.csv", row.names = FALSE)

# an event at time 0, an all-censored group, a stratum holding a single event
edge <- data.frame(
  time   = c(0, 0, 1, 2, 2, 3, 5, 8, 8, 9, 12, 4, 6, 7, 10, 11, 1, 3, 4, 9, 2, 6),
  status = c(1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0,  0, 0, 0, 0,  0,  1, 0, 0, 1, 0, 0),
  grp    = c("x","x","x","x","x","x","x","x","x","x","x", "cens","cens","cens","cens","cens",
             "y","y","y","y", "y", "cens"),
  stratum = c(rep("big", 16), rep("small", 6)))
# in stratum "small" the only event of group x/cens/y pairs: make it a single event
edge$status[edge$stratum == "small"] <- c(1, 0, 0, 0, 0, 0)
write.csv(edge, "data/edge.csv", row.names = FALSE)

# survival exactly 0.5 on a flat stretch (midpoint rule), and a curve ending at 0.5
flat <- data.frame(time = c(1, 2, 3, 4, 1, 2, 3, 4, 6, 7), status = c(1, 1, 1, 1, 1, 1, 0, 0, 1, 0),
                   grp = c(rep("drops", 4), rep("ends", 4), "later", "later"))
write.csv(flat, "data/flat.csv", row.names = FALSE)

# median not reached: heavy censoring
set.seed(7)
nr <- data.frame(time = round(rexp(120, 0.01), 1), grp = rep(c("g1", "g2"), 60))
nr$status <- as.integer(runif(120) < 0.25)
write.csv(nr, "data/notreached.csv", row.names = FALSE)

lung2 <- survival::lung
lung2$dead <- as.integer(lung2$status == 2)
write.csv(lung2, "data/lung.csv", row.names = FALSE)

## ---------------------------------------------------------------- Kaplan-Meier
km_case <- function(id, file, d, time, event, by = NULL, conf_type = "log", weights = NULL, robust = NULL,
                    times = NULL, probs = c(0.25, 0.5, 0.75), start = NULL) {
  y <- if (is.null(start)) sprintf("Surv(%s, %s)", time, event) else sprintf("Surv(%s, %s, %s)", start, time, event)
  f <- if (is.null(by)) as.formula(paste(y, "~ 1")) else as.formula(paste(y, "~", by))
  args <- list(formula = f, data = d, conf.type = conf_type)
  if (!is.null(weights)) args$weights <- d[[weights]]
  if (!is.null(robust)) args$robust <- robust
  fit <- do.call(survfit, args)
  q <- quantile(fit, probs)
  nstr <- if (is.null(fit$strata)) 1 else length(fit$strata)
  lev <- if (is.null(fit$strata)) "all" else sub("^[^=]*=", "", names(fit$strata))
  groups <- list()
  for (i in seq_len(nstr)) {
    fi <- if (nstr == 1) fit else fit[i]
    g <- list(level = lev[i], time = fi$time, n_risk = fi$n.risk, n_event = fi$n.event, n_censor = fi$n.censor,
              survival = fi$surv, std_err = enc(fi$std.err), lower = fi$lower, upper = fi$upper,
              quantile = if (nstr == 1) as.numeric(q$quantile) else as.numeric(q$quantile[i, ]),
              quantile_lower = if (nstr == 1) as.numeric(q$lower) else as.numeric(q$lower[i, ]),
              quantile_upper = if (nstr == 1) as.numeric(q$upper) else as.numeric(q$upper[i, ]))
    if (!is.null(times)) {
      s <- summary(fi, times = times)
      g$at <- list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, survival = s$surv,
                   lower = s$lower, upper = s$upper)
      se <- summary(fi, times = times, extend = TRUE)
      g$at_extend <- list(time = se$time, n_risk = se$n.risk, survival = se$surv)
    }
    groups[[i]] <- g
  }
  out[[id]] <<- list(case = list(kind = "km", data = file, time = time, event = event, by = by,
                                 conf_type = conf_type, weights = weights, robust = robust, times = times,
                                 probs = probs, start = start),
                     expected = list(groups = groups))
}
for (ct in c("log", "log-log", "plain", "logit", "arcsin")) {
  km_case(paste0("km_ties_", ct), "ties", ties, "time", "status", "grp", ct, times = c(0, 3, 10, 23, 30))
}
km_case("km_ties_pooled", "ties", ties, "time", "status", NULL, "log", times = c(1, 5, 12))
km_case("km_ties_intweights", "ties", ties, "time", "status", "grp", "log", weights = "wt_int", times = c(2, 8))
km_case("km_ties_fracweights_robust", "ties", ties, "time", "status", "grp", "log", weights = "wt_frac",
        times = c(2, 8))
km_case("km_ties_fracweights_greenwood", "ties", ties, "time", "status", "grp", "plain", weights = "wt_frac",
        robust = FALSE, times = c(2, 8))
for (ct in c("log", "log-log", "plain", "logit", "arcsin")) {
  km_case(paste0("km_edge_", ct), "edge", edge, "time", "status", "grp", ct, times = c(0, 1, 6, 11))
  km_case(paste0("km_flat_", ct), "flat", flat, "time", "status", "grp", ct, probs = c(0.25, 0.5, 0.75, 1))
}
km_case("km_notreached", "notreached", nr, "time", "status", "grp", "log", times = c(50, 100))
km_case("km_lung_ecog_loglog", "lung", lung2, "time", "dead", "ph.ecog", "log-log", times = c(100, 400))
km_case("km_ties_fracweights_robust_logit", "ties", ties, "time", "status", "grp", "logit", weights = "wt_frac",
        times = c(2, 8))
km_case("km_lung_ecog_arcsin", "lung", lung2, "time", "dead", "ph.ecog", "arcsin", times = c(100, 400))
# Delayed entry / counting-process rows, Surv(start, stop, event): Stanford heart transplant by surgery, and
# tied integer times with entries at event times (a row entering at t is not at risk at t).
heart2 <- survival::heart
write.csv(heart2, "data/heart.csv", row.names = FALSE)
km_case("km_heart_entry", "heart", heart2, "stop", "event", "surgery", "log", times = c(30, 365), start = "start")
set.seed(11)
ent <- data.frame(entry = sample(0:6, 120, replace = TRUE))
ent$stop <- ent$entry + sample(1:12, 120, replace = TRUE)
ent$status <- rbinom(120, 1, 0.6)
ent$grp <- sample(c("a", "b"), 120, replace = TRUE)
write.csv(ent, "data/entry_ties.csv", row.names = FALSE)
for (ct in c("log", "log-log"))
  km_case(paste0("km_entry_ties_", ct), "entry_ties", ent, "stop", "status", "grp", ct, times = c(3, 8),
          start = "entry")
ent$wf <- round(runif(120, 0.3, 2.5), 2)                      # fractional weights: R's robust SE by default
write.csv(ent, "data/entry_ties.csv", row.names = FALSE)
km_case("km_entry_ties_robust", "entry_ties", ent, "stop", "status", "grp", "log", weights = "wf", times = c(3, 8),
        start = "entry")

## ---------------------------------------------------------------- log-rank and trend
lr_case <- function(id, file, d, time, event, by, strata = NULL, rho = 0, scores = NULL) {
  f <- sprintf("Surv(%s, %s) ~ %s", time, event, by)
  if (!is.null(strata)) f <- paste0(f, sprintf(" + strata(%s)", strata))
  fit <- survdiff(as.formula(f), data = d, rho = rho)
  obs <- if (is.matrix(fit$obs)) rowSums(fit$obs) else fit$obs
  ex <- if (is.matrix(fit$exp)) rowSums(fit$exp) else fit$exp
  k <- length(obs)
  s <- if (is.null(scores)) seq_len(k) else scores
  trend <- as.numeric((sum(s * (obs - ex)))^2 / (t(s) %*% fit$var %*% s))
  df <- sum(ex > 0) - 1
  out[[id]] <<- list(case = list(kind = "logrank", data = file, time = time, event = event, by = by,
                                 strata = strata, rho = rho, scores = scores),
                     expected = list(levels = sub("^[^=]*=", "", names(fit$n)), n = as.numeric(fit$n),
                                     observed = obs, expected = ex, variance = fit$var, chisq = fit$chisq, df = df,
                                     p_value = pchisq(fit$chisq, df, lower.tail = FALSE),
                                     trend_chisq = trend, trend_p = pchisq(trend, 1, lower.tail = FALSE)))
}
lr_case("lr_ties", "ties", ties, "time", "status", "grp")
lr_case("lr_ties_strata", "ties", ties, "time", "status", "grp", strata = "site")
lr_case("lr_ties_rho05", "ties", ties, "time", "status", "grp", rho = 0.5)
lr_case("lr_ties_strata_rho1", "ties", ties, "time", "status", "grp", strata = "site", rho = 1)
lr_case("lr_ties_scores", "ties", ties, "time", "status", "grp", scores = c(0, 1, 3))
lr_case("lr_edge", "edge", edge, "time", "status", "grp")
lr_case("lr_edge_strata_single_event", "edge", edge, "time", "status", "grp", strata = "stratum")
lr_case("lr_edge_strata_rho1", "edge", edge, "time", "status", "grp", strata = "stratum", rho = 1)
lr_case("lr_lung_ecog", "lung", lung2, "time", "dead", "ph.ecog")
lr_case("lr_lung_ecog_strata_sex_rho05", "lung", lung2, "time", "dead", "ph.ecog", strata = "sex", rho = 0.5)

## ---------------------------------------------------------------- reverse-KM follow-up
fu_case <- function(id, file, d, time, event) {
  d$rev <- 1 - d[[event]]
  fit <- survfit(as.formula(sprintf("Surv(%s, rev) ~ 1", time)), data = d)
  q <- quantile(fit, c(0.25, 0.5, 0.75))
  out[[id]] <<- list(case = list(kind = "followup", data = file, time = time, event = event),
                     expected = list(median = unname(q$quantile[2]), lower = unname(q$lower[2]),
                                     upper = unname(q$upper[2]), q25 = unname(q$quantile[1]),
                                     q75 = unname(q$quantile[3])))
}
fu_case("fu_ties", "ties", ties, "time", "status")
fu_case("fu_lung", "lung", lung2, "time", "dead")
fu_case("fu_notreached", "notreached", nr, "time", "status")

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = FALSE),
           "km_fixtures.json")
cat("wrote", length(out), "cases\n")
