"""Core of the vision platform's migration tasks: no Invoke and no printing in here."""
