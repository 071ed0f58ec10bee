"""Media generators for the benchmark's task variants (one renderer module per kind)."""
