"""Benchmarks and evaluation harnesses; importable as `bench.*` so tests can reuse the trace
simulator and the LP reference without the installed package carrying them."""
