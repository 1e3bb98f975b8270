"""paho's client with a read buffer and a read budget, the two things its socket layer lacks.

paho reads every packet with at least three ``recv`` calls (type, length, body).
:class:`BufferedClient` reads up to 64 KiB at once and serves paho from that
buffer. It also stops reading - to paho it looks as if the socket had no more
data - once ``reading`` is switched off, so the link can handle a flood a slice
per turn of the event loop while the nodes keep up. Only paho 2.x's
``_sock_recv`` hook is overridden (pinned by ``paho-mqtt<3``).
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

#: Bytes asked of the kernel per read.
RECV_SIZE = 65536


class BufferedClient(mqtt.Client):
    """A paho ``Client`` that reads through a buffer and can pause reading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading = True
        self._rbuf = b""
        self._rpos = 0
        self._rsock: Any = None

    def buffered(self) -> bool:
        """True when received bytes wait in the buffer (the socket will not signal them again)."""
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self.reading:
            raise BlockingIOError
        if self._rsock is not self._sock:  # a new connection: forget the old one's bytes
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(RECV_SIZE)
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        chunk = self._rbuf[self._rpos : self._rpos + bufsize]
        self._rpos += len(chunk)
        return chunk
