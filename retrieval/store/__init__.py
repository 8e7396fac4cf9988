"""Stores the index is made of: records (the truth) and the vector and lexical indexes derived from them."""
