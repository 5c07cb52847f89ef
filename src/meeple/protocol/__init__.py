"""Wire messages: client <-> gateway (JSON, :mod:`.messages`) and gateway <-> engine
(msgpack over the bus, :mod:`.internal`). Encoded once, versioned, documented in
docs/protocol.md, shared by gateway, engine and the client SDK."""

from meeple.protocol.errors import CODES, ProtocolError
from meeple.protocol.messages import PROTOCOL_VERSION, decode_client, decode_server, encode

__all__ = ["CODES", "PROTOCOL_VERSION", "ProtocolError", "decode_client", "decode_server", "encode"]
