"""The test copies' transformer on small hand-written documents: what is relaxed, stripped,
left out and ignored, and that nothing is changed where nothing needs to be."""

from __future__ import annotations

import json

from devtools.terraform import copies
from devtools.terraform.toolchain import Mirror, choose_provider, cli_config, satisfies

EMULATOR = copies.Emulator("http://127.0.0.1:4566", ("s3", "sts", "kms"))


def _versions(relax=True, pin="5.100.0", accepts=lambda _type, _arg: True) -> copies.Versions:
    return copies.Versions("1.11.4", relax, pin, accepts)


def _stack(**resources) -> dict:
    return {
        "terraform": {
            "backend": {"s3": {"bucket": "state", "key": "p/dev/terraform.tfstate"}},
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 6.25"}},
            "required_version": "~> 1.14",
        },
        "provider": {"aws": [{"region": "eu-west-1", "allowed_account_ids": ["111122223333"]}]},
        "resource": resources,
    }


def test_relaxing_pins_the_available_versions_and_says_so():
    doc, notes = _stack(), copies.CopyNotes()
    copies.relax_versions(doc, _versions(), notes)
    assert doc["terraform"]["required_version"] == "1.11.4"
    assert doc["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"
    assert len(notes.relaxed) == 2 and "'~> 1.14'" in notes.relaxed[0]


def test_nothing_is_relaxed_where_the_versions_fit():
    doc, notes = _stack(), copies.CopyNotes()
    copies.relax_versions(doc, _versions(relax=False, pin=None), notes)
    assert doc == _stack() and notes.relaxed == []


def test_newer_arguments_are_stripped_only_where_the_provider_lacks_them():
    resources = {
        "aws_s3_bucket": {"b": {"bucket": "x", "region": "us-east-1"}},
        "aws_lb": {"l": {"rule": [{"filter": [{"size": 1, "prefix": "a"}]}]}},
    }
    rules = (
        copies.NewerArgument("*", "region", "6.x only"),
        copies.NewerArgument("aws_lb", "rule.filter.size", "6.x only"),
    )
    doc, notes = _stack(**resources), copies.CopyNotes()
    copies.strip_newer_arguments(doc, _versions(accepts=lambda _t, _a: False), notes, rules)
    assert doc["resource"]["aws_s3_bucket"]["b"] == {"bucket": "x"}
    assert doc["resource"]["aws_lb"]["l"]["rule"][0]["filter"] == [{"prefix": "a"}]
    assert notes.stripped == [
        "aws_s3_bucket.b: region (6.x only)",
        "aws_lb.l: rule.filter.size (6.x only)",
    ]

    doc, notes = _stack(**resources), copies.CopyNotes()
    copies.strip_newer_arguments(doc, _versions(accepts=lambda _t, _a: True), notes, rules)
    assert doc == _stack(**resources) and notes.stripped == []


def test_types_the_emulator_cannot_create_are_left_out_with_what_refers_to_them():
    doc = _stack(
        aws_keyspaces_keyspace={"ks": {"name": "checkins"}},
        aws_keyspaces_table={"t": {"keyspace_name": "${aws_keyspaces_keyspace.ks.name}"}},
        aws_iam_policy={"p": {"policy": "${jsonencode({r = aws_keyspaces_table.t.arn})}"}},
        aws_iam_role_policy_attachment={"a": {"policy_arn": "${aws_iam_policy.p.arn}"}},
        aws_s3_bucket={
            "b": {"bucket": "x", "depends_on": ["aws_keyspaces_table.t", "aws_iam_role.r"]},
            # Same prefix, different resource: must stay.
            "ks2": {"bucket": "${aws_keyspaces_keyspace.ks2.name}"},
        },
    )
    doc["output"] = {
        "keyspace": {"value": "${aws_keyspaces_keyspace.ks.name}"},
        "bucket": {"value": "${aws_s3_bucket.b.id}"},
    }
    notes = copies.CopyNotes()
    copies.leave_out(doc, notes)
    assert set(doc["resource"]) == {"aws_s3_bucket"}
    assert doc["resource"]["aws_s3_bucket"]["b"]["depends_on"] == ["aws_iam_role.r"]
    assert "ks2" in doc["resource"]["aws_s3_bucket"]
    assert list(doc["output"]) == ["bucket"]
    text = "\n".join(notes.left_out)
    for expected in (
        "aws_keyspaces_keyspace x1",
        "aws_keyspaces_table x1",
        "aws_iam_policy.p (refers to aws_keyspaces_table.t)",
        "aws_iam_role_policy_attachment.a (refers to aws_iam_policy.p)",
        "output.keyspace",
    ):
        assert expected in text


def test_attributes_read_back_wrong_are_ignored_on_the_resources_that_set_them():
    doc = _stack(
        aws_kms_key={
            "set": {"rotation_period_in_days": 90, "lifecycle": {"ignore_changes": ["tags"]}},
            "unset": {"description": "no period"},
            "all": {"rotation_period_in_days": 90, "lifecycle": {"ignore_changes": "all"}},
        }
    )
    notes = copies.CopyNotes()
    copies.ignore_read_back(doc, notes)
    keys = doc["resource"]["aws_kms_key"]
    assert keys["set"]["lifecycle"]["ignore_changes"] == ["tags", "rotation_period_in_days"]
    assert "lifecycle" not in keys["unset"]
    assert keys["all"]["lifecycle"]["ignore_changes"] == "all"
    assert [n.split(":")[0] for n in notes.ignored] == ["aws_kms_key.set", "aws_kms_key.all"]


def test_prevent_destroy_is_lifted_and_named():
    doc = _stack(aws_kms_key={"k": {"lifecycle": {"prevent_destroy": True}}, "j": {}})
    notes = copies.CopyNotes()
    copies.allow_destroy(doc, notes)
    assert doc["resource"]["aws_kms_key"]["k"]["lifecycle"]["prevent_destroy"] is False
    assert doc["resource"]["aws_kms_key"]["j"] == {}
    assert len(notes.emulator) == 1 and "aws_kms_key.k" in notes.emulator[0]


def test_deletion_protection_is_lifted_and_named():
    doc = _stack(
        aws_db_instance={
            "db": {"deletion_protection": True},
            "dev": {"deletion_protection": False},
        },
        aws_lb={"alb": {"enable_deletion_protection": True}},
    )
    notes = copies.CopyNotes()
    copies.allow_destroy(doc, notes)
    assert doc["resource"]["aws_db_instance"]["db"]["deletion_protection"] is False
    assert doc["resource"]["aws_lb"]["alb"]["enable_deletion_protection"] is False
    assert doc["resource"]["aws_db_instance"]["dev"] == {"deletion_protection": False}
    assert sorted(n.split(":")[0] for n in notes.emulator) == [
        "aws_db_instance.db",
        "aws_lb.alb",
    ]


def test_buckets_get_force_destroy_for_the_runs_own_objects():
    doc = _stack(aws_s3_bucket={"state": {"bucket": "s"}, "scratch": {"force_destroy": True}})
    notes = copies.CopyNotes()
    copies.force_destroy_buckets(doc, notes)
    assert doc["resource"]["aws_s3_bucket"]["state"]["force_destroy"] is True
    assert [n.split(":")[0] for n in notes.emulator] == ["aws_s3_bucket.state"]


def test_only_statements_on_request_context_keys_are_dropped_from_literal_bucket_policies():
    tls_only = {"Sid": "TlsOnly", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    tls_only["Condition"] = {"Bool": {"aws:SecureTransport": "false"}}
    account = {"Sid": "Account", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    account["Condition"] = {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [tls_only, account]})
    doc = _stack(
        aws_s3_bucket_policy={
            "literal": {"policy": policy},
            "expression": {"policy": "${data.aws_iam_policy_document.d.json}"},
        }
    )
    notes = copies.CopyNotes()
    copies.drop_unevaluable_statements(doc, notes)
    kept = json.loads(doc["resource"]["aws_s3_bucket_policy"]["literal"]["policy"])
    assert kept["Statement"] == [account]
    expression = doc["resource"]["aws_s3_bucket_policy"]["expression"]["policy"]
    assert expression == "${data.aws_iam_policy_document.d.json}"
    assert notes.emulator == [
        "aws_s3_bucket_policy.literal: statement TlsOnly dropped "
        f"({copies.EMULATOR_LACKS_CONDITION_KEYS['aws:SecureTransport']})"
    ]


def test_provider_talks_to_the_emulator_and_still_checks_the_account():
    doc = _stack()
    copies.point_at_emulator(doc, EMULATOR)
    provider = doc["provider"]["aws"][0]
    assert provider["endpoints"] == [{n: EMULATOR.endpoint for n in ("s3", "sts", "kms")}]
    assert provider["allowed_account_ids"] == ["111122223333"]
    assert "skip_requesting_account_id" not in provider
    assert provider["s3_use_path_style"] is True
    assert provider["http_proxy"] == EMULATOR.endpoint  # for S3 Control's <account>.<host>


def test_full_copy_keeps_every_resource_and_applied_copy_keeps_the_backend():
    doc = _stack(
        aws_keyspaces_keyspace={"ks": {"name": "checkins"}},
        aws_kms_key={"k": {"rotation_period_in_days": 90}},
    )
    original = json.loads(json.dumps(doc))
    full, full_notes = copies.full_copy(doc, _versions(), EMULATOR)
    applied, applied_notes = copies.applied_copy(doc, _versions(), EMULATOR)
    assert doc == original, "the stack itself is never changed"
    assert "aws_keyspaces_keyspace" in full["resource"] and "backend" not in full["terraform"]
    assert full_notes.left_out == [] and full_notes.ignored == []
    assert "aws_keyspaces_keyspace" not in applied["resource"]
    assert applied["terraform"]["backend"] == original["terraform"]["backend"]
    assert applied_notes.left_out and applied_notes.ignored


def test_version_constraints():
    assert satisfies("6.25.0", "~> 6.25") and satisfies("6.99.1", "~> 6.25")
    assert not satisfies("5.100.0", "~> 6.25") and not satisfies("7.0.0", "~> 6.25")
    assert satisfies("1.14.2", "~> 1.14.0") and not satisfies("1.15.0", "~> 1.14.0")
    assert satisfies("1.11.4", ">= 1.10, < 2") and not satisfies("1.11.4", ">= 1.10, != 1.11.4")


def test_provider_choice_pins_only_when_the_mirror_is_too_old(tmp_path):
    old = choose_provider("~> 6.25", Mirror(tmp_path, ("5.99.0", "5.100.0")))
    assert old.pin == "5.100.0" and old.relaxed
    fits = choose_provider("~> 6.25", Mirror(tmp_path, ("5.100.0", "6.25.0")))
    assert fits.pin is None and "6.25.0" in fits.note
    assert choose_provider("~> 6.25", None).pin is None


def test_cli_config_uses_the_mirror_for_aws_and_the_plugin_cache(tmp_path):
    text = cli_config(Mirror(tmp_path / "mirror", ("5.100.0",)), tmp_path / "cache")
    assert f'path    = "{tmp_path / "mirror"}"' in text
    assert 'include = ["hashicorp/aws"]' in text and 'exclude = ["hashicorp/aws"]' in text
    assert f'plugin_cache_dir   = "{tmp_path / "cache"}"' in text
    assert "filesystem_mirror" not in cli_config(None, tmp_path / "cache")
