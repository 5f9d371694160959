# R fixtures for the study layer (oligomet/study): paired tests and the subgroup interaction test.
# Run: Rscript tests/reference/study/make_study_fixtures.R   (writes study_fixtures.json here)
# R 4.2, survival 3.5-3; uses jsonlite if present, otherwise writes JSON by hand.
suppressPackageStartupMessages(library(survival))
out <- list()

# --- subgroup interaction: LR test of exposure x subgroup in Cox (lung: exposure = sex,
#     subgroup = ph.ecog >= 1, adjusted for age), complete cases
d <- survival::lung
d$event <- as.integer(d$status == 2)
d$female <- as.integer(d$sex == 2)
d$ecog_ge1 <- as.integer(d$ph.ecog >= 1)
d <- d[!is.na(d$ecog_ge1) & !is.na(d$age), ]
full <- coxph(Surv(time, event) ~ female * ecog_ge1 + age, data = d, ties = "efron")
red <- coxph(Surv(time, event) ~ female + ecog_ge1 + age, data = d, ties = "efron")
a <- anova(red, full)
out$interaction <- list(n = nrow(d), statistic = a$Chisq[2], df = a$Df[2], p = a$`Pr(>|Chi|)`[2],
                        loglik_full = full$loglik[2], loglik_reduced = red$loglik[2])
# per-level HR of female, adjusted for age
lv <- list()
for (k in c(0, 1)) {
  f <- coxph(Surv(time, event) ~ female + age, data = d[d$ecog_ge1 == k, ], ties = "efron")
  s <- summary(f)
  lv[[as.character(k)]] <- list(hr = unname(s$conf.int["female", "exp(coef)"]),
                                lower = unname(s$conf.int["female", "lower .95"]),
                                upper = unname(s$conf.int["female", "upper .95"]),
                                p = unname(s$coefficients["female", "Pr(>|z|)"]), n = f$n)
}
out$levels <- lv

# --- paired tests on fixed vectors (written out so Python reads the same data)
before_bin <- c(1,1,0,1,0,1,1,1,0,1,1,0,1,1,1,0,1,1,0,1,1,1,0,1,1,0,1,1,1,1)
after_bin  <- c(1,0,0,0,0,1,0,1,0,0,1,0,1,0,1,1,0,1,0,0,1,0,0,1,0,0,1,1,0,1)
m <- mcnemar.test(table(factor(before_bin, levels = 0:1), factor(after_bin, levels = 0:1)))
out$mcnemar <- list(before = before_bin, after = after_bin, statistic = unname(m$statistic),
                    p = m$p.value)
set.seed(1)
x_small <- c(12.1, 15.3, 9.8, 20.4, 11.2, 14.9, 18.3, 10.7, 13.5, 16.8, 12.9, 17.4)
y_small <- c(10.2, 13.9, 10.1, 16.0, 9.7, 12.2, 15.1, 10.9, 11.8, 13.3, 12.0, 15.6)
w1 <- wilcox.test(x_small, y_small, paired = TRUE)
x_big <- round(rnorm(80, 30, 8), 1)
y_big <- round(x_big - rnorm(80, 1.5, 4), 1)
w2 <- suppressWarnings(wilcox.test(x_big, y_big, paired = TRUE))
out$wilcoxon_small <- list(x = x_small, y = y_small, statistic = unname(w1$statistic), p = w1$p.value)
out$wilcoxon_large <- list(x = x_big, y = y_big, statistic = unname(w2$statistic), p = w2$p.value)

# --- Fisher's exact test used in the complications table
tab <- matrix(c(28, 408, 27, 292), nrow = 2, byrow = TRUE)
out$fisher <- list(table = as.vector(t(tab)), p = fisher.test(tab)$p.value)

to_json <- function(x) {
  if (is.list(x)) {
    if (!is.null(names(x))) {
      return(paste0("{", paste0('"', names(x), '": ', vapply(x, to_json, ""), collapse = ", "), "}"))
    }
    return(paste0("[", paste(vapply(x, to_json, ""), collapse = ", "), "]"))
  }
  if (length(x) == 1) return(formatC(x, digits = 17, format = "g"))
  paste0("[", paste(formatC(x, digits = 17, format = "g"), collapse = ", "), "]")
}
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
writeLines(to_json(out), file.path(here, "study_fixtures.json"))
