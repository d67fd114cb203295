"""A certificate's names and validity, read from its DER bytes (both PDML readers hand them over).

tshark's field-selected PDML gives the bytes of each certificate but not the names it
shows in its tree, so the names are read from the DER with `cryptography`, imported on
first use (most captures have no certificate in the clear), and written as RFC 4514
says, with the short attribute names a reader knows ("CN=", "O=", "C="), not tshark's
("id-at-commonName=").
"""

from __future__ import annotations

from datetime import datetime

from smtpdoc.packets import Certificate


def certificate(der_hex: str) -> Certificate:
    """The first certificate of a Certificate message, from its bytes in hex."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(bytes.fromhex(der_hex))
        subject, issuer = _name(cert.subject), _name(cert.issuer)
        not_before = _time(cert.not_valid_before_utc)
        not_after = _time(cert.not_valid_after_utc)
    except ValueError:
        return Certificate(subject="", issuer="")
    return Certificate(subject=subject, issuer=issuer, not_before=not_before, not_after=not_after)


def _name(name: object) -> str:
    """RFC 4514 text with its short attribute names: "CN=mail.example.test,O=Example"."""
    from cryptography import x509

    assert isinstance(name, x509.Name)
    return name.rfc4514_string()


def _time(moment: datetime) -> str:
    # As tshark shows them: UTCTime up to 2049 (RFC 5280), GeneralizedTime after.
    if moment.year < 2050:
        return f"{moment:%Y-%m-%d %H:%M:%S} (UTC)"
    return f"{moment:%b} {moment.day:2d}, {moment.year} {moment:%H:%M:%S}.000000000 UTC"
