"""Endpoint derivation: registry dates -> (time, event) per patient or lesion."""
