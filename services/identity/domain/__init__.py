"""identity's domain: accounts, credential rules, log-in lockout and signing keys."""
