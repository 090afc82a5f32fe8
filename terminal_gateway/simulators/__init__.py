"""Simulated terminals and cards, used by the tests, the demo and the benchmark."""
