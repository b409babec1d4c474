"""The loyalty engine: versioned programs and an append-only points ledger, platform-neutral."""
