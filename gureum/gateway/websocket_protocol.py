"""uvicorn's WebSocket protocol with API Gateway's frame limit.

uvicorn (with ``ws_max_size``) already refuses a message over WebSocket APIs' 128 KB
with close code 1009. API Gateway also refuses a single frame over 32 KB, however small
the message it belongs to; ASGI never sees frames, so the check sits here, in the
protocol that parses them: the connection is failed with 1009 and the app told of the
disconnect (its ``$disconnect`` runs) as for any other close.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame

#: API Gateway's largest WebSocket frame, and message.
FRAME_LIMIT = 32 * 1024
MESSAGE_LIMIT = 128 * 1024
_REASON = "Frame size exceeds the limit of 32 KB"


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    def _too_large(self, event: Frame) -> bool:
        if len(event.data) <= FRAME_LIMIT:
            return False
        if not self.close_sent:
            self.frames = []
            self.conn.fail(1009, _REASON)
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1009, "reason": _REASON})
            self.close_sent = True
            self.transport.close()
        return True

    def handle_cont(self, event: Frame) -> None:
        if not self._too_large(event):
            super().handle_cont(event)

    def handle_text(self, event: Frame) -> None:
        if not self._too_large(event):
            super().handle_text(event)

    def handle_bytes(self, event: Frame) -> None:
        if not self._too_large(event):
            super().handle_bytes(event)


#: How every uvicorn server of the edge (HTTP and HTTPS) serves WebSockets: this protocol,
#: API Gateway's message limit (a longer one closes the connection with 1009), and no
#: per-message compression (so that a frame's size on the wire is the one checked). And
#: no proxy headers: the edge is the first hop, so a client's address is its
#: connection's (``identity.sourceIp``), never an ``X-Forwarded-For`` a local client sent.
UVICORN_OPTIONS: dict[str, Any] = {
    "proxy_headers": False,
    "ws": GatewayWebSocketProtocol,
    "ws_max_size": MESSAGE_LIMIT,
    "ws_per_message_deflate": False,
}
