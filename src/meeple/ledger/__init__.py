"""Double-entry money: accounts, transfers, escrow and settlement."""
