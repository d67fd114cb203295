"""Which part of TLS a record belongs to: the handshake or the encrypted session.

Decided from record types as they appear on the wire, so the answer is the same with
and without keys: TLS 1.2 and older finish the handshake with ChangeCipherSpec and an
encrypted Finished from each side; TLS 1.3 protects everything after the ServerHello
as "application data", so the server's first protected flight and the client's first
protected record (its Finished) still belong to the handshake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpdoc.events import CLIENT, Side
from smtpdoc.model import Step
from smtpdoc.names import StepName
from smtpdoc.packets import ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE

TLS13 = 0x0304
TLS12 = 0x0303

HANDSHAKE_STEP: StepName = "tls_handshake"
ENCRYPTED_STEP: StepName = "encrypted"


@dataclass
class TlsPhase:
    version: int | None = None  # as the ServerHello chose it
    ccs: set[Side] = field(default_factory=set)
    finished: set[Side] = field(default_factory=set)
    established: bool = False
    handshake: Step | None = None
    encrypted: Step | None = None

    def phase(self, side: Side, ctype: int) -> StepName:
        """The step of a record of content type `ctype` sent by `side`."""
        if self.established:
            return HANDSHAKE_STEP if ctype == HANDSHAKE else ENCRYPTED_STEP
        if ctype == CHANGE_CIPHER_SPEC:
            self.ccs.add(side)
        elif ctype == HANDSHAKE and side in self.ccs:
            self.finished.add(side)  # TLS <= 1.2: the encrypted Finished follows CCS
        elif ctype == APPLICATION_DATA:
            if self.version == TLS13:
                if side is CLIENT:
                    self.finished.add(side)  # the client's Finished, protected
                    self.established = True
                return HANDSHAKE_STEP
            self.established = True
            return ENCRYPTED_STEP
        elif ctype == ALERT:
            return HANDSHAKE_STEP
        if len(self.finished) == 2:
            self.established = True
        return HANDSHAKE_STEP
