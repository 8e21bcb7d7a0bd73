"""Benchmarks: ``python -m resonant_ad.bench {flow,stages,rules,gpu}``."""
