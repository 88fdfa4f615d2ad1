"""Benchmarks against the tools users would otherwise pick (issue 7).

`python -m bench` (or `inv bench`) runs them all and writes bench/RESULTS.md;
docs/bench.md says what each one measures and how.
"""
