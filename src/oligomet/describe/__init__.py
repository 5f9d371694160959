"""describe layer."""
