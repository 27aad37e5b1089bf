"""Building and loading models: families, heads, the bi-encoder, carry-over."""
