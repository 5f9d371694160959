# Reference values for oligomet's restricted mean survival time (RMST), cumulative hazard
# (Nelson-Aalen / Fleming-Harrington) and Kaplan-Meier with id= (grouped robust variance),
# computed by R's survival package.
#
#   cd tests/reference/rmst && Rscript make_rmst_fixtures.R
#
# Writes data/<name>.csv (the exact rows R analysed) and rmst_fixtures.json (case -> parameters +
# R's results). Tested with R 4.2, survival 3.5-3, jsonlite. The Python tests read only the
# CSV/JSON files, so they run without R.
#
# * RMST per group: summary(survfit(...), rmean = tau)$table (rmean, se(rmean)), i.e. what
#   print(fit, rmean = tau) shows. The contrasts follow survRM2::rmst2's published formulas
#   (survRM2 is not packaged for Debian; the formulas are written out below, as rmst2 has them).
# * IPTW RMST: the weighted KM with robust = TRUE; its variance is the infinitesimal jackknife,
#   obtained from survfit(..., influence = TRUE)$influence.surv integrated up to tau (and checked
#   against residuals.survfit(type = "rmst")).
# * Cumulative hazard: survfit(..., ctype = 1 | 2)$cumhaz and $std.chaz; the CI is what
#   plot(fit, cumhaz = TRUE) draws: survival:::survfit_confint(cumhaz, std.chaz, logse = FALSE,
#   conf.type, conf.int, ulimit = FALSE).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
stopifnot(packageVersion("survival") == "3.5.3")
dir.create("data", showWarnings = FALSE)
enc <- function(x) { if (is.numeric(x) && any(is.infinite(x))) { y <- as.list(x); y[is.infinite(x)] <- ifelse(x[is.infinite(x)] > 0, "Inf", "-Inf"); y } else x }
out <- list()
bundled <- function(name) read.csv(file.path("..", "..", "..", "src", "oligomet", "datasets", "data", paste0(name, ".csv")))

## ---------------------------------------------------------------- data sets
veteran <- bundled("veteran")                      # trt 1/2, celltype; no ties issue
lung <- bundled("lung"); lung$dead <- as.integer(lung$status == 2)
colon <- bundled("colon")
colon_death <- colon[colon$etype == 2, ]
# IPTW: ATE weights from a logistic propensity model for Lev+5FU vs Obs (the weights are data here)
cd <- colon_death[colon_death$rx %in% c("Obs", "Lev+5FU") & !is.na(colon_death$nodes), ]
cd$treated <- as.integer(cd$rx == "Lev+5FU")
ps <- fitted(glm(treated ~ age + sex + nodes + obstruct + perfor + adhere + extent, family = binomial, data = cd))
cd$iptw <- ifelse(cd$treated == 1, 1 / ps, 1 / (1 - ps))
write.csv(cd, "data/colon_iptw.csv", row.names = FALSE)

set.seed(20261204)
# heavy ties: integer months, three groups, integer and fractional weights, tied events of unequal weight
n <- 300
ties <- data.frame(time = pmin(rgeom(n, 0.07) + 1L, 30L), grp = sample(c("A", "B", "C"), n, TRUE))
ties$status <- as.integer(runif(n) < 0.7 & ties$time < 30)
ties$time[ties$grp == "C"] <- pmin(ties$time[ties$grp == "C"] + 3L, 30L)
ties$wt_int <- sample(1:3, n, TRUE)
ties$wt_frac <- round(runif(n, 0.2, 3), 3)
write.csv(ties, "data/ties.csv", row.names = FALSE)

# a small hand-checkable case (the Python tests also work it by hand)
small <- data.frame(time = c(2, 3, 3, 5, 6, 6, 8, 9, 1, 2, 4, 4, 7, 10),
                    status = c(1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 0),
                    grp = c(rep("a", 8), rep("b", 6)),
                    w = c(1, 2, 1, 0.5, 1.5, 1, 1, 2, 1, 1, 2.5, 0.5, 1, 1))
