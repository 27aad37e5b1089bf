"""One module per task kind: what differs between classification, tagging, QA, ..."""
