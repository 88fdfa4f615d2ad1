"""Tasks of the `bench` namespace: benchmarks against the tools users would otherwise
pick (docker compose, ripgrep/grep, per-variable Railway writes). docs/bench.md."""

from __future__ import annotations

from invoke import Collection, Context, Exit

from tasks._cli import task


@task(
    iterable=["only"],
    help={
        "quick": "Fewer repetitions (about half the time; noisier medians).",
        "only": "Only this part: stack, scan, railway, startup, compose or mlflow (repeatable). "
        "Writes no file unless --output.",
        "runs": "Repetitions per measurement (default: 5 for the stack, more for cheap parts).",
        "output": "Write the Markdown table here (default: bench/RESULTS.md after a full run).",
    },
)
def run(
    c: Context,
    quick: bool = False,
    only: list[str] | None = None,
    runs: int = 0,
    output: str | None = None,
) -> None:
    """Run the benchmarks, print ours / reference / ratio, write bench/RESULTS.md."""
    _import_bench_package()
    from bench.__main__ import main
    from bench.run import PARTS
    from vpmigrate.errors import UserError

    unknown = [p for p in only or [] if p not in PARTS]
    if unknown:
        raise UserError(
            f"--only {unknown[0]!r} is not a benchmark; use one of {', '.join(PARTS)}.",
            exit_code=2,
        )
    if runs < 0:
        raise UserError("--runs must be a positive number of repetitions.", exit_code=2)
    argv = ["--quick"] if quick else []
    for part in only or []:
        argv += ["--only", part]
    if runs:
        argv += ["--runs", str(runs)]
    if output is not None:
        argv += ["--output", output]
    code = main(argv)
    if code:
        raise Exit(code=code)


def _import_bench_package() -> None:
    """The repository's bench/ package is not installed: import it from the checkout."""
    import sys

    from tasks._cli import REPO_ROOT

    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


ns = Collection("bench")
ns.add_task(run, default=True)
