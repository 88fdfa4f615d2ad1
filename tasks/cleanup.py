"""Tasks of the `cleanup` namespace."""

from invoke import Collection

ns = Collection("cleanup")
