"""Benchmarks: one script per topic, run as python -m benchmarks.<name>."""
