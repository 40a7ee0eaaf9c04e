"""Finders: read a server's source and say where its OAuth pieces are, one fact each."""
