"""How a lab's capture is opened: the same options for the students' Wireshark and the marker's tshark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    """How the lab's capture is read: the students' Wireshark and the marker's tshark alike."""

    capture: str
    keylog: str | None = None
    decode_as: tuple[int, ...] = ()  # TCP ports tshark does not take for SMTP by itself

    def options(self) -> list[str]:
        """The tshark (and Wireshark) options besides the capture: decode-as and the key log."""
        args: list[str] = []
        for port in self.decode_as:
            args += ["-d", f"tcp.port=={port},smtp"]
        if self.keylog:
            args += ["-o", f"tls.keylog_file:{self.keylog}"]
        return args
