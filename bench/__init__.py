"""Benchmarks: `make bench-<task>` writes reports/<task>.md."""
