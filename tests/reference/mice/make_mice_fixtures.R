# R reference values for oligomet's multiple-imputation tests (tests/missing/).
# Run from the repository root:  Rscript tests/reference/mice/make_mice_fixtures.R
#
# For each case, mice (3.15) imputes a bundled dataset (seeded), the m completed datasets are written
# to tests/reference/mice/data/<case>.csv (long format, column .imp = 1..m), R fits the analysis model on
# each and mice::pool() pools them. mice.json holds, per case and model: the per-imputation estimates and
# standard errors, and every column of pool()$pooled and summary(pool, conf.int = TRUE).
# The Python tests fit oligomet's models on the SAME completed datasets and pool them (Rubin's rules
# must agree to 1e-8); the imputations themselves are random and are tested by simulation instead.
# Also written: mice::nelsonaalen on each case and on a tie-heavy example, and the deterministic parts of
# the imputation methods (augment, remove.lindep, glm.fit and nnet::multinom on augmented data).
suppressPackageStartupMessages({library(survival); library(cmprsk); library(mice); library(broom); library(jsonlite)})
out_dir <- "tests/reference/mice"
dir.create(file.path(out_dir, "data"), showWarnings = FALSE, recursive = TRUE)

# crr has no broom methods: tidy gives crr's coefficients and sandwich SEs, as summary.crr
tidy.crr <- function(x, ...) data.frame(term = names(x$coef), estimate = unname(x$coef),
                                        std.error = sqrt(diag(x$var)), stringsAsFactors = FALSE)
glance.crr <- function(x, ...) data.frame(nobs = x$n)
registerS3method("tidy", "crr", tidy.crr, envir = asNamespace("generics"))
registerS3method("glance", "crr", glance.crr, envir = asNamespace("generics"))

pooled_json <- function(fits, dfcom = NULL) {
  p <- pool(as.mira(fits), dfcom = dfcom)
  s <- summary(p, conf.int = TRUE, type = "all")
  per_fit <- unname(lapply(fits, function(f) { t <- tidy(f); list(term = t$term, estimate = t$estimate,
    std.error = if ("robust.se" %in% names(t)) t$robust.se else t$std.error) }))
  list(term = as.character(p$pooled$term), m = p$pooled$m, estimate = p$pooled$estimate, ubar = p$pooled$ubar,
       b = p$pooled$b, t = p$pooled$t, dfcom = p$pooled$dfcom, df = p$pooled$df, riv = p$pooled$riv,
       lambda = p$pooled$lambda, fmi = p$pooled$fmi, std.error = s$std.error, statistic = s$statistic,
       p.value = s$p.value, conf.low = s[["2.5 %"]], conf.high = s[["97.5 %"]], per_fit = per_fit)
}

write_long <- function(id, imp) {
  long <- complete(imp, action = "long")
  long$.id <- NULL
  long <- long[, !startsWith(names(long), "haz"), drop = FALSE]   # the Nelson-Aalen columns are in mice.json
  write.csv(long, file.path(out_dir, "data", paste0(id, ".csv")), row.names = FALSE, na = "")
  long
}

by_imp <- function(long) split(long, long$.imp)
out <- list(mice_version = as.character(packageVersion("mice")), survival_version = as.character(packageVersion("survival")),
            cmprsk_version = as.character(packageVersion("cmprsk")), cases = list())

# ---------------------------------------------------------------- lung: pmm on five incomplete numeric columns
lu <- lung[, c("time", "status", "age", "sex", "ph.ecog", "ph.karno", "pat.karno", "meal.cal", "wt.loss")]
lu$status <- lu$status - 1
lu$haz <- nelsonaalen(lu, time, status)   # White & Royston (2009): event + H(T) as predictors, not T
pred <- make.predictorMatrix(lu)
pred[, "time"] <- 0
imp <- mice(lu, m = 10, maxit = 10, predictorMatrix = pred, seed = 20261204, printFlag = FALSE)
long <- write_long("lung", imp)
d <- by_imp(long)
cox_fits <- lapply(d, function(x) coxph(Surv(time, status) ~ age + sex + ph.ecog + meal.cal + wt.loss, data = x))
glm_fits <- lapply(d, function(x) glm(status ~ age + sex + ph.karno + wt.loss, family = binomial, data = x))
out$cases$lung <- list(m = imp$m, method = as.list(imp$method), nelsonaalen = lu$haz,
                       cox = pooled_json(cox_fits), logistic = pooled_json(glm_fits))

# ---------------------------------------------------------------- colon (deaths): pmm for nodes, polyreg for differ
co <- colon[colon$etype == 2, c("time", "status", "rx", "sex", "age", "obstruct", "nodes", "differ", "extent")]
co$rx <- as.character(co$rx)
co$differ <- factor(co$differ, labels = c("well", "moderate", "poor"))
co$haz <- nelsonaalen(co, time, status)
pred <- make.predictorMatrix(co)
pred[, "time"] <- 0
co$rx <- factor(co$rx)
imp <- mice(co, m = 5, maxit = 10, predictorMatrix = pred, seed = 20261205, printFlag = FALSE)
long <- write_long("colon", imp)
d <- by_imp(long)
cox_fits <- lapply(d, function(x) coxph(Surv(time, status) ~ rx + age + nodes + differ, data = x))
rob_fits <- lapply(d, function(x) coxph(Surv(time, status) ~ rx + age + nodes + differ, data = x, robust = TRUE))
glm_fits <- lapply(d, function(x) glm(status ~ rx + age + nodes + differ + obstruct, family = binomial, data = x))
out$cases$colon <- list(m = imp$m, method = as.list(imp$method), nelsonaalen = co$haz,
                        cox = pooled_json(cox_fits), cox_robust = pooled_json(rob_fits), logistic = pooled_json(glm_fits))

