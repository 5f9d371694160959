# R reference values for oligomet.cox (tests/survival/test_cox_reference.py).
# Run from this folder:  Rscript make_cox_fixtures.R
# Writes cox_fixtures.json and data/<case>.csv (the exact rows given to coxph, before R's own NA handling).
# R 4.2, survival 3.5-3.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
dir.create("data", showWarnings = FALSE)

cases <- list()

run_case <- function(id, data, formula, py, ties = "efron", weights = NULL, robust = FALSE,
                     newdata = NULL, times = NULL) {
  write.csv(data, file.path("data", paste0(id, ".csv")), row.names = FALSE, na = "NA")
  warn <- character(0)
  args <- list(formula = as.formula(formula), data = data, ties = ties)
  if (!is.null(weights)) args$weights <- data[[weights]]
  if (robust) args$robust <- TRUE
  fit <- withCallingHandlers(do.call(coxph, args),
                             warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") })
  s <- summary(fit)
  exp <- list(
    terms = names(coef(fit)),
    coef = unname(coef(fit)),
    se = unname(sqrt(diag(if (is.null(fit$naive.var)) fit$var else fit$naive.var))),
    robust_se = if (is.null(fit$naive.var)) NULL else unname(sqrt(diag(fit$var))),
    loglik = fit$loglik,
    n = fit$n, n_event = fit$nevent,
    n_dropped = length(fit$na.action),
    iter = fit$iter,
    score_test = unname(fit$score),
    wald_test = unname(fit$wald.test),
    lr_test = unname(2 * diff(fit$loglik)),
    robust_score = if (is.null(fit$rscore)) NULL else unname(fit$rscore),
    concordance = unname(fit$concordance["concordance"]),
    hr_lower = unname(s$conf.int[, "lower .95"]),
    hr_upper = unname(s$conf.int[, "upper .95"]),
    p = unname(s$coefficients[, ncol(s$coefficients)]),
    warnings = warn
  )
  if (!is.null(newdata)) {
    sf <- summary(survfit(fit, newdata = newdata), times = times, extend = TRUE)
    exp$predict <- list(times = times, survival = unname(as.matrix(sf$surv)))
    py$newdata <- newdata
  }
  py$id <- id
  py$ties <- ties
  py$r_formula <- formula
  cases[[id]] <<- list(case = py, expected = exp)
}

vet <- survival::veteran
lung <- survival::lung
lung$dead <- as.integer(lung$status == 2)
colon2 <- subset(survival::colon, etype == 2)

# 1-2. Heavy ties: veteran times coarsened to 30-day bins (128 events on 22 distinct times).
v30 <- data.frame(time = ceiling(vet$time / 30), status = vet$status, karno = vet$karno, age = vet$age,
                  trt = vet$trt, prior = vet$prior)
for (tt in c("efron", "breslow"))
  run_case(paste0("ties30_", tt), v30, "Surv(time, status) ~ karno + age + trt + prior",
           list(time = "time", event = "status", covariates = list("karno", "age", "trt", "prior")), ties = tt)

# 3. Case weights (non-integer), with ties.
lw <- lung[, c("time", "dead", "age", "sex", "ph.ecog")]
lw$w <- 0.5 + (seq_len(nrow(lw)) %% 4) / 3
run_case("weights_lung", lw, "Surv(time, dead) ~ age + sex + ph.ecog",
         list(time = "time", event = "dead", covariates = list("age", "sex", "ph.ecog"), weights = "w"),
         weights = "w")

# 4. Strata including a stratum with a single event and an all-censored stratum.
vs <- data.frame(time = vet$time, status = vet$status, karno = vet$karno, age = vet$age,
                 cell = as.character(vet$celltype))
extra1 <- data.frame(time = c(5, 40, 80, 120), status = c(0, 1, 0, 0), karno = c(60, 70, 50, 80),
                     age = c(60, 55, 70, 65), cell = "single")
extra2 <- data.frame(time = c(10, 30, 90), status = c(0, 0, 0), karno = c(40, 90, 60),
                     age = c(50, 62, 58), cell = "censored")
vs <- rbind(vs, extra1, extra2)
run_case("strata_single_and_censored", vs, "Surv(time, status) ~ karno + age + strata(cell)",
         list(time = "time", event = "status", covariates = list("karno", "age"), strata = "cell"),
         newdata = data.frame(karno = c(60, 60), age = c(60, 60), cell = c("large", "single")),
         times = c(10, 50, 100))

# 5. Events at time 0 (and a censoring at 0).
z0 <- data.frame(time = vet$time, status = vet$status, karno = vet$karno, trt = vet$trt)
z0$time[1:3] <- 0; z0$status[1:3] <- c(1, 1, 0)
run_case("event_at_zero", z0, "Surv(time, status) ~ karno + trt",
         list(time = "time", event = "status", covariates = list("karno", "trt")))

# 6. A covariate that separates perfectly: every event has x = 1 before day 100, none after.
sep <- data.frame(time = vet$time, status = vet$status, karno = vet$karno)
sep$x <- as.integer(sep$status == 1 & sep$time < 100)
run_case("separation", sep, "Surv(time, status) ~ x + karno",
         list(time = "time", event = "status", covariates = list("x", "karno")))

# 7. Categorical coding: factor rx (R's sorted levels: Lev, Lev+5FU, Obs) and sex with reference 1.
cc <- colon2[, c("time", "status", "rx", "sex", "age", "nodes")]
cc$rx <- as.character(cc$rx)
cc$sex1 <- factor(cc$sex, levels = c(1, 0))
run_case("categorical_rx", cc, "Surv(time, status) ~ factor(rx) + sex1 + age",
         list(time = "time", event = "status", covariates = "C(rx) + C(sex, ref=1) + age"),
         newdata = data.frame(rx = c("Obs", "Lev+5FU"), sex1 = factor(c(1, 0), levels = c(1, 0)),
                              sex = c(1, 0), age = c(60, 60)),
         times = c(365, 1000, 2000))

# 8. Cluster: colon recurrence and death, clustered by patient id (robust sandwich, grouped dfbeta).
cl <- survival::colon[, c("id", "time", "status", "rx", "age", "nodes", "etype")]
cl$rx <- as.character(cl$rx)
run_case("cluster_colon_id", cl, "Surv(time, status) ~ factor(rx) + age + nodes + strata(etype) + cluster(id)",
         list(time = "time", event = "status", covariates = list("C(rx)", "age", "nodes"), strata = "etype",
              cluster = "id"))

# 9. robust = TRUE without clusters, Breslow ties.
lr <- lung[, c("time", "dead", "age", "sex", "ph.karno")]
run_case("robust_lung_breslow", lr, "Surv(time, dead) ~ age + sex + ph.karno",
         list(time = "time", event = "dead", covariates = list("age", "sex", "ph.karno"), robust = TRUE),
         ties = "breslow", robust = TRUE)

# 10. lung with missing values in several covariates: n dropped = length(fit$na.action).
lm <- lung[, c("time", "dead", "age", "sex", "ph.ecog", "meal.cal", "wt.loss")]
run_case("lung_missing", lm, "Surv(time, dead) ~ age + sex + ph.ecog + meal.cal + wt.loss",
         list(time = "time", event = "dead", covariates = list("age", "sex", "ph.ecog", "meal.cal", "wt.loss")))

# 11. Weights + strata + Efron ties together (mgus2, progression-free... death endpoint, integer months).
mg <- survival::mgus2[, c("futime", "death", "age", "hgb", "sex")]
mg$sex <- as.character(mg$sex)
mg$w <- ifelse(mg$sex == "F", 1.5, 1)
run_case("mgus2_weights_strata", mg, "Surv(futime, death) ~ age + hgb + strata(sex)",
         list(time = "futime", event = "death", covariates = list("age", "hgb"), strata = "sex", weights = "w"),
         weights = "w")

# 12. Many small strata (matched-set style): colon deaths in sets of 4 consecutive complete rows.
ms <- colon2[!is.na(colon2$nodes), c("time", "status", "age", "nodes")]
ms$set <- (seq_len(nrow(ms)) - 1) %/% 4
run_case("many_strata", ms, "Surv(time, status) ~ age + nodes + strata(set)",
         list(time = "time", event = "status", covariates = list("age", "nodes"), strata = "set"))

# 13-16. Formula terms: interactions (numeric x numeric, factor x numeric, factor x factor) and transformations.
ln <- lung[, c("time", "dead", "age", "sex", "ph.karno")]
run_case("interaction_numeric", ln, "Surv(time, dead) ~ age + sex + age:sex",
         list(time = "time", event = "dead", covariates = "age + sex + age:sex"))
cf <- colon2[, c("time", "status", "rx", "sex", "age", "nodes")]
cf$rx <- as.character(cf$rx)
run_case("interaction_factor_numeric", cf, "Surv(time, status) ~ factor(rx) * age + sex",
         list(time = "time", event = "status", covariates = "C(rx) * age + sex"),
         newdata = data.frame(rx = c("Obs", "Lev+5FU"), age = c(50, 70), sex = c(1, 0)), times = c(365, 1000))
run_case("interaction_two_factors", cf, "Surv(time, status) ~ factor(rx) * factor(sex)",
         list(time = "time", event = "status", covariates = list("C(rx)", "C(sex)", "C(rx):C(sex)")))
run_case("transformed_terms", cf, "Surv(time, status) ~ I(age/10) + log(nodes + 1) + I(nodes > 4)",
         list(time = "time", event = "status", covariates = "I(age/10) + log(nodes + 1) + I(nodes > 4)"))

# 17-21. Counting-process data, Surv(start, stop, event): rows at risk on (start, stop].
# Stanford heart transplant (R survival's heart; transplant is a time-varying covariate).
hr <- survival::heart
hr$transplant <- as.integer(as.character(hr$transplant))
for (tt in c("efron", "breslow"))
  run_case(paste0("heart_", tt), hr, "Surv(start, stop, event) ~ age + year + surgery + transplant",
           list(time = "stop", event = "event", start = "start",
                covariates = list("age", "year", "surgery", "transplant")), ties = tt,
           newdata = data.frame(age = c(-5, 5), year = c(3, 4), surgery = c(0, 1), transplant = c(1, 0)),
           times = c(10, 50, 200, 800))
run_case("heart_cluster", hr, "Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id)",
         list(time = "stop", event = "event", start = "start", cluster = "id",
              covariates = list("age", "year", "surgery", "transplant")))
run_case("heart_strata", hr, "Surv(start, stop, event) ~ age + year + transplant + strata(surgery)",
         list(time = "stop", event = "event", start = "start", strata = "surgery",
              covariates = list("age", "year", "transplant")))
# Heavy ties in integer start/stop times, a time-varying covariate, delayed entry, fractional weights.
set.seed(7)
cp <- do.call(rbind, lapply(1:300, function(i) {
  entry <- sample(0:3, 1)                                     # delayed entry for most subjects
  cuts <- sort(unique(c(entry, entry + sample(1:17, sample(1:3, 1)))))
  k <- length(cuts) - 1
  data.frame(id = i, start = cuts[-(k + 1)], stop = cuts[-1], event = c(rep(0, k - 1), rbinom(1, 1, 0.6)),
             x = rnorm(1) + 0.3 * seq_len(k), z = rbinom(1, 1, 0.5), w = round(runif(1, 0.5, 2), 1))
}))
run_case("counting_ties_weights", cp, "Surv(start, stop, event) ~ x + z",
         list(time = "stop", event = "event", start = "start", covariates = list("x", "z"), weights = "w"),
         weights = "w", newdata = data.frame(x = c(0, 1), z = c(1, 0)), times = c(2, 5, 9, 15))

writeLines(toJSON(cases, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           "cox_fixtures.json")
cat("wrote", length(cases), "cases\n")
