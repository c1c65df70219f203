"""Benchmarks and the synthetic workload they (and the crash test) load."""
