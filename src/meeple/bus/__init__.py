"""The Bus port: publish/subscribe, command delivery to a game's owner, leases."""
