"""Wire messages between client, gateway and engine."""