write.csv(small, "data/small.csv", row.names = FALSE)

# a curve that ends with an event (S reaches 0) in one group, censored in the other
ends <- data.frame(time = c(1, 2, 4, 5, 1, 3, 3, 6, 8), status = c(1, 0, 1, 1, 0, 1, 1, 1, 0),
                   grp = c(rep("dies", 4), rep("cens", 5)))
write.csv(ends, "data/ends.csv", row.names = FALSE)

cgd2 <- survival::cgd[, c("id", "treat", "sex", "age", "tstart", "tstop", "status", "enum")]
write.csv(cgd2, "data/cgd.csv", row.names = FALSE)
heart2 <- survival::heart
write.csv(heart2, "data/heart.csv", row.names = FALSE)

# (start, stop] rows with tied entries, ids with 1-3 contiguous rows (and one gap), fractional weights
set.seed(5)
m <- 80
pieces <- lapply(seq_len(m), function(i) {
  k <- sample(1:3, 1); cuts <- sort(sample(1:20, k + 1))
  data.frame(id = i, start = cuts[-(k + 1)], stop = cuts[-1], status = c(rbinom(k - 1, 1, 0.3), rbinom(1, 1, 0.5)))
})
multi <- do.call(rbind, pieces)
multi$grp <- ifelse(multi$id %% 2 == 0, "even", "odd")
multi$w <- round(runif(m, 0.5, 2), 2)[multi$id]
# one subject with a gap between its rows, so that R's n.censor rule (last row of a run) matters
multi <- rbind(multi, data.frame(id = 999, start = c(0, 6), stop = c(4, 11), status = c(0, 1), grp = "odd", w = 1))
write.csv(multi, "data/multi.csv", row.names = FALSE)

## ---------------------------------------------------------------- helpers
fit_of <- function(d, time, event, by, weights = NULL, start = NULL, id = NULL, robust = NULL, ctype = 1,
                   conf_type = "log", influence = FALSE) {
  y <- if (is.null(start)) sprintf("Surv(%s, %s)", time, event) else sprintf("Surv(%s, %s, %s)", start, time, event)
  f <- as.formula(paste(y, "~", if (is.null(by)) "1" else by))
  args <- list(formula = f, data = d, ctype = ctype, conf.type = conf_type)
  if (!is.null(weights)) args$weights <- d[[weights]]
  if (!is.null(id)) args$id <- d[[id]]
  if (!is.null(robust)) args$robust <- robust
  if (influence) args$influence <- TRUE
  do.call(survfit, args)
}
# survfitKM's rule when robust is not given: non-integer weights, or an id with more than one event
robust_default <- function(d, event, weights, cid, robust) {
  if (!is.null(robust)) return(robust)
  (!is.null(weights) && any(d[[weights]] != floor(d[[weights]]))) ||
    (!is.null(cid) && anyDuplicated(d[[cid]][d[[event]] == 1]) > 0)
}
levels_of <- function(fit) if (is.null(fit$strata)) "all" else sub("^[^=]*=", "", names(fit$strata))
curve <- function(fit, i) if (is.null(fit$strata)) fit else fit[i]
# n.censor with id= and (start, stop] rows: survival 3.5-3's survfitKM passes the whole data's run
# flags (survflag) with each group's subset of rows, so with several groups the flags belong to other
# rows (a display count only; curve and SEs are unaffected). The group fitted on its own gets them
# right, so its n.censor is the reference.
n_censor_alone <- function(d, time, event, by, level, start, cid, weights) {
  if (is.null(by) || is.null(cid) || is.null(start)) return(NULL)
  sub <- d[as.character(d[[by]]) == level, ]
  fit_of(sub, time, event, NULL, weights = weights, start = start, id = cid, robust = FALSE)$n.censor
}

