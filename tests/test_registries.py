"""Registries keep their built-ins: registering one's own op or family before the first
lookup leaves the built-in ones available, and a name already taken is refused."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import hw_builders as hb
from hw_builders.registry import OpModel, register_op

@register_op("MyOp")
class MyOp(OpModel):
    impls = ("hls",)
    default_impl = "hls"
    required = ()
    def cycles(self, a, impl):
        return 1

assert "MVAU" in hb.known_ops() and "MyOp" in hb.known_ops()
assert hb.get_op("ConvolutionInputGenerator").default_impl == "rtl"
try:
    register_op("MVAU")(MyOp)
except hb.HwError as exc:
    assert "'MVAU' is registered already" in str(exc), exc
else:
    raise AssertionError("a duplicate op was accepted")

from search_spaces.families import family_names, get_family, register_family
from search_spaces.errors import SpaceError
from search_spaces.families.tfc import TfcFamily

class Mine(TfcFamily):
    name = "mine"

register_family(Mine())
assert get_family("cnv").name == "cnv" and get_family("mine").name == "mine"
assert {"cnv", "tfc", "mine"} <= set(family_names())
try:
    register_family(TfcFamily())
except SpaceError as exc:
    assert "'tfc' is registered already" in str(exc), exc
else:
    raise AssertionError("a duplicate family was accepted")
print("ok")
"""


def test_registering_first_keeps_the_built_ins() -> None:
    # a fresh interpreter: nothing looked up before the registrations
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
