"""competing layer: cumulative incidence with Gray's test (``cuminc``) and Fine–Gray regression (``finegray``),
at parity with R's cmprsk. See docs/competing.md."""