## ---------------------------------------------------------------- RMST
# survRM2::rmst2 contrasts of group g against reference r, from each group's rmean and variance.
contrast <- function(m1, v1, m0, v0, tau, alpha = 0.05) {
  z <- qnorm(1 - alpha / 2)
  dse <- sqrt(v1 + v0); d <- m1 - m0
  lr <- log(m1) - log(m0); lrse <- sqrt(v1 / m1^2 + v0 / m0^2)
  lt <- log(tau - m1) - log(tau - m0); ltse <- sqrt(v1 / (tau - m1)^2 + v0 / (tau - m0)^2)
  list(difference = c(d, d - z * dse, d + z * dse, 2 * pnorm(-abs(d) / dse), dse),
       ratio = c(exp(lr), exp(lr - z * lrse), exp(lr + z * lrse), 2 * pnorm(-abs(lr) / lrse), lrse),
       rmtl_ratio = c(exp(lt), exp(lt - z * ltse), exp(lt + z * ltse), 2 * pnorm(-abs(lt) / ltse), ltse))
}
# survRM2's rmst1, written out: the area under the KM up to tau and its Greenwood-type variance
rmst_by_hand <- function(fi, tau) {
  idx <- fi$time <= tau
  tt <- sort(c(fi$time[idx], tau)); areas <- diff(c(0, tt)) * c(1, fi$surv[idx])
  h <- ifelse(fi$n.risk[idx] - fi$n.event[idx] == 0, 0, fi$n.event[idx] / (fi$n.risk[idx] * (fi$n.risk[idx] - fi$n.event[idx])))
  c(sum(areas), sum(cumsum(rev(areas[-1]))^2 * rev(c(h, 0))[-1]))
}
# IJ variance of RMST: the influence of each cluster on S, integrated up to tau
rmst_ij <- function(fit, i, tau) {
  fi <- curve(fit, i)
  infl <- if (is.list(fit$influence.surv)) fit$influence.surv[[i]] else fit$influence.surv
  keep <- fi$time <= tau
  tt <- c(fi$time[keep], tau); dt <- diff(tt)       # intervals after each kept time
  per_cluster <- if (sum(keep) > 0) as.vector(infl[, keep, drop = FALSE] %*% dt) else rep(0, nrow(infl))
  list(var = sum(per_cluster^2), influence = per_cluster, clusters = rownames(infl))
}

rmst_case <- function(id, file, d, time, event, by, tau, weights = NULL, robust = NULL, start = NULL,
                      cid = NULL, alpha = 0.05) {
  fit <- fit_of(d, time, event, by, weights = weights, start = start, id = cid, robust = robust)
  tab <- summary(fit, rmean = tau)$table
  if (is.null(dim(tab))) tab <- matrix(tab, nrow = 1, dimnames = list(NULL, names(tab)))
  lev <- levels_of(fit)
  robust_used <- !fit$logse
  groups <- list(); var <- numeric(0); est <- numeric(0); infl <- list()
  if (robust_used) ifit <- fit_of(d, time, event, by, weights = weights, start = start, id = cid, robust = TRUE,
                                  influence = TRUE)
  for (i in seq_along(lev)) {
    fi <- curve(fit, i)
    hand <- rmst_by_hand(fi, tau)
    stopifnot(abs(hand[1] - tab[i, "rmean"]) < 1e-10, abs(sqrt(hand[2]) - tab[i, "se(rmean)"]) < 1e-10)
    g <- list(level = lev[i], n = tab[i, "records"], events = tab[i, "events"], rmean = tab[i, "rmean"],
              se_rmean = tab[i, "se(rmean)"], last_time = max(fi$time))
    v <- tab[i, "se(rmean)"]^2
    if (robust_used) {
      ij <- rmst_ij(ifit, i, tau)
      g$se_ij <- sqrt(ij$var)
      v <- ij$var
      infl[[i]] <- ij
    }
    groups[[i]] <- g; var[i] <- v; est[i] <- tab[i, "rmean"]
  }
  contrasts <- list()
  for (i in seq_along(lev)[-1]) {
    contrasts[[length(contrasts) + 1]] <- c(list(level = lev[i], reference = lev[1]),
                                            contrast(est[i], var[i], est[1], var[1], tau, alpha))
  }
  out[[id]] <<- list(case = list(kind = "rmst", data = file, time = time, event = event, by = by, tau = tau,
                                 weights = weights, robust = robust, start = start, id = cid,
                                 conf_level = 1 - alpha),
                     expected = list(robust = robust_used, groups = groups, contrasts = contrasts))
}
rmst_case("rmst_veteran_365", "veteran", veteran, "time", "status", "trt", 365)
rmst_case("rmst_veteran_celltype_200", "veteran", veteran, "time", "status", "celltype", 200)
rmst_case("rmst_lung_sex_500", "lung", lung, "time", "dead", "sex", 500)
write.csv(veteran, "data/veteran.csv", row.names = FALSE); write.csv(lung, "data/lung.csv", row.names = FALSE)
rmst_case("rmst_ties_20", "ties", ties, "time", "status", "grp", 20)
rmst_case("rmst_ties_at_event_time", "ties", ties, "time", "status", "grp", 12)
rmst_case("rmst_ties_intweights", "ties", ties, "time", "status", "grp", 25, weights = "wt_int")
rmst_case("rmst_ties_fracweights_greenwood", "ties", ties, "time", "status", "grp", 25, weights = "wt_frac",
          robust = FALSE)
