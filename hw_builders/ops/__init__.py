"""One cost model per FINN op; importing this package registers them all."""

from __future__ import annotations

from hw_builders.ops import (  # noqa: F401
    fifo,
    fmpadding,
    labelselect,
    maxpool,
    mvau,
    streams,
    swg,
    thresholding,
    vvau,
)
