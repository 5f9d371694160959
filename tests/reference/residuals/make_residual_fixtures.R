# Cox residuals as R's residuals.coxph (survival 3.5-3), for tests/survival/test_residuals.py.
# Run from the repo root: Rscript tests/reference/residuals/make_residual_fixtures.R
# Each case stores its data (so the tests need no R data sets), the model, and every residual type.
library(survival)
library(jsonlite)

types <- c("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas")

residual_set <- function(fit, collapse = NULL) {
  out <- list(coef = unname(coef(fit)), terms = names(coef(fit)), nevent = fit$nevent)
  for (ty in types) {
    r <- residuals(fit, type = ty)
    if (ty %in% c("schoenfeld", "scaledsch")) {
      m <- as.matrix(r)
      out[[ty]] <- list(time = as.numeric(rownames(m)), values = unname(m))
      if (!is.null(attr(r, "strata"))) out[[ty]]$strata_counts <- as.vector(attr(r, "strata"))
    } else {
      out[[ty]] <- unname(as.matrix(r))
    }
  }
  # weighted = TRUE for the types whose default is unweighted, and unweighted dfbeta
  out$martingale_weighted <- unname(as.matrix(residuals(fit, type = "martingale", weighted = TRUE)))
  out$score_weighted <- unname(as.matrix(residuals(fit, type = "score", weighted = TRUE)))
  out$dfbeta_unweighted <- unname(as.matrix(residuals(fit, type = "dfbeta", weighted = FALSE)))
  out$schoenfeld_weighted <- unname(as.matrix(residuals(fit, type = "schoenfeld", weighted = TRUE)))
  if (!is.null(collapse)) {
    for (ty in c("martingale", "deviance", "score", "dfbeta", "dfbetas")) {
      r <- residuals(fit, type = ty, collapse = collapse)
      out[[paste0(ty, "_collapsed")]] <- list(ids = as.numeric(rownames(as.matrix(r))), values = unname(as.matrix(r)))
    }
  }
  out
}

cases <- list()
add <- function(name, data, fit, spec, collapse = NULL) {
  # rows analysed (na.omit): their 0-based positions in `data`
  used <- if (is.null(fit$na.action)) seq_len(nrow(data)) else seq_len(nrow(data))[-fit$na.action]
  cases[[name]] <<- c(list(data = data, spec = spec, rows = used - 1L), residual_set(fit, collapse))
}

# --- Therneau's hand-worked book examples (survival's tests/book1-6.R data sets) -----------------------
test1 <- data.frame(time = c(9, 3, 1, 1, 6, 6, 8), status = c(1, NA, 1, 0, 1, 1, 0), x = c(0, 2, 1, 1, 1, 0, 0))
test1c <- test1[!is.na(test1$status), ]          # the row with a missing status is dropped before the fit
for (m in c("breslow", "efron")) {
  add(paste0("book1_", m), test1c, coxph(Surv(time, status) ~ x, test1c, ties = m),
      list(covariates = list("x"), ties = m))
}
test2 <- data.frame(start = c(1, 2, 5, 2, 1, 7, 3, 4, 8, 8), stop = c(2, 3, 6, 7, 8, 9, 9, 9, 14, 17),
                    event = c(1, 1, 1, 1, 1, 1, 1, 0, 0, 0), x = c(1, 0, 0, 1, 0, 1, 1, 1, 0, 0))
for (m in c("breslow", "efron")) {
  add(paste0("book3_", m), test2, coxph(Surv(start, stop, event) ~ x, test2, ties = m),
      list(covariates = list("x"), ties = m, start = "start", time = "stop", event = "event"))
}
testw1 <- data.frame(time = c(1, 1, 2, 2, 2, 2, 3, 4, 5), status = c(1, 0, 1, 1, 1, 0, 0, 1, 0),
                     x = c(2, 0, 1, 1, 0, 1, 0, 1, 0), wt = c(1, 2, 3, 4, 3, 2, 1, 2, 1))
for (m in c("breslow", "efron")) {
  add(paste0("book5_", m), testw1, coxph(Surv(time, status) ~ x, testw1, weights = wt, ties = m),
      list(covariates = list("x"), ties = m, weights = "wt"))
}

# --- lung, rows with NA dropped by the fit -----------------------------------------------------------------
lung2 <- lung[, c("time", "status", "age", "sex", "ph.ecog", "wt.loss")]
lung2$status <- lung2$status - 1
names(lung2)[5:6] <- c("ecog", "wtloss")
for (m in c("efron", "breslow")) {
  add(paste0("lung_", m), lung2, coxph(Surv(time, status) ~ age + sex + ecog + wtloss, lung2, ties = m),
      list(covariates = list("age", "sex", "ecog", "wtloss"), ties = m))
}
# stratified: strata(sex)
add("lung_strata", lung2, coxph(Surv(time, status) ~ age + ecog + wtloss + strata(sex), lung2),
    list(covariates = list("age", "ecog", "wtloss"), ties = "efron", strata = "sex"))

