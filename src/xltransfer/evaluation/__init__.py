"""Zero-shot evaluation: predictions, scores and retrieval."""
