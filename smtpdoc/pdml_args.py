"""What the two PDML readers ask tshark for: the passes' arguments, fields and display filter.

The field-selected pass (`flat_args`, read by `smtpdoc.pdml_flat`) prints one flat <field>
per value of `FIELDS`; the tree pass (`tree_args`, read by `smtpdoc.pdml`, for decryption)
prints the dissection tree pruned to `PRUNED_TREE`. Each reader knows what the names mean;
they are kept here, with no lxml and nothing else imported, so that the head start
(`smtpdoc.cli.head_start`) can build the first pass's command line and start tshark before
the readers and the session machine are imported (issue 11: start-up).
"""

from __future__ import annotations

from collections.abc import Sequence

# Per-stream timestamps are computed for nothing: the events carry the capture time.
TSHARK_OPTIONS = ("-o", "tcp.calculate_timestamps:FALSE")
# Frames the engine can learn from: payload or connection set-up/tear-down.
# The third packet of the handshake is a bare ACK: seq 1, ack 1, no payload.
DISPLAY_FILTER = (
    "tcp.len > 0 || tcp.flags.syn == 1 || tcp.flags.fin == 1 || tcp.flags.reset == 1 || (tcp.seq == 1 && tcp.ack == 1)"
)

# The field-selected pass: geninfo's facts are asked for as fields too (frame.*), since
# smtpdoc.pdml_flat drops that block before lxml reads a packet.
FIELDS = (
    *("frame.number", "frame.time_epoch", "frame.len", "frame.cap_len"),
    *("ip.src", "ip.dst", "ipv6.src", "ipv6.dst"),
    *("tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len", "tcp.payload"),
    *("tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission"),
    "smtp",
    *("tls", "tls.record.length", "tls.record.version", "tls.record.content_type", "tls.record.opaque_type"),
    *("tls.handshake.type", "tls.handshake.version", "tls.handshake.extensions.supported_version"),
    *("tls.handshake.ciphersuite", "tls.handshake.extensions_alpn_str", "tls.handshake.extensions_server_name"),
    *("tls.handshake.session_id", "tls.handshake.extension.type", "tls.handshake.certificate"),
    *("tls.alert_message", "tls.alert_message.level", "tls.alert_message.desc"),
)

# The tree pass: `-j` prints a listed node's own fields but opens a subtree only when its
# name is listed too, so every ancestor of a field smtpdoc.pdml reads is named here ("text"
# names tshark's unnamed nodes, such as "Extension: supported_versions"). A third of -J's
# output goes; bench/same_output.py proves the output stays identical on every capture.
PRUNED_TREE = (
    *("tcp", "tls", "smtp"),
    *("tcp.analysis", "tcp.analysis.flags", "_ws.expert"),
    *("tls.record", "tls.handshake", "tls.handshake.ciphersuites", "tls.handshake.extensions_alpn_list"),
    *("tls.handshake.certificates", "tls.handshake.certificate", "x509af.signedCertificate_element"),
    *("x509af.subject", "x509af.issuer", "x509af.validity_element", "x509af.notBefore", "x509af.notAfter"),
    *("tls.alert_message", "text"),
)


def flat_args(capture: str, *, decode_as: Sequence[str] = (), display_filter: str) -> list[str]:
    """The argument list for the field-selected PDML pass over `capture` (`smtpdoc.pdml_flat`)."""
    args = ["-n", "-r", capture, "-T", "pdml"]
    for name in FIELDS:
        args += ["-e", name]
    args += [*TSHARK_OPTIONS, "-Y", display_filter]
    for rule in decode_as:
        args += ["-d", rule]
    return args


def tree_args(
    capture: str,
    *,
    decode_as: Sequence[str] = (),
    keylog: str | None = None,
    display_filter: str = DISPLAY_FILTER,
) -> list[str]:
    """The argument list for the pruned-tree PDML pass over `capture` (`smtpdoc.pdml`)."""
    args = ["-n", "-r", capture, "-T", "pdml", "-j", " ".join(PRUNED_TREE), *TSHARK_OPTIONS, "-Y", display_filter]
    for rule in decode_as:
        args += ["-d", rule]
    if keylog:
        args += ["-o", f"tls.keylog_file:{keylog}"]
    return args
