"""L3: will a model fit this machine, how fast will it run, and what does a tiered setup cost."""
