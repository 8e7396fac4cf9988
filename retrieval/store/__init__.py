"""Storage: the record store (the truth), the vector and lexical indexes derived from it, the write lock."""
