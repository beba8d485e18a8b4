"""The ``newsingest`` command line, one module per command group."""
