"""newsingest: the composition root (the CLI, the service, the web app)."""
