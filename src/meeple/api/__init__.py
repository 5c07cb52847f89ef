"""The api tier: stateless REST (accounts, wallet, history, matchmaking entry)."""
