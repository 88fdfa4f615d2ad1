"""Tasks of the `compose` namespace."""

from invoke import Collection

ns = Collection("compose")
