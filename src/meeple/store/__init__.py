"""The Store port: accounts, games, event log, snapshots, ledger, ratings."""
