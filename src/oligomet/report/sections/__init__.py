"""Section builders: each turns one analysis' tidy results into report items (tables, text, figure
specifications) and its sentences of the methods and results paragraphs. They compute no statistics
and read their input by attribute only, so the report layer imports nothing from the study layer.

Every builder has the signature ``build(doc: StudyResults, result) -> None``.
"""
