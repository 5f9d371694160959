# R reference values for oligomet's competing-risks tests (tests/competing/).
# Run from the repository root:  Rscript tests/reference/competing/make_competing_fixtures.R
# Writes tests/reference/competing/data/<case>.csv (the rows R analysed, before complete-case
# filtering) and tests/reference/competing/competing.json (cmprsk's results).
suppressPackageStartupMessages({library(survival); library(cmprsk); library(jsonlite)})
out_dir <- "tests/reference/competing"
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)
cases <- list()

write_data <- function(id, d) write.csv(d, file.path(out_dir, "data", paste0(id, ".csv")), row.names = FALSE, na = "")

# ---------------------------------------------------------------- datasets
mg <- mgus2
mg$etime <- ifelse(mg$pstat == 1, mg$ptime, mg$futime)
mg$event <- ifelse(mg$pstat == 1, 1, 2 * mg$death)
mg$sex <- as.character(mg$sex)
# three causes: progression; death with hgb >= 12 (or unknown); death with hgb < 12 (anaemic)
mg$event3 <- ifelse(mg$event == 2 & !is.na(mg$hgb) & mg$hgb < 12, 3, mg$event)
mg$agegrp <- as.character(cut(mg$age, c(0, 60, 75, Inf), labels = c("1_under60", "2_60to75", "3_over75")))
# whole years: many ties between causes and with censoring
mg$eyears <- ceiling(mg$etime / 12)

# colon: recurrence (1) vs death without recurrence (2), one row per patient
rec <- colon[colon$etype == 1, ]
dth <- colon[colon$etype == 2, ]
dth <- dth[match(rec$id, dth$id), ]
co <- rec[, c("id", "rx", "sex", "age", "nodes", "extent", "differ")]
co$rx <- as.character(co$rx)
co$time <- ifelse(rec$status == 1, rec$time, dth$time)
co$event <- ifelse(rec$status == 1, 1, 2 * dth$status)

# small synthetic set: 3 groups, 3 causes, failures at time 0, ties across causes and with censoring,
# group C without cause-2 failures, cause 3 only in group A
set.seed(20261123)
n <- 90
sy <- data.frame(group = rep(c("A", "B", "C"), each = 30), time = round(rexp(n, 0.1), 0))
sy$event <- sample(0:2, n, replace = TRUE, prob = c(0.3, 0.4, 0.3))
sy$event[sy$group == "C" & sy$event == 2] <- 1
sy$event[c(2, 5, 11)] <- 3
sy$time[c(1, 31)] <- 0; sy$event[c(1, 31)] <- c(1, 0)
sy$time[c(3, 4, 6)] <- 7; sy$event[c(3, 4, 6)] <- c(1, 2, 0)
sy$x1 <- round(rnorm(n), 2)
sy$x2 <- rbinom(n, 1, 0.5)
sy$status9 <- ifelse(sy$event == 0, 9, sy$event)

# ---------------------------------------------------------------- cuminc
curve_list <- function(fit) {
  fit <- fit[names(fit) != "Tests"]
  lapply(names(fit), function(nm) list(name = nm, time = fit[[nm]]$time, est = fit[[nm]]$est, var = fit[[nm]]$var))
}
add_cuminc <- function(id, d, time, event, group = NULL, strata = NULL, rho = 0, note = "") {
  write_data(id, d)
  args <- list(ftime = d[[time]], fstatus = d[[event]], rho = rho)
  if (!is.null(group)) args$group <- d[[group]]
  if (!is.null(strata)) args$strata <- d[[strata]]
  fit <- do.call(cuminc, args)
  ut <- sort(unique(d[[time]]))
  times <- sort(unique(c(-1, 0, ut, ut + 0.5, max(ut) + 1)))
  tp <- timepoints(fit, times)
  exp <- list(curves = curve_list(fit), times = times, at_names = rownames(tp$est),
              at_est = unname(tp$est), at_var = unname(tp$var))
  if (!is.null(fit$Tests)) exp$tests <- list(cause = rownames(fit$Tests), stat = unname(fit$Tests[, "stat"]),
                                            p_value = unname(fit$Tests[, "pv"]), df = unname(fit$Tests[, "df"]))
  cases[[id]] <<- list(kind = "cuminc", time = time, event = event, group = group, strata = strata, rho = rho,
                       note = note, expected = exp)
}

add_cuminc("cuminc_mgus2_sex", mg, "etime", "event", "sex")
add_cuminc("cuminc_mgus2_all", mg, "etime", "event", note = "no group: curves '1 1', '1 2'")
add_cuminc("cuminc_colon_rx", co, "time", "event", "rx", note = "3 groups")
add_cuminc("cuminc_colon_rx_strata_sex", co, "time", "event", "rx", strata = "sex", note = "stratified Gray test")
add_cuminc("cuminc_colon_rx_rho1", co, "time", "event", "rx", rho = 1, note = "Gray test rho = 1")
add_cuminc("cuminc_mgus2_3causes_agegrp", mg, "etime", "event3", "agegrp", note = "3 causes, 3 groups")
add_cuminc("cuminc_mgus2_years_ties", mg, "eyears", "event", "sex", note = "whole years: ties across causes")
add_cuminc("cuminc_synthetic", sy, "time", "event", "group",
           note = "time-0 failure, ties, group C has no cause 2, cause 3 only in group A")
# group D leaves (censored at 0.1) before any failure except the one at time 0: singular Gray variance
# for causes 2 and 3, where cmprsk reports stat = -1
sd <- rbind(sy, data.frame(group = "D", time = 0.1, event = 0, x1 = 0, x2 = 0, status9 = 9)[rep(1, 5), ])
add_cuminc("cuminc_synthetic_singular", sd, "time", "event", "group", note = "Gray statistic -1 in cmprsk")

