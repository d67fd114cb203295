"""Try other tshark arguments for smtpdoc's PDML pass: same packets out, less time?

    .venv/bin/python bench/tshark_variants.py [CAPTURE]

For each variant of `smtpdoc.pdml.tshark_args` (see VARIANTS):
  * same:   smtpdoc.pdml.read_packets yields exactly the same Packet events as with
            today's arguments, on every capture of tests/data, examples and
            /work/shared/corpus (with their key logs; port 2525 decoded as SMTP);
  * tshark: tshark alone, PDML to /dev/null (best of 3, seconds);
  * MB:     size of the PDML;
  * parse:  tshark piped into read_packets, wall time (best of 3, seconds).
CAPTURE defaults to the cached 1,000-session capture that bench/run.py built.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from subprocess import DEVNULL

from smtpdoc import pdml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TSHARK = os.environ.get("SMTPDOC_TSHARK", "tshark")

# -j keeps a node's own fields but expands a subtree only when its name is listed:
# every ancestor of a field that pdml.py reads must be named ("text" = unnamed nodes
# such as "Extension: server_name"). Found by walking the -J output of the corpus.
PRUNED = (
    "ip ipv6 tcp tcp.analysis tcp.analysis.flags _ws.expert"
    " tls tls.record tls.handshake tls.handshake.ciphersuites tls.handshake.extensions_alpn_list"
    " tls.handshake.certificates tls.handshake.certificate x509af.signedCertificate_element"
    " x509af.subject x509af.issuer x509af.validity_element x509af.notBefore x509af.notAfter"
    " tls.alert_message text smtp"
)
NO_TCP_TIMES = ["-o", "tcp.calculate_timestamps:FALSE"]


NO_IMF = ["--disable-protocol", "imf"]  # message bodies: pdml.py reads tcp.payload, not imf


def _pruned(args: list[str]) -> list[str]:
    out = list(args)
    at = next(i for i, arg in enumerate(out) if arg in ("-J", "-j"))
    out[at : at + 2] = ["-j", PRUNED]
    return out


VARIANTS: dict[str, Callable[[list[str]], list[str]]] = {
    "as pdml.tshark_args has it": lambda a: a,
    "+ no tcp timestamps": lambda a: a + NO_TCP_TIMES,
    "-j pruned": _pruned,
    "-j pruned, no tcp timestamps": lambda a: _pruned(a) + NO_TCP_TIMES,
    "-j pruned, no tcp ts, no imf": lambda a: _pruned(a) + NO_TCP_TIMES + NO_IMF,
}


def corpus() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    paths = sorted(REPO.glob("tests/data/*.pcap*")) + sorted(REPO.glob("examples/*.pcap*"))
    paths += sorted(Path("/work/shared/corpus").rglob("*.pcap*"))
    for path in paths:
        keylog = path.with_suffix(".keylog")
        decode_as = ["tcp.port==2525,smtp"] if "2525" in path.name else []
        args = pdml.tshark_args(str(path), decode_as=decode_as, keylog=str(keylog) if keylog.exists() else None)
        found.append((str(path), args))
    return found


def read_all(args: list[str]) -> list[object]:
    proc = subprocess.Popen([TSHARK, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        packets: list[object] = list(pdml.read_packets(proc.stdout))
    except pdml.PdmlError:
        packets = ["<cut short>"]
    proc.wait()
    return packets


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def pdml_bytes(args: list[str]) -> int:
    proc = subprocess.Popen([TSHARK, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    size = 0
    while chunk := proc.stdout.read(1 << 20):
        size += len(chunk)
    proc.wait()
    return size


def main() -> int:
    if len(sys.argv) > 1:
        capture = Path(sys.argv[1])
    else:
        cached = sorted((HERE / "out").glob("starttls-1000-*.pcapng"))
        if not cached:
            sys.exit("bench: no 1,000-session capture in bench/out: run bench/run.py first, or name one")
        capture = cached[-1]
    files = corpus()
    reference = {path: read_all(args) for path, args in files}
    base = pdml.tshark_args(str(capture))
    print(f"capture {capture.name}; equality checked on {len(files)} captures")
    print(f"{'variant':32}{'same':>6}{'tshark s':>10}{'MB':>8}{'parse s':>9}")
    for name, change in VARIANTS.items():
        differ = [path for path, args in files if read_all(change(args)) != reference[path]]
        args = change(base)
        devnull = best_of(3, partial(subprocess.run, [TSHARK, *args], stdout=DEVNULL, stderr=DEVNULL))
        size = pdml_bytes(args)
        parse = best_of(3, partial(read_all, args))
        same = "yes" if not differ else f"NO({len(differ)})"
        print(f"{name:32}{same:>6}{devnull:>10.2f}{size / 1e6:>8.0f}{parse:>9.2f}")
        for path in differ:
            print(f"    differs on {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
