"""Terraform itself checks every synthesized stack against an emulated AWS.

- `toolchain`: which Terraform and which provider can be had here, and a CLI config of our own.
- `copies`: the test copies of a stack (what is relaxed, stripped, left out, ignored, and why).
- `moto`: a fresh moto server on loopback per emulated account.
- `runner`: the steps (init, validate, plan, apply, re-plan, state checks, destroy) and the report.

`python -m devtools.terraform_verify cdktf.out` runs it all; the `terraform` test marker too.
"""
