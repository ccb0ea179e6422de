"""checkov finds nothing in any synthesized stack beyond the reviewed, reasoned exceptions."""

from __future__ import annotations

import pytest

from devtools.checkov_scan import ACCEPTED, scan_stack

STACKS = ("state-bootstrap", "dev", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_checkov(synthesized, checkov_results, stack):
    result = scan_stack(stack, synthesized.outdir / "stacks" / stack / "cdk.tf.json")
    checkov_results.append(result)

    assert result.parsing_errors == 0, "checkov could not parse the stack: the scan proves nothing"
    assert result.passed > 0, "checkov passed no check: the scan proves nothing"
    assert result.failed == [], "\n".join(result.failed)


def test_prod_needs_none_of_devs_cost_exceptions(synthesized):
    result = scan_stack("prod", synthesized.outdir / "stacks" / "prod" / "cdk.tf.json")

    # A year of logs (CKV_AWS_338), a Multi-AZ database (CKV_AWS_157) with deletion protection
    # (CKV_AWS_293): only dev's cheaper settings need the exceptions.
    dev_only = ("CKV_AWS_338 ", "CKV_AWS_157 ", "CKV_AWS_293 ")
    assert [a for a in result.accepted if a.startswith(dev_only)] == []


def test_every_accepted_finding_has_a_reason():
    for accepted in ACCEPTED:
        assert len(accepted.reason) > 40, accepted.check_id


def test_scan_is_not_vacuous_when_a_violation_is_planted(synthesized, tmp_path):
    import json

    document = json.loads((synthesized.outdir / "stacks" / "dev" / "cdk.tf.json").read_text())
    for subnet in document["resource"]["aws_subnet"].values():
        subnet["map_public_ip_on_launch"] = True
    planted = tmp_path / "cdk.tf.json"
    planted.write_text(json.dumps(document))

    result = scan_stack("dev", planted)

    assert any(line.startswith("CKV_AWS_130 ") for line in result.failed), result.failed
