"""describe layer: descriptive tables.

* :func:`oligomet.table_one` (``describe.table_one``): Table 1 overall or by group, with tests and SMDs.
"""
