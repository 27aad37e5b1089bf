"""Gains, correlations, statistics and source selection."""
