"""Reserve the process's stdout for protocol frames."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO


def protocol_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Keep the real stdout for protocol frames only; point fd 1 (and sys.stdout) at
    stderr so stray prints, warnings and C-level output can never corrupt a frame."""
    sys.stdout.flush()
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, proto_out
