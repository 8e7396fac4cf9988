"""Storage: the record store (truth), derived vector and lexical indexes, the write lock."""
