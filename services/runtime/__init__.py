"""The runtime every Lastmile service shares: server bootstrap, config, logging,
interceptors, tracing, metrics, client channels and the domain-error mapping."""