rmst_case("rmst_ties_fracweights_ij", "ties", ties, "time", "status", "grp", 25, weights = "wt_frac")
rmst_case("rmst_small", "small", small, "time", "status", "grp", 7)
rmst_case("rmst_small_weighted_ij", "small", small, "time", "status", "grp", 7, weights = "w")
rmst_case("rmst_ends_at_zero", "ends", ends, "time", "status", "grp", 8)
rmst_case("rmst_colon_iptw", "colon_iptw", cd, "time", "status", "rx", 2000, weights = "iptw")
rmst_case("rmst_colon_iptw_90ci", "colon_iptw", cd, "time", "status", "rx", 1500, weights = "iptw", alpha = 0.1)
rmst_case("rmst_heart_id", "heart", heart2, "stop", "event", "surgery", 300, start = "start", cid = "id",
          robust = TRUE)
# cross-check of the integrated influence against residuals.survfit(type = "rmst") (same IJ quantity)
chk <- fit_of(ties, "time", "status", NULL, weights = "wt_frac", robust = TRUE, influence = TRUE)
r1 <- residuals(chk, times = 25, type = "rmst", weighted = TRUE)   # influence.surv holds w_i x influence
stopifnot(abs(sum(r1^2) - rmst_ij(chk, 1, 25)$var) < 1e-10 * sum(r1^2))

