"""The task tree: `inv --list` shows the namespaces composed here.

Invoke finds this package as `tasks` (a `tasks/` package with an `__init__.py` is what
it imports when no `tasks.py` sits beside it). Each namespace is one module with its own
collection: `local`, `compose`, `railway`, `mlflow`, `cleanup`, `bench`. The modules import only
Invoke and this package at load time; the core (`vpmigrate`) and heavy libraries load
inside the task bodies, so `inv --list` stays fast.
"""

import sys
from pathlib import Path

from invoke import Collection

from tasks import bench, cleanup, compose, local, mlflow, railway

# Invoke imports this package by putting its own folder first on sys.path. There, the
# namespace modules (mlflow, bench, ...) would shadow the real packages of those names
# for everything the tasks import later (`import mlflow` found tasks/mlflow.py).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if not entry or Path(entry).resolve() != _HERE]

ns = Collection()
for module in (local, compose, railway, mlflow, cleanup, bench):
    ns.add_collection(module.ns)
