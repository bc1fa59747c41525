"""Benchmarks that measure the toolkit against a baseline in the same run."""
