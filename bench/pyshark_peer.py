"""The peer smtpdoc is measured against: a pyshark FileCapture loop collecting only facts.

    python bench/pyshark_peer.py CAPTURE

Collects each SMTP command, each reply code and each TLS record's content type (what a
quick script written with pyshark would gather, no explanation at all) and prints how
many of each it found, so a run that read nothing is visible.
"""

from __future__ import annotations

import sys

import pyshark


def main() -> int:
    commands: list[str] = []
    codes: list[str] = []
    tls_types: list[str] = []
    capture = pyshark.FileCapture(sys.argv[1], keep_packets=False)
    try:
        for packet in capture:
            if "SMTP" in packet:
                smtp = packet.smtp
                command = smtp.get_field_value("req_command")
                code = smtp.get_field_value("response_code")
                if command:
                    commands.append(str(command))
                if code:
                    codes.append(str(code))
            if "TLS" in packet:
                for layer in packet.get_multiple_layers("tls"):
                    kind = layer.get_field_value("record_content_type") or layer.get_field_value("record_opaque_type")
                    if kind:
                        tls_types.append(str(kind))
    finally:
        capture.close()
    print(f"commands={len(commands)} codes={len(codes)} tls_records={len(tls_types)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