# --- colon deaths with a factor -----------------------------------------------------------------------------
col2 <- subset(colon, etype == 2)[, c("time", "status", "rx", "nodes", "age")]
col2$rx <- as.character(col2$rx)
rownames(col2) <- NULL
add("colon_factor", col2, coxph(Surv(time, status) ~ factor(rx) + nodes + age, col2),
    list(covariates = list("C(rx)", "nodes", "age"), ties = "efron"))

# --- heart: (start, stop] with cluster(id); collapse = id ---------------------------------------------------
heart2 <- heart
heart2$transplant <- as.numeric(as.character(heart2$transplant))
for (m in c("efron", "breslow")) {
  add(paste0("heart_", m), heart2,
      coxph(Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id), heart2, ties = m),
      list(covariates = list("age", "year", "surgery", "transplant"), ties = m, start = "start", time = "stop",
           event = "event", cluster = "id", collapse = "id"), collapse = heart2$id)
}
# heart stratified by surgery, with weights: (start, stop], strata and weights together
set.seed(12)
heart3 <- heart2
heart3$w <- round(runif(nrow(heart3), 0.5, 2), 2)
add("heart_strata_weighted", heart3,
    coxph(Surv(start, stop, event) ~ age + year + transplant + strata(surgery), heart3, weights = w),
    list(covariates = list("age", "year", "transplant"), ties = "efron", start = "start", time = "stop",
         event = "event", strata = "surgery", weights = "w", collapse = "id"), collapse = heart3$id)

# --- heavy ties with fractional case weights, two strata ----------------------------------------------------
set.seed(2026)
n <- 300
tw <- data.frame(time = sample(1:25, n, replace = TRUE), status = rbinom(n, 1, 0.7),
                 x1 = rnorm(n), x2 = rbinom(n, 1, 0.4), g = sample(c("a", "b"), n, replace = TRUE),
                 w = round(runif(n, 0.2, 3), 3), id = rep(1:150, each = 2))
for (m in c("efron", "breslow")) {
  add(paste0("tied_weighted_", m), tw, coxph(Surv(time, status) ~ x1 + x2, tw, weights = w, ties = m),
      list(covariates = list("x1", "x2"), ties = m, weights = "w", collapse = "id"), collapse = tw$id)
  add(paste0("tied_weighted_strata_", m), tw,
      coxph(Surv(time, status) ~ x1 + x2 + strata(g), tw, weights = w, ties = m),
      list(covariates = list("x1", "x2"), ties = m, weights = "w", strata = "g"))
}

# --- plot.cox.zph's smooth (natural spline, df = 4, nsmo = 40, +/- 2 se) and lowess on martingale residuals --
zph_smooth <- function(z, df = 4, nsmo = 40) {
  # the computation of plot.cox.zph (survival 3.5-3) without drawing
  xx <- z$x; yy <- z$y
  pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
  lmat <- splines::ns(c(pred.x, xx), df = df, intercept = TRUE)
  pmat <- lmat[1:nsmo, ]; xmat <- lmat[-(1:nsmo), ]
  qmat <- qr(xmat)
  bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
  xtx <- bk %*% t(bk)
  seval <- ((pmat %*% xtx) * pmat) %*% rep(1, df)
  res <- list(x = pred.x, g = unname(xx), y = unname(yy), terms = colnames(yy))
  # the time axis of plot.cox.zph for a transformed time
  indx <- !duplicated(xx)
  apr1 <- approx(xx[indx], z$time[indx], seq(min(xx), max(xx), length = 17)[2 * (1:8)])
  temp <- signif(apr1$y, 2)
  res$tick_x <- approx(z$time[indx], xx[indx], temp)$y
  res$tick_label <- sapply(temp, format)
  res$fit <- res$se <- list()
  for (i in seq_len(ncol(yy))) {
    res$fit[[i]] <- as.vector(pmat %*% qr.coef(qmat, yy[, i]))
    res$se[[i]] <- as.vector(2 * sqrt(z$var[i, i] * seval))
  }
  res
}
fz <- coxph(Surv(time, status) ~ age + sex + ecog + wtloss, lung2)
smooth <- list(zph = zph_smooth(cox.zph(fz)))
mres <- residuals(fz, type = "martingale")
ok <- complete.cases(lung2)
lw <- lowess(lung2$age[ok], mres)
smooth$lowess <- list(x = lung2$age[ok], y = unname(mres), fit_x = lw$x, fit_y = lw$y)
lw2 <- lowess(lung2$wtloss[ok], mres, f = 0.3, iter = 0)
smooth$lowess_f03 <- list(x = lung2$wtloss[ok], y = unname(mres), fit_x = lw2$x, fit_y = lw2$y)

out <- list(survival = as.character(packageVersion("survival")), cases = cases, smooth = smooth)
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE, matrix = "rowmajor"),
           "tests/reference/residuals/residual_fixtures.json")