# ---------------------------------------------------------------- mgus2: Fine-Gray (crr) for progression
mg <- mgus2
mg$etime <- ifelse(mg$pstat == 1, mg$ptime, mg$futime)
mg$event <- ifelse(mg$pstat == 1, 1, 2 * mg$death)
mg <- mg[, c("etime", "event", "age", "sex", "hgb", "creat", "mspike")]
mg$sex <- as.character(mg$sex)
mg$haz1 <- nelsonaalen(transform(mg, e1 = as.integer(event == 1)), etime, e1)
mg$haz2 <- nelsonaalen(transform(mg, e2 = as.integer(event == 2)), etime, e2)
mg$sex <- factor(mg$sex)
mg$event <- factor(mg$event)
pred <- make.predictorMatrix(mg)
pred[, "etime"] <- 0
imp <- mice(mg, m = 5, maxit = 10, predictorMatrix = pred, seed = 20261206, printFlag = FALSE)
long <- write_long("mgus2", imp)
d <- by_imp(long)
fg_fits <- lapply(d, function(x) crr(x$etime, as.integer(as.character(x$event)),
                                     model.matrix(~ age + sex + hgb + creat + mspike, x)[, -1], failcode = 1, cencode = 0))
n_cause <- sum(mg$event == "1")
out$cases$mgus2 <- list(m = imp$m, method = as.list(imp$method), nelsonaalen1 = mg$haz1, nelsonaalen2 = mg$haz2,
                        n_cause = n_cause,
                        fine_gray = pooled_json(fg_fits, dfcom = max(n_cause - 5, 1)),
                        fine_gray_nobs = pooled_json(fg_fits))

# ---------------------------------------------------------------- nelsonaalen with heavy ties
ti <- data.frame(time = c(1, 1, 1, 2, 3, 3, 4, 4, 4, 6, 6, 7), status = c(1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0))
out$nelsonaalen_ties <- list(time = ti$time, status = ti$status, hazard = nelsonaalen(ti, time, status))

# ---------------------------------------------------------------- the deterministic parts of the methods
# mice's augment() on a small case: 3 categories, 2 predictors (one clipped at its range), 4 rows missing
set.seed(7)
ax <- cbind(a = round(rnorm(20, 5, 2), 3), b = c(0, 0, 0, rep(1, 17)))
ay <- factor(c("p", "q", "r")[c(1, 2, 3, 1, 2, 3, 1, 1, 2, 2, 3, 3, 1, 2, 3, 1, 2, 3, 1, 2)])
ary <- rep(TRUE, 20); ary[c(4, 9, 13, 18)] <- FALSE
aug <- mice:::augment(ay, ary, ax, !ary)
out$augment <- list(x = unname(as.list(as.data.frame(ax))), y = as.integer(ay) - 1L, ry = ary,
                    x_aug = unname(as.list(as.data.frame(aug$x))), y_aug = as.integer(aug$y) - 1L, w = aug$w)
# glm.fit (quasibinomial, augmentation weights) and nnet::multinom on the augmented data, as logreg/polyreg
fit <- glm.fit(cbind(1, as.matrix(aug$x))[aug$ry, ], as.integer(aug$y[aug$ry] == "r"), weights = aug$w[aug$ry],
               family = quasibinomial(link = logit), control = glm.control(epsilon = 1e-14, maxit = 100))
out$augment$logistic_coef <- unname(coef(fit))
out$augment$logistic_cov_unscaled <- unname(as.list(as.data.frame(summary.glm(fit)$cov.unscaled)))
xy <- data.frame(y = aug$y, aug$x)[aug$ry, ]
mn <- nnet::multinom(y ~ a + b, data = xy, weights = aug$w[aug$ry], trace = FALSE, reltol = 1e-14, abstol = 1e-14,
                     maxit = 1000)
out$augment$multinom_coef <- unname(as.list(as.data.frame(t(coef(mn)))))
# remove.lindep: a constant predictor, one correlated >= 0.99 with y, an exact linear combination
set.seed(8)
n <- 60
x1 <- rnorm(n); x2 <- rnorm(n); y <- x1 + rnorm(n)
lx <- cbind(x1 = x1, x2 = x2, const = rep(c(1, 1.001), 30), near_y = y + rnorm(n, sd = 0.01), combo = x1 + 2 * x2,
            x3 = rnorm(n))
lry <- rep(c(TRUE, TRUE, FALSE), 20)
state <- list(it = 0, im = 0, dep = "", meth = "", log = FALSE)   # remove.lindep logs into these
loggedEvents <- data.frame(it = 0, im = 0, dep = "", meth = "", out = "")
out$lindep <- list(x = unname(as.list(as.data.frame(lx))), names = colnames(lx), y = y, ry = lry,
                   keep = unname(mice:::remove.lindep(lx, y, lry)))

write_json(out, file.path(out_dir, "mice.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(out_dir, "mice.json"), "\n")
