"""L4: the command line, one module per verb."""
