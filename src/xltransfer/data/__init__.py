"""Task registry, dataset loading, Hub-shaped dataset files and staging."""
