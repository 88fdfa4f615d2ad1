"""Root of the task tree: `inv --list` shows the namespaces composed here.

Invoke imports this file as the module ``tasks`` (it prefers ``tasks.py`` over a
``tasks/`` package). Giving the module a ``__path__`` makes the ``tasks/`` folder
its package directory, so each namespace lives in its own module there
(``tasks/local.py`` → ``tasks.local``). ``tasks/`` has no ``__init__.py`` on purpose:
then ``import tasks`` resolves to this file everywhere, in Invoke and in tests alike.
"""

import os

from invoke import Collection

__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")]

from tasks import bench, cleanup, compose, local, local_verify, railway  # noqa: E402

# `verify` reads the stack `local.up` started; its module imports tasks.local, so it is
# attached here rather than inside tasks/local.py.
local.ns.add_task(local_verify.verify)

ns = Collection()
for module in (local, compose, railway, cleanup, bench):
    ns.add_collection(module.ns)
