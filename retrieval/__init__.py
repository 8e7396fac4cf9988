"""newsbot retrieval: ingest, chunk, embed, index, search, answer, evaluate."""
