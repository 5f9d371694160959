"""competing layer."""
