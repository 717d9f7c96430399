"""L1: strict configuration schema, loading and resolution."""
