"""The readers' own helpers: times as tshark prints them, certificate names, the catalog's cached copy."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from unittest import mock

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smtpdoc import pdml
from smtpdoc.certificates import certificate


def test_odd_timestamps_are_read_not_crashed() -> None:
    assert pdml.timestamp("1795863121.789947000") == 1795863121.789947
    assert abs(pdml.timestamp("1783446909.-765352592") - (1783446909 - 0.765352592)) < 1e-6
    assert pdml.timestamp("not a time") == 0.0
    assert pdml.timestamp("") == 0.0


def _der(subject: x509.Name, issuer: x509.Name, not_after: datetime.datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(datetime.datetime(2026, 11, 28, 10, 51, 59, tzinfo=datetime.UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER).hex()


def test_certificate_names_read_with_short_attribute_names() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example, Inc."),
            x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test"),
        ]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")])
    cert = certificate(_der(subject, issuer, datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)))
    assert cert.subject == "CN=mail.example.test,O=Example\\, Inc.,C=DE"  # RFC 4514: most specific first
    assert cert.issuer == "CN=Example CA"
    assert cert.not_before == "2026-11-28 10:51:59 (UTC)"  # UTCTime, as tshark shows it
    assert cert.not_after == "Jan  2, 2051 03:04:05.000000000 UTC"  # GeneralizedTime, as tshark shows it


def test_a_damaged_certificate_gives_empty_names() -> None:
    cert = certificate("3082ffff00")
    assert (cert.subject, cert.issuer, cert.not_before) == ("", "", None)


def test_the_catalog_is_read_from_its_cached_copy_while_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smtpdoc.catalog import _FILES, Catalog, _tables

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parsed = _tables.read_documents(_FILES)
    (copy,) = (tmp_path / "smtpdoc").glob("catalog-*.json")
    assert json.loads(copy.read_text()) == parsed
    with mock.patch.object(_tables, "_read", side_effect=AssertionError("parsed again")):
        assert _tables.read_documents(_FILES) == parsed  # from the copy
    copy.write_text("{not json")
    assert _tables.read_documents(_FILES) == parsed  # a broken copy is parsed again, and rewritten
    assert json.loads(copy.read_text()) == parsed
    assert Catalog(parsed).step("greeting").title
