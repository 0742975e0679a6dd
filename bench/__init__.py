"""Benchmarks that print ratios and counts (run as `python -m bench.<name>`; see BENCHMARKS.md)."""
