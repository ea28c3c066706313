"""dispatch's entrypoints: the Link and ops servicers, and the delivery event handler."""