# ---------------------------------------------------------------- crr
add_crr <- function(id, d, time, event, formula, terms, failcode = 1, cencode = 0, levels = list(),
                    profiles = NULL, note = "") {
  write_data(id, d)
  covs <- all.vars(formula)
  dd <- d[complete.cases(d[, covs, drop = FALSE]), ]
  for (v in names(levels)) dd[[v]] <- factor(dd[[v]], levels = levels[[v]])
  x <- model.matrix(formula, dd)[, -1, drop = FALSE]
  fit <- crr(dd[[time]], dd[[event]], x, failcode = failcode, cencode = cencode)
  exp <- list(terms = terms, coef = unname(fit$coef), se = unname(sqrt(diag(fit$var))), var = unname(fit$var),
              inf = unname(fit$inf), loglik = fit$loglik, loglik_null = fit$loglik.null, converged = fit$converged,
              n = fit$n, uftime = fit$uftime, bfitj = fit$bfitj)
  if (!is.null(profiles)) {
    pd <- profiles
    for (v in names(levels)) pd[[v]] <- factor(pd[[v]], levels = levels[[v]])
    px <- model.matrix(update(formula, NULL ~ .), pd)[, -1, drop = FALSE]
    pr <- predict(fit, px)
    exp$profiles <- profiles
    exp$predict_time <- unname(pr[, 1])
    exp$predict_cif <- unname(pr[, -1, drop = FALSE])
  }
  cases[[id]] <<- list(kind = "crr", time = time, event = event, covariates = covs, failcode = failcode,
                       cencode = cencode, levels = levels, note = note, expected = exp)
}

add_crr("crr_mgus2_cause1", mg, "etime", "event", ~ age + sex + hgb, c("age", "sex[M]", "hgb"),
        profiles = data.frame(age = c(70, 60), sex = c("M", "F"), hgb = c(13, 12)),
        note = "hgb has NA: complete cases")
add_crr("crr_mgus2_cause2", mg, "etime", "event", ~ age + sex + creat, c("age", "sex[M]", "creat"), failcode = 2)
add_crr("crr_colon_recurrence", co, "time", "event", ~ rx + sex + age + nodes + extent,
        c("rx[Lev]", "rx[Lev+5FU]", "sex", "age", "nodes", "extent"), levels = list(rx = c("Obs", "Lev", "Lev+5FU")),
        profiles = data.frame(rx = c("Obs", "Lev+5FU"), sex = c(0, 1), age = c(60, 70), nodes = c(2, 5), extent = c(3, 3)),
        note = "factor with a non-alphabetical reference level; nodes has NA")
add_crr("crr_mgus2_years_ties", mg, "eyears", "event3", ~ age + sex, c("age", "sex[M]"), failcode = 3,
        note = "whole years, 3 causes, cause 3")
add_crr("crr_synthetic_cencode9", sy, "time", "status9", ~ x1 + x2 + group, c("x1", "x2", "group[B]", "group[C]"),
        cencode = 9, levels = list(group = c("A", "B", "C")),
        profiles = data.frame(x1 = c(0, 1), x2 = c(0, 1), group = c("A", "C")),
        note = "cencode = 9, censoring and failure at time 0")

# ---------------------------------------------------------------- small random sets with heavy ties
# integer times 0..6 (ties everywhere, failures and censorings at 0, the last time often all failures,
# so the all-cause KM reaches 0), 3 groups, up to 3 causes; cuminc and crr on each
set.seed(5)
for (r in 1:6) {
  n <- 45
  rs <- data.frame(time = sample(0:6, n, replace = TRUE), event = sample(0:3, n, replace = TRUE),
                   group = sample(c("g1", "g2", "g3"), n, replace = TRUE), x1 = round(rnorm(n), 1),
                   x2 = rbinom(n, 1, 0.4))
  add_cuminc(sprintf("cuminc_random_%d", r), rs, "time", "event", "group", note = "random heavy ties")
  ok <- tryCatch({add_crr(sprintf("crr_random_%d", r), rs, "time", "event", ~ x1 + x2, c("x1", "x2"),
                          note = "random heavy ties"); TRUE}, error = function(e) FALSE)
}

# ---------------------------------------------------------------- cause-specific Cox
# coxph on the cause-specific indicator: failures of other causes are censored at their time
add_csc <- function(id, d, time, event, cause, formula, terms, levels = list(), note = "") {
  write_data(id, d)
  covs <- all.vars(formula)
  dd <- d
  for (v in names(levels)) dd[[v]] <- factor(dd[[v]], levels = levels[[v]])
  dd$cs_event <- as.integer(dd[[event]] == cause)
  dd$cs_time <- dd[[time]]
  fit <- coxph(update(formula, Surv(cs_time, cs_event) ~ .), data = dd, ties = "efron")
  cases[[id]] <<- list(kind = "csc", time = time, event = event, cause = cause, covariates = covs,
                       levels = levels, note = note,
                       expected = list(terms = terms, coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))),
                                       loglik = fit$loglik, n = fit$n, n_event = fit$nevent))
}
add_csc("csc_colon_recurrence", co, "time", "event", 1, ~ rx + sex + age + nodes + extent,
        c("rx[Lev]", "rx[Lev+5FU]", "sex", "age", "nodes", "extent"), levels = list(rx = c("Obs", "Lev", "Lev+5FU")))
add_csc("csc_mgus2_death", mg, "etime", "event", 2, ~ age + sex + hgb, c("age", "sex[M]", "hgb"))

writeLines(toJSON(cases, digits = NA, na = "null", auto_unbox = TRUE, null = "null"),
           file.path(out_dir, "competing.json"))
cat("wrote", length(cases), "cases\n")
