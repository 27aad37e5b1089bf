"""Task similarity: TextEmb, TaskEmb, probes and the measures over them."""
