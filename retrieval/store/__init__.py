"""The index's storage: the record store (the truth) and the indexes derived from it."""
