# R reference for CoxResult.predict_survival(..., conf_int=True): survfit(fit, newdata) read by summary(times=).
# Run from the repository root: Rscript tests/reference/coxpredict/make_coxpredict_fixtures.R
suppressPackageStartupMessages({library(survival); library(jsonlite)})
out_dir <- "tests/reference/coxpredict"
lung <- read.csv("src/oligomet/datasets/data/lung.csv")
lung$dead <- as.integer(lung$status == 2)
heart <- read.csv("tests/reference/cox/data/heart_efron.csv")

case <- function(data, formula, ties, newdata, times, robust = FALSE) {
  fit <- coxph(as.formula(formula), data = data, ties = ties, robust = robust)
  s <- summary(survfit(fit, newdata = newdata), times = times, extend = TRUE)
  k <- nrow(newdata)
  shape <- function(v) unname(matrix(v, ncol = k))  # times x profiles (one stratum per profile)
  if (!is.null(s$strata)) {  # one curve per profile's stratum: pick each profile's own
    stop("use one stratum per call")
  }
  list(formula = formula, ties = ties, robust = robust, times = times, newdata = newdata,
       coef = unname(coef(fit)),
       survival = shape(s$surv), std_err = shape(s$std.err), lower = shape(s$lower), upper = shape(s$upper))
}

nd_lung <- data.frame(age = c(55, 70), sex = c(1, 2), ph.ecog = c(0, 2))
times <- c(100, 200, 365, 500, 800)
res <- list(
  lung_efron = case(lung, "Surv(time, dead) ~ age + sex + ph.ecog", "efron", nd_lung, times),
  lung_breslow = case(lung, "Surv(time, dead) ~ age + sex + ph.ecog", "breslow", nd_lung, times),
  lung_robust = case(lung, "Surv(time, dead) ~ age + sex + ph.ecog", "efron", nd_lung, times, robust = TRUE),
  heart_efron = case(heart, "Surv(start, stop, event) ~ age + year + surgery + transplant", "efron",
                     data.frame(age = c(-5, 5), year = c(2, 4), surgery = c(0, 1), transplant = c(1, 0)),
                     c(30, 100, 365, 1000)),
  heart_breslow = case(heart, "Surv(start, stop, event) ~ age + year + surgery + transplant", "breslow",
                       data.frame(age = c(0), year = c(3), surgery = c(1), transplant = c(1)), c(10, 200, 900))
)
# strata: one profile per stratum, each read from its own curve
fit <- coxph(Surv(time, dead) ~ age + ph.ecog + strata(sex), data = lung)
nd <- data.frame(age = c(60, 60), ph.ecog = c(1, 1), sex = c(1, 2))
sf <- survfit(fit, newdata = nd)
per <- lapply(1:2, function(i) summary(sf[i], times = times, extend = TRUE))
pick <- function(f) unname(do.call(cbind, lapply(per, function(s) s[[f]])))
res$lung_strata <- list(formula = "Surv(time, dead) ~ age + ph.ecog + strata(sex)", ties = "efron", robust = FALSE,
                        times = times, newdata = nd, coef = unname(coef(fit)),
                        survival = pick("surv"), std_err = pick("std.err"), lower = pick("lower"), upper = pick("upper"))
writeLines(toJSON(list(R = R.version.string, survival = as.character(packageVersion("survival")), cases = res),
                  auto_unbox = TRUE, digits = NA, na = "null", dataframe = "columns", matrix = "rowmajor"),
           file.path(out_dir, "coxpredict.json"))
cat("wrote", length(res), "cases\n")
