"""Benchmarks: figures printed side by side in one run, never asserted (see `make bench`)."""
