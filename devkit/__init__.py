"""Development kit shared by the tests (`tests/`) and the benchmarks (`bench/`), so that
neither imports the other: Docker helpers, the registry-free e2e image, the MLflow
history seed and the local Railway stand-in. Not part of the product: the wheel ships
only `vpmigrate` (pyproject's `packages.find`); it is checked by ruff and mypy."""
