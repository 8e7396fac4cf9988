"""Readers that turn one kind of input into article fields: web pages (trafilatura), YAML front
matter of text articles, and publication dates. They parse and never write; `retrieval.documents`
calls them and turns what they reject into `Problem`s."""
