"""The Matrix relay (matrix-nio), and what the composition root needs to build it."""

from relays.matrix.crypto import E2EE, CryptoOptions, MatrixStoreError
from relays.matrix.relay import MatrixOptions, MatrixRelay
from relays.matrix.session import MatrixAccount

__all__ = [
    "E2EE",
    "CryptoOptions",
    "MatrixAccount",
    "MatrixOptions",
    "MatrixRelay",
    "MatrixStoreError",
]
