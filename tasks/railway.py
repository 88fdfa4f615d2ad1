"""Tasks of the `railway` namespace."""

from invoke import Collection

ns = Collection("railway")
