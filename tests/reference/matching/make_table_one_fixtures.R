# R reference values for oligomet.table_one (tests/describe/). Base R only (tableone is not installed):
# mean, sd, quantile(type = 7), chisq.test (Yates for 2x2), fisher.test (exact r x c),
# t.test(var.equal = TRUE), oneway.test(var.equal = TRUE), wilcox.test, kruskal.test.
# Run from the repository root: Rscript tests/reference/matching/make_table_one_fixtures.R
suppressPackageStartupMessages({library(jsonlite); library(survival)})
out_dir <- "tests/reference/matching"
d <- lung
write.csv(d, file.path(out_dir, "lung_full.csv"), row.names = FALSE)

cont <- function(x, g) {
  lv <- sort(unique(g[!is.na(g)]))
  lapply(setNames(lv, lv), function(l) {
    v <- x[g == l & !is.na(g)]; miss <- sum(is.na(v)); v <- v[!is.na(v)]
    q <- quantile(v, c(.25, .5, .75), type = 7)
    list(n = length(v), missing = miss, mean = mean(v), sd = sd(v), q1 = q[[1]], median = q[[2]], q3 = q[[3]])
  })
}
cat_counts <- function(x, g) {
  tab <- table(g, x)
  list(levels = colnames(tab), groups = rownames(tab), counts = unname(lapply(seq_len(nrow(tab)), function(i) as.integer(tab[i, ]))))
}
g2 <- d$sex
g3 <- d$ph.ecog; g3[g3 == 3] <- NA  # three groups 0/1/2
res <- list(
  by_sex = list(
    age = c(cont(d$age, g2), list(p_t = t.test(age ~ sex, data = d, var.equal = TRUE)$p.value)),
    wt.loss = c(cont(d$wt.loss, g2), list(p_wilcox = suppressWarnings(wilcox.test(wt.loss ~ sex, data = d))$p.value)),
    meal.cal = c(cont(d$meal.cal, g2), list(p_wilcox = suppressWarnings(wilcox.test(meal.cal ~ sex, data = d))$p.value)),
    status = c(cat_counts(d$status, g2), list(p_chisq = chisq.test(table(g2, d$status))$p.value)),
    ph.ecog = c(cat_counts(d$ph.ecog, g2), list(p_fisher = fisher.test(table(g2, d$ph.ecog))$p.value,
                                               expected_min = min(suppressWarnings(chisq.test(table(g2, d$ph.ecog)))$expected))),
    inst_small = {
      dd <- d[d$inst %in% c(1, 12, 13, 16), ]
      c(cat_counts(dd$inst, dd$sex), list(p_fisher = fisher.test(table(dd$sex, dd$inst))$p.value))
    }
  ),
  by_ecog = list(
    age = c(cont(d$age, g3), list(p_anova = oneway.test(age ~ g3, data = cbind(d, g3 = g3), var.equal = TRUE)$p.value)),
    wt.loss = c(cont(d$wt.loss, g3), list(p_kruskal = kruskal.test(wt.loss ~ g3, data = cbind(d, g3 = g3))$p.value)),
    sex = c(cat_counts(d$sex, g3), list(p_chisq = chisq.test(table(g3, d$sex))$p.value))
  ),
  small_exact = {
    # wilcox.test exact branch: both groups < 50 and no ties
    x <- c(1.1, 2.3, 3.7, 4.2, 5.9, 0.4, 7.7); y <- c(2.9, 6.1, 8.3, 9.4, 6.6, 10.2)
    list(x = x, y = y, p_wilcox = wilcox.test(x, y)$p.value)
  }
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA), file.path(out_dir, "table_one_fixtures.json"))
cat("done\n")
