"""The answer, plots and the summary page."""
