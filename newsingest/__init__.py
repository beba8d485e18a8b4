"""newsingest's composition root: the command line, the long-running service, and the wiring
that joins the ingest side and the workers (which never import each other)."""