## ---------------------------------------------------------------- cumulative hazard
chaz_case <- function(id, file, d, time, event, by, ctype, weights = NULL, robust = NULL, start = NULL, cid = NULL,
                      conf_type = "plain", conf_level = 0.95) {
  fit <- fit_of(d, time, event, by, weights = weights, start = start, id = cid, robust = robust, ctype = ctype)
  lev <- levels_of(fit)
  groups <- list()
  for (i in seq_along(lev)) {
    fi <- curve(fit, i)
    ci <- survival:::survfit_confint(fi$cumhaz, fi$std.chaz, logse = FALSE, conf_type, conf_level, ulimit = FALSE)
    nc <- n_censor_alone(d, time, event, by, lev[i], start, cid, weights)
    groups[[i]] <- list(level = lev[i], time = fi$time, n_risk = fi$n.risk, n_event = fi$n.event,
                        n_censor = if (is.null(nc)) fi$n.censor else nc, cumhaz = fi$cumhaz, std_chaz = enc(fi$std.chaz),
                        lower = ci$lower, upper = ci$upper)
  }
  out[[id]] <<- list(case = list(kind = "cumhaz", data = file, time = time, event = event, by = by, ctype = ctype,
                                 weights = weights, robust = robust, start = start, id = cid,
                                 conf_type = conf_type, conf_level = conf_level),
                     expected = list(robust = robust_default(d, event, weights, cid, robust), groups = groups))
}
for (ct in 1:2) {
  chaz_case(paste0("chaz_lung_sex_ctype", ct), "lung", lung, "time", "dead", "sex", ct)
  chaz_case(paste0("chaz_ties_ctype", ct), "ties", ties, "time", "status", "grp", ct, conf_type = "log")
  chaz_case(paste0("chaz_ties_pooled_ctype", ct), "ties", ties, "time", "status", NULL, ct)
  chaz_case(paste0("chaz_ties_intweights_ctype", ct), "ties", ties, "time", "status", "grp", ct, weights = "wt_int")
  chaz_case(paste0("chaz_ties_fracweights_ij_ctype", ct), "ties", ties, "time", "status", "grp", ct,
            weights = "wt_frac")
  chaz_case(paste0("chaz_ties_fracweights_plain_ctype", ct), "ties", ties, "time", "status", "grp", ct,
            weights = "wt_frac", robust = FALSE, conf_level = 0.9)
  chaz_case(paste0("chaz_ties_robust_unweighted_ctype", ct), "ties", ties, "time", "status", "grp", ct,
            robust = TRUE)
  chaz_case(paste0("chaz_small_weighted_ctype", ct), "small", small, "time", "status", "grp", ct, weights = "w")
  chaz_case(paste0("chaz_heart_entry_ctype", ct), "heart", heart2, "stop", "event", "surgery", ct, start = "start")
  chaz_case(paste0("chaz_cgd_id_ctype", ct), "cgd", cgd2, "tstop", "status", "treat", ct, start = "tstart",
            cid = "id", robust = TRUE, conf_type = "log")
  chaz_case(paste0("chaz_multi_id_weights_ctype", ct), "multi", multi, "stop", "status", "grp", ct,
            start = "start", cid = "id", weights = "w")
}

## ---------------------------------------------------------------- KM with id= (grouped robust variance)
km_id_case <- function(id, file, d, time, event, by, cid, start = NULL, weights = NULL, robust = TRUE,
                       conf_type = "log") {
  fit <- fit_of(d, time, event, by, weights = weights, start = start, id = cid, robust = robust,
                conf_type = conf_type)
  lev <- levels_of(fit)
  groups <- list()
  for (i in seq_along(lev)) {
    fi <- curve(fit, i)
    nc <- n_censor_alone(d, time, event, by, lev[i], start, cid, weights)
    groups[[i]] <- list(level = lev[i], time = fi$time, n_risk = fi$n.risk, n_event = fi$n.event,
                        n_censor = if (is.null(nc)) fi$n.censor else nc, survival = fi$surv, std_err = enc(fi$std.err),
                        lower = fi$lower, upper = fi$upper)
  }
  out[[id]] <<- list(case = list(kind = "km_id", data = file, time = time, event = event, by = by, id = cid,
                                 start = start, weights = weights, robust = robust, conf_type = conf_type),
                     expected = list(robust = !fit$logse, groups = groups))
}
km_id_case("km_id_cgd", "cgd", cgd2, "tstop", "status", "treat", "id", start = "tstart")
km_id_case("km_id_cgd_default_robust", "cgd", cgd2, "tstop", "status", "treat", "id", start = "tstart",
           robust = NULL, conf_type = "log-log")
km_id_case("km_id_colon_rx", "colon", colon, "time", "status", "rx", "id")
km_id_case("km_id_heart", "heart", heart2, "stop", "event", "surgery", "id", start = "start")
km_id_case("km_id_heart_default_greenwood", "heart", heart2, "stop", "event", "surgery", "id", start = "start",
           robust = NULL)
km_id_case("km_id_multi_weights", "multi", multi, "stop", "status", "grp", "id", start = "start", weights = "w",
           conf_type = "plain")
km_id_case("km_id_multi_pooled", "multi", multi, "stop", "status", NULL, "id", start = "start")

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = FALSE),
           "rmst_fixtures.json")
cat("wrote", length(out), "cases\n")
