"""The DailySchedule and DeadLetterQueue constructs on a bare stack: a daily EventBridge Scheduler
schedule invoking a Lambda function with a retry policy, a KMS-encrypted dead-letter queue only
its role may send to, and a role that may invoke exactly that function."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from modules import daily_schedule
from modules.aws_target import AwsTarget
from modules.daily_schedule import DailyScheduleProps, DeadLetterQueueProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:app-test-cleanup"
ROLE = "arn:aws:iam::111122223333:role/app-test-cleanup-scheduler"
DLQ = "arn:aws:sqs:eu-west-1:111122223333:app-test-cleanup-dlq"
FOURTEEN_DAYS = 1209600


def _props(**overrides) -> DailyScheduleProps:
    return replace(
        DailyScheduleProps(
            name="app-test-cleanup",
            target=TARGET,
            description="Runs the cleanup job",
            function_arn=FUNCTION,
            kms_key_arn=KEY,
            hour=3,
            minute=15,
        ),
        **overrides,
    )


def _queue_props(**overrides) -> DeadLetterQueueProps:
    return replace(
        DeadLetterQueueProps(
            queue_name="app-test-cleanup-failures",
            target=TARGET,
            kms_key_arn=KEY,
            sender_role_arns=("arn:aws:iam::111122223333:role/app-test-cleanup",),
        ),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    """The defaults, every opt-out, and a standalone queue with two senders, each on a bare
    stack; attributes that are references are written as outputs to be read back."""
    from cdktf import TerraformOutput

    from modules.daily_schedule import DailySchedule, DeadLetterQueue

    def schedule(props):
        def _build(stack):
            construct = DailySchedule(stack, "daily", props)
            for name in ("schedule_arn", "dlq_arn", "dlq_url"):
                TerraformOutput(stack, name, value=getattr(construct, name))
            return construct

        return _build

    def queue(stack):
        construct = DeadLetterQueue(
            stack,
            "failures",
            _queue_props(
                sender_role_arns=(
                    "arn:aws:iam::111122223333:role/app-test-cleanup",
                    "arn:aws:iam::111122223333:role/other",
                )
            ),
        )
        for name in ("queue_arn", "queue_url"):
            TerraformOutput(stack, name, value=getattr(construct, name))
        return construct

    return {
        "default": synth_construct(schedule(_props()), name="default"),
        "opted_out": synth_construct(
            schedule(
                _props(
                    hour=23,
                    minute=0,
                    timezone="Europe/Paris",
                    payload={"dry_run": True, "b": [1, 2]},
                    maximum_retry_attempts=0,
                    maximum_event_age_in_seconds=60,
                    enabled=False,
                )
            ),
            name="opted_out",
        ),
        "queue": synth_construct(queue, name="queue"),
    }


def _outputs(doc):
    return {name: body["value"] for name, body in doc.json["output"].items()}


# ---- the schedule ----


def test_schedule_runs_daily_at_the_hour_and_minute_in_utc_without_flexible_window(built):
    schedule = one(built["default"][1].resources("aws_scheduler_schedule"))

    assert schedule["name"] == "app-test-cleanup"
    assert schedule["group_name"] == "default"
    assert schedule["description"] == "Runs the cleanup job"
    assert schedule["schedule_expression"] == "cron(15 3 * * ? *)"
    assert schedule["schedule_expression_timezone"] == "UTC"
    assert schedule["flexible_time_window"] == {"mode": "OFF"}
    assert schedule["state"] == "ENABLED"
    assert schedule["kms_key_arn"] == KEY


def test_schedule_invokes_the_function_with_its_role_retries_and_dead_letter_queue(built):
    doc = built["default"][1]
    (role_key,) = doc.resources("aws_iam_role")
    (queue_key,) = doc.resources("aws_sqs_queue")
    (policy_key,) = doc.resources("aws_iam_role_policy")
    schedule = one(doc.resources("aws_scheduler_schedule"))

    assert schedule["target"] == {
        "arn": FUNCTION,
        "role_arn": ref("aws_iam_role", role_key, "arn"),
        "input": "{}",
        "retry_policy": {"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 21600},
        "dead_letter_config": {"arn": ref("aws_sqs_queue", queue_key, "arn")},
    }
    assert schedule["depends_on"] == [f"aws_iam_role_policy.{policy_key}"]


def test_opt_outs_set_time_zone_payload_retries_and_a_disabled_state(built):
    schedule = one(built["opted_out"][1].resources("aws_scheduler_schedule"))

    assert schedule["schedule_expression"] == "cron(0 23 * * ? *)"
    assert schedule["schedule_expression_timezone"] == "Europe/Paris"
    assert schedule["state"] == "DISABLED"
    assert schedule["target"]["input"] == '{"b":[1,2],"dry_run":true}'
    assert schedule["target"]["retry_policy"] == {
        "maximum_retry_attempts": 0,
        "maximum_event_age_in_seconds": 60,
    }


# ---- the dead-letter queue ----


def test_dead_letter_queue_is_a_standard_kms_encrypted_queue_keeping_messages_14_days(built):
    queue = one(built["default"][1].resources("aws_sqs_queue"))

    assert queue["name"] == "app-test-cleanup-dlq"
    assert queue["kms_master_key_id"] == KEY
    assert queue["message_retention_seconds"] == FOURTEEN_DAYS
    assert "fifo_queue" not in queue
    assert "sqs_managed_sse_enabled" not in queue


def test_dead_letter_queue_refuses_plain_http_and_every_sender_but_the_schedules_role(built):
    doc = built["default"][1]
    (queue_key,) = doc.resources("aws_sqs_queue")
    queue_policy = one(doc.resources("aws_sqs_queue_policy"))

    assert queue_policy["queue_url"] == ref("aws_sqs_queue", queue_key, "url")
    assert policy(queue_policy)["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": DLQ,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "OnlyTheSendersSend",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:SendMessage",
            "Resource": DLQ,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
        },
    ]
    # Nothing is allowed by the queue policy itself: the senders' own policies allow.
    assert all(s["Effect"] == "Deny" for s in policy(queue_policy)["Statement"])


def test_a_standalone_queue_names_every_sender_and_exposes_its_references(built):
    construct, doc = built["queue"]
    (queue_key,) = doc.resources("aws_sqs_queue")
    queue = one(doc.resources("aws_sqs_queue"))
    statements = policy(one(doc.resources("aws_sqs_queue_policy")))["Statement"]

    assert (queue["name"], queue["kms_master_key_id"]) == ("app-test-cleanup-failures", KEY)
    assert queue["message_retention_seconds"] == FOURTEEN_DAYS
    assert statements[1]["Condition"] == {
        "ArnNotEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111122223333:role/app-test-cleanup",
                "arn:aws:iam::111122223333:role/other",
            ]
        }
    }
    assert construct.queue_name == "app-test-cleanup-failures"
    assert _outputs(doc) == {
        "queue_arn": ref("aws_sqs_queue", queue_key, "arn"),
        "queue_url": ref("aws_sqs_queue", queue_key, "url"),
    }


# ---- the role ----


def test_role_is_trusted_by_scheduler_of_this_account_and_schedule_group_only(built):
    construct, doc = built["default"]
    role = one(doc.resources("aws_iam_role"))
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]

    assert role["name"] == "app-test-cleanup-scheduler"
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {
            "aws:SourceArn": "arn:aws:scheduler:eu-west-1:111122223333:schedule-group/default"
        },
    }
    assert construct.role_arn == ROLE
    assert construct.role_name == "app-test-cleanup-scheduler"


def test_role_invokes_exactly_the_function_sends_to_its_queue_and_uses_its_key(built):
    doc = built["default"][1]
    (role_key,) = doc.resources("aws_iam_role")
    role_policy = one(doc.resources("aws_iam_role_policy"))

    assert role_policy["role"] == ref("aws_iam_role", role_key, "id")
    assert policy(role_policy)["Statement"] == [
        {
            "Sid": "InvokesTheFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [FUNCTION, f"{FUNCTION}:*"],
        },
        {
            "Sid": "SendsDeadLetters",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": DLQ,
        },
        {
            "Sid": "UsesTheKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": KEY,
        },
    ]


def test_attributes_name_the_schedule_and_its_queue(built):
    construct, doc = built["default"]
    (schedule_key,) = doc.resources("aws_scheduler_schedule")
    (queue_key,) = doc.resources("aws_sqs_queue")

    assert (construct.schedule_name, construct.dlq_name) == (
        "app-test-cleanup",
        "app-test-cleanup-dlq",
    )
    assert _outputs(doc) == {
        "schedule_arn": ref("aws_scheduler_schedule", schedule_key, "arn"),
        "dlq_arn": ref("aws_sqs_queue", queue_key, "arn"),
        "dlq_url": ref("aws_sqs_queue", queue_key, "url"),
    }


def test_a_function_reference_is_invoked_with_its_qualified_versions():
    def build(stack):
        from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

        from modules.daily_schedule import DailySchedule

        # Any resource's ARN reference stands for the function's here.
        stand_in = SqsQueue(stack, "stand-in", name="stand-in")
        return DailySchedule(stack, "daily", _props(function_arn=stand_in.arn))

    doc = synth_construct(build, name="reference")[1]
    stand_in = ref("aws_sqs_queue", "stand-in", "arn")
    schedule = one(doc.resources("aws_scheduler_schedule"))
    invoke = policy(one(doc.resources("aws_iam_role_policy")))["Statement"][0]

    assert schedule["target"]["arn"] == stand_in
    assert invoke["Resource"] == [stand_in, f"{stand_in}:*"]


# ---- validation ----


class _NotJson:
    pass


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"name": "app test"}, "name", "is not a schedule name"),
        ({"name": "n" * 55}, "name", "is not a schedule name"),
        ({"name": "app.test"}, "name", "is not a schedule name"),
        (
            {"function_arn": "arn:aws:sqs:eu-west-1:111122223333:q"},
            "function_arn",
            "is not an lambda ARN",
        ),
        (
            {"function_arn": "arn:aws:lambda:eu-west-1:111122223333:layer:l:1"},
            "function_arn",
            "function:",
        ),
        ({"kms_key_arn": "alias/app"}, "kms_key_arn", "is not an kms ARN"),
        ({"hour": 24}, "hour", "is outside 0..23"),
        ({"hour": -1}, "hour", "is outside 0..23"),
        ({"hour": 3.5}, "hour", "is outside 0..23"),
        ({"minute": 60}, "minute", "is outside 0..59"),
        ({"minute": -1}, "minute", "is outside 0..59"),
        ({"timezone": "not a zone"}, "timezone", "is not an IANA time zone"),
        ({"timezone": ""}, "timezone", "is not an IANA time zone"),
        ({"maximum_retry_attempts": 186}, "maximum_retry_attempts", "is outside 0..185"),
        ({"maximum_retry_attempts": -1}, "maximum_retry_attempts", "is outside 0..185"),
        ({"maximum_event_age_in_seconds": 59}, "maximum_event_age_in_seconds", "60..86400"),
        ({"maximum_event_age_in_seconds": 86401}, "maximum_event_age_in_seconds", "60..86400"),
        ({"payload": {"x": _NotJson()}}, "payload", "is not JSON"),
    ],
)
def test_bad_schedule_props_fail_with_the_field_and_reason(overrides, field, reason):
    with pytest.raises(PropsError, match=f"^DailyScheduleProps.{field}: ") as error:
        _props(**overrides)
    assert reason in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"queue_name": "app.failures"}, "queue_name", "is not a standard queue name"),
        ({"queue_name": "q" * 81}, "queue_name", "is not a standard queue name"),
        ({"kms_key_arn": "alias/app"}, "kms_key_arn", "is not an kms ARN"),
        ({"sender_role_arns": ()}, "sender_role_arns", "must name at least one role"),
        (
            {"sender_role_arns": ("arn:aws:iam::111122223333:user/alice",)},
            "sender_role_arns",
            "are not IAM role ARNs",
        ),
        ({"sender_role_arns": ("app-test-cleanup",)}, "sender_role_arns", "are not IAM role ARNs"),
    ],
)
def test_bad_queue_props_fail_with_the_field_and_reason(overrides, field, reason):
    with pytest.raises(PropsError, match=f"^DeadLetterQueueProps.{field}: ") as error:
        _queue_props(**overrides)
    assert reason in str(error.value)


def test_the_limits_scheduler_allows_are_accepted():
    _props(hour=0, minute=0, maximum_retry_attempts=0, maximum_event_age_in_seconds=60)
    _props(hour=23, minute=59, maximum_retry_attempts=185, maximum_event_age_in_seconds=86400)


def test_an_unknown_zone_is_refused_where_the_machine_has_a_time_zone_database():
    if not daily_schedule._timezones():
        pytest.skip("this machine has no time zone database (the shape check is tested below)")
    with pytest.raises(PropsError, match=r"^DailyScheduleProps\.timezone: 'Europe/Atlantis'"):
        _props(timezone="Europe/Atlantis")


def test_without_a_time_zone_database_a_zone_is_checked_by_its_shape(monkeypatch):
    monkeypatch.setattr(daily_schedule, "_timezones", frozenset)

    assert daily_schedule.is_known_timezone("Europe/Paris")
    assert daily_schedule.is_known_timezone("America/Argentina/Buenos_Aires")
    assert daily_schedule.is_known_timezone("UTC")
    assert not daily_schedule.is_known_timezone("not a zone")
    assert not daily_schedule.is_known_timezone("Paris")
