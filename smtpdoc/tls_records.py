"""TLS records tshark dissected → the session's TLS summary, findings and TLS steps.

The handshake and the encrypted phase are one step each, however many records they take;
which one a record belongs to is `smtpdoc.tls_phase`'s answer.
"""

from __future__ import annotations

from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import Rules
from smtpdoc.events import Side
from smtpdoc.names import StepName
from smtpdoc.packets import APPLICATION_DATA, Alert, Certificate, ClientHello, ServerHello, TlsRecord
from smtpdoc.tls_phase import HANDSHAKE_STEP, TLS12, TLS13, TlsPhase


def record(
    b: SessionBuilder, rules: Rules, tls: TlsPhase, side: Side, record: TlsRecord, frame: int, time: float
) -> None:
    """A TLS record tshark dissected, sent by `side` in `frame` (the TLS record event)."""
    summary = b.session.tls
    assert summary is not None
    for message in record.messages:
        if isinstance(message, ClientHello):
            b.tls_fact(
                client_hello={
                    "sni": message.sni,
                    "versions": list(message.versions),
                    "alpn": list(message.alpn),
                    "cipher_count": message.cipher_count,
                    "session_id": message.session_id,
                    "frame": frame,
                }
            )
        elif isinstance(message, ServerHello):
            tls.version = message.version
            b.tls_fact(
                server_hello={
                    "version": message.version,
                    "cipher": message.cipher,
                    "alpn": message.alpn,
                    "frame": frame,
                }
            )
            if message.version < TLS12:
                b.finding("tls_old_version", [frame], b.detail("tls_old_version", version=message.version))
            offered = (summary.client_hello or {}).get("session_id")
            echoed = message.version < TLS13 and message.session_id and message.session_id == offered
            if message.psk or echoed:
                b.tls_fact(resumed=True)
                how = b.detail("tls_resumed_psk" if message.psk else "tls_resumed_session_id")
                b.finding("tls_resumed", [frame], how)
        elif isinstance(message, Certificate) and summary.certificate is None:
            b.tls_fact(
                certificate={
                    "subject": message.subject,
                    "issuer": message.issuer,
                    "not_before": message.not_before,
                    "not_after": message.not_after,
                    "frame": frame,
                }
            )
        elif isinstance(message, Alert) and not message.encrypted:
            b.tls_alert({"level": message.level, "description": message.description, "frame": frame, "by": side})
            if message.description != rules.tls_close_notify:
                b.finding("tls_alert", [frame], b.detail("tls_alert", description=message.description))
                if message.level == rules.tls_fatal and not tls.established:
                    detail = b.detail("tls_fatal_alert", description=message.description)
                    b.finding("tls_handshake_failure", [frame], detail)
    ctype = record.content_type
    if ctype == APPLICATION_DATA:
        b.tls_record(side)
    phase = tls.phase(side, ctype)
    if summary.established is not tls.established:
        b.tls_established(tls.established)
    tls_step(b, tls, phase, frame, time, side)


def encrypted_only(tls: TlsPhase, records: tuple[TlsRecord, ...]) -> bool:
    """Do these records only add to an encrypted phase under way (application data, no message
    to read in them)? Then `SessionBuilder.encrypted_records` records what `record` would, at once."""
    if tls.encrypted is None or not tls.established or not records:
        return False
    for one in records:
        if one.content_type != APPLICATION_DATA or one.messages:
            return False
    return True


def tls_step(b: SessionBuilder, tls: TlsPhase, name: StepName, frame: int, time: float, side: Side) -> None:
    """The frame belongs to the handshake or the encrypted phase: one step each."""
    current = tls.handshake if name == HANDSHAKE_STEP else tls.encrypted
    if current is None:
        current = b.step(name, [frame], b.rel(time), side)
        if name == HANDSHAKE_STEP:
            tls.handshake = current
        else:
            tls.encrypted = current
    else:
        b.add_frames(current, [frame])
        b.direction(current, side)
