"""Checks for your own code, from your own tests.

``check_family`` runs the contract the built-in model families are tested against (build,
forward and backward at the corners of the width x depth range, output shape, gradients,
parameters growing with width and depth, knobs that are valid search-space data, drop rates
that take effect) on a family you registered::

    from scalesearch.spaces import register_family
    from scalesearch.testing import check_family

    @register_family("tiny_mlp", description="...", knobs={...})
    def build_tiny_mlp(io, width_multiplier=1.0, depth_multiplier=1.0): ...

    def test_tiny_mlp_keeps_the_contract():
        check_family("tiny_mlp")  # raises scalesearch.errors.FamilyError naming what is wrong
"""

from scalesearch.spaces.contract import check_family

__all__ = ["check_family"]
