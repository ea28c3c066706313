"""identity: accounts, credentials and the keys that sign access tokens."""
