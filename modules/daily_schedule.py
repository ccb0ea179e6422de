"""A daily EventBridge Scheduler schedule that invokes a Lambda function, and the encrypted SQS
queues that keep what could not be delivered. Knows nothing about environments or config files.

Two constructs:

- `DeadLetterQueue`: a standard SQS queue, SSE-KMS with a customer key, messages kept 14 days,
  a policy that refuses anything but TLS and lets no principal but the named sender roles send.
  `DailySchedule` makes its own for the scheduler; a caller makes one for the function's
  asynchronous on-failure destination *before* the function
  (`LambdaFunctionProps.on_failure_destination_arn`), since the schedule needs the function.
- `DailySchedule`: the schedule (a cron expression at an hour and minute in a time zone,
  flexible time window off), its retry policy, its dead-letter queue and its own role.

Scheduler invokes Lambda asynchronously: its retries and dead-letter queue cover only failures
to *invoke* (throttling, a missing function, permissions, KMS). Errors of the function itself are
handled by Lambda's asynchronous retries and its on-failure destination.
"""

from __future__ import annotations

import functools
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.scheduler_schedule import (
    SchedulerSchedule,
    SchedulerScheduleFlexibleTimeWindow,
    SchedulerScheduleTarget,
    SchedulerScheduleTargetDeadLetterConfig,
    SchedulerScheduleTargetRetryPolicy,
)
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document, service_assume_role_policy
from modules.props import PropsError, check_arn, is_token, require

# SQS keeps a message at most 14 days: the longest time to notice and read a dead letter.
MESSAGE_RETENTION_SECONDS = 14 * 24 * 3600
# EventBridge Scheduler's retry policy limits (RetryPolicy in its API reference).
SCHEDULER_MAX_RETRY_ATTEMPTS = 185
SCHEDULER_EVENT_AGE_RANGE = (60, 86400)
# Scheduler evaluates the schedules of the default group; the execution role's trust names it.
SCHEDULE_GROUP = "default"
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,64}$")
# `name` also names the role (`<name>-scheduler`, 64 at most) and the queue (`<name>-dlq`).
_SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,54}$")
# Used only where the machine has no time zone database: an IANA-shaped name.
_TIMEZONE_SHAPE = re.compile(r"^(UTC|[A-Z][A-Za-z_-]+(/[A-Za-z0-9_+-]+){1,2})$")


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_known_timezone(name: str) -> bool:
    """An IANA time zone name (from the machine's time zone database, or by shape where it has
    none)."""
    known = _timezones()
    return name in known if known else _TIMEZONE_SHAPE.match(name) is not None


@dataclass(frozen=True)
class DeadLetterQueueProps:
    """Props of `DeadLetterQueue`."""

    queue_name: str
    """1-80 of A-Z, a-z, 0-9, `_`, `-` (a standard queue: Scheduler refuses FIFO ones)."""
    target: AwsTarget
    kms_key_arn: str
    """Encrypts the messages (SSE-KMS). Senders and readers need kms:GenerateDataKey /
    kms:Decrypt on it, so its policy must let IAM policies grant its use."""
    sender_role_arns: tuple[str, ...]
    """The only principals that may send (their own policies must allow sqs:SendMessage too),
    e.g. a schedule's role or a Lambda function's execution role."""

    def __post_init__(self) -> None:
        require(
            _QUEUE_NAME.match(self.queue_name) is not None,
            "DeadLetterQueueProps.queue_name",
            self.queue_name,
            "is not a standard queue name (1-80 of A-Z, a-z, 0-9, _ -)",
        )
        check_arn("DeadLetterQueueProps.kms_key_arn", self.kms_key_arn, service="kms")
        require(
            len(self.sender_role_arns) >= 1,
            "DeadLetterQueueProps.sender_role_arns",
            self.sender_role_arns,
            "must name at least one role",
        )
        bad = [a for a in self.sender_role_arns if not is_token(a) and not _ROLE_ARN.match(a)]
        require(
            not bad,
            "DeadLetterQueueProps.sender_role_arns",
            bad,
            "are not IAM role ARNs (arn:<partition>:iam::<account>:role/<name>)",
        )


class DeadLetterQueue(Construct):
    """Attributes: `queue_name`, `queue_arn` (a reference: depend on the queue through it),
    `queue_url`."""

    def __init__(self, scope: Construct, id_: str, props: DeadLetterQueueProps) -> None:
        super().__init__(scope, id_)
        arn = props.target.arn("sqs", props.queue_name)
        queue = SqsQueue(
            self,
            "queue",
            name=props.queue_name,
            kms_master_key_id=props.kms_key_arn,
            message_retention_seconds=MESSAGE_RETENTION_SECONDS,
            tags={"Name": props.queue_name},
        )
        senders = list(props.sender_role_arns)
        SqsQueuePolicy(
            self,
            "policy",
            queue_url=queue.url,
            # Deny statements only: in the same account the senders' own policies allow, and
            # conditions on aws:PrincipalArn (unlike principals) may name roles that do not
            # exist yet.
            policy=policy_document(
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=["sqs:*"],
                    resources=[arn],
                    conditions={"Bool": {"aws:SecureTransport": "false"}},
                ),
                Statement(
                    sid="OnlyTheSendersSend",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=["sqs:SendMessage"],
                    resources=[arn],
                    conditions={
                        "ArnNotEquals": {
                            "aws:PrincipalArn": senders[0] if len(senders) == 1 else senders
                        }
                    },
                ),
            ),
        )
        self.queue_name: str = props.queue_name
        self.queue_arn: str = queue.arn
        self.queue_url: str = queue.url


@dataclass(frozen=True)
class DailyScheduleProps:
    """Props of `DailySchedule`."""

    name: str
    """The schedule's name, 1-54 of A-Z, a-z, 0-9, `_`, `-`; its role is `<name>-scheduler`,
    its dead-letter queue `<name>-dlq`."""
    target: AwsTarget
    description: str
    function_arn: str
    """The Lambda function invoked (unqualified: `$LATEST`)."""
    kms_key_arn: str
    """Encrypts the dead-letter queue and the schedule's payload (its policy must let IAM
    policies grant its use: the role is given it)."""
    hour: int
    """0..23, in `timezone`."""
    minute: int = 0
    """0..59. @default 0"""
    timezone: str = "UTC"
    """An IANA time zone. In one that has daylight saving time, a time in the skipped hour
    does not run on the day the clocks go forward. @default "UTC" """
    payload: Mapping[str, Any] = field(default_factory=dict)
    """The event the function receives (JSON, keys sorted). @default {}"""
    maximum_retry_attempts: int = SCHEDULER_MAX_RETRY_ATTEMPTS
    """Retries of a failed invocation (with backoff), 0..185. @default 185 (Scheduler's
    default: the event age below is what ends the retries)"""
    maximum_event_age_in_seconds: int = 21600
    """How long Scheduler keeps retrying before the event goes to the dead-letter queue,
    60..86400. @default 21600 (six hours: a day's run that cannot be invoked is in the queue,
    and its alarm, the same day)"""
    enabled: bool = True
    """False creates the schedule disabled. @default True"""

    @property
    def expression(self) -> str:
        """The schedule expression: minutes, hours, day of month, month, day of week, year."""
        return f"cron({self.minute} {self.hour} * * ? *)"

    def __post_init__(self) -> None:
        require(
            _SCHEDULE_NAME.match(self.name) is not None,
            "DailyScheduleProps.name",
            self.name,
            "is not a schedule name (1-54 of A-Z, a-z, 0-9, _ -)",
        )
        check_arn(
            "DailyScheduleProps.function_arn",
            self.function_arn,
            service="lambda",
            resource="function:",
        )
        check_arn("DailyScheduleProps.kms_key_arn", self.kms_key_arn, service="kms")
        require(
            isinstance(self.hour, int) and 0 <= self.hour <= 23,
            "DailyScheduleProps.hour",
            self.hour,
            "is outside 0..23",
        )
        require(
            isinstance(self.minute, int) and 0 <= self.minute <= 59,
            "DailyScheduleProps.minute",
            self.minute,
            "is outside 0..59",
        )
        require(
            is_known_timezone(self.timezone),
            "DailyScheduleProps.timezone",
            self.timezone,
            "is not an IANA time zone (e.g. UTC, Europe/Paris)",
        )
        require(
            0 <= self.maximum_retry_attempts <= SCHEDULER_MAX_RETRY_ATTEMPTS,
            "DailyScheduleProps.maximum_retry_attempts",
            self.maximum_retry_attempts,
            f"is outside 0..{SCHEDULER_MAX_RETRY_ATTEMPTS}",
        )
        low, high = SCHEDULER_EVENT_AGE_RANGE
        require(
            low <= self.maximum_event_age_in_seconds <= high,
            "DailyScheduleProps.maximum_event_age_in_seconds",
            self.maximum_event_age_in_seconds,
            f"is outside {low}..{high}",
        )
        try:
            json.dumps(dict(self.payload))
        except (TypeError, ValueError) as error:
            raise PropsError(
                "DailyScheduleProps.payload", self.payload, f"is not JSON ({error})"
            ) from None


class DailySchedule(Construct):
    """Attributes: `schedule_name`, `schedule_arn`, `role_name`, `role_arn`, `dlq_name`,
    `dlq_arn`, `dlq_url`."""

    def __init__(self, scope: Construct, id_: str, props: DailyScheduleProps) -> None:
        super().__init__(scope, id_)
        target = props.target
        self.role_name: str = f"{props.name}-scheduler"
        self.role_arn: str = target.arn("iam", f"role/{self.role_name}")
        dlq = DeadLetterQueue(
            self,
            "dlq",
            DeadLetterQueueProps(
                queue_name=f"{props.name}-dlq",
                target=target,
                kms_key_arn=props.kms_key_arn,
                sender_role_arns=(self.role_arn,),
            ),
        )
        role = IamRole(
            self,
            "role",
            name=self.role_name,
            description=f"EventBridge Scheduler's role for the schedule {props.name}",
            # Scheduler's confused-deputy guidance: the account, and the schedule *group* (it
            # refuses a schedule ARN in this condition).
            assume_role_policy=service_assume_role_policy(
                "scheduler.amazonaws.com",
                target.account_id,
                source_arn=target.arn("scheduler", f"schedule-group/{SCHEDULE_GROUP}"),
            ),
            tags={"Name": self.role_name},
        )
        policy = IamRolePolicy(
            self,
            "role-policy",
            name=self.role_name,
            role=role.id,
            policy=policy_document(
                Statement(
                    sid="InvokesTheFunction",
                    actions=["lambda:InvokeFunction"],
                    # The function, and its versions and aliases (`<arn>:<qualifier>`).
                    resources=[props.function_arn, f"{props.function_arn}:*"],
                ),
                Statement(
                    sid="SendsDeadLetters",
                    actions=["sqs:SendMessage"],
                    resources=[target.arn("sqs", dlq.queue_name)],
                ),
                Statement(
                    sid="UsesTheKey",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    # No kms:ViaService: SQS uses the key with this role for the dead letters,
                    # and Scheduler itself decrypts the schedule's payload with it.
                    resources=[props.kms_key_arn],
                ),
            ),
        )
        schedule = SchedulerSchedule(
            self,
            "schedule",
            name=props.name,
            group_name=SCHEDULE_GROUP,
            description=props.description,
            schedule_expression=props.expression,
            schedule_expression_timezone=props.timezone,
            flexible_time_window=SchedulerScheduleFlexibleTimeWindow(mode="OFF"),
            kms_key_arn=props.kms_key_arn,
            state="ENABLED" if props.enabled else "DISABLED",
            target=SchedulerScheduleTarget(
                arn=props.function_arn,
                role_arn=role.arn,
                input=json.dumps(dict(props.payload), sort_keys=True, separators=(",", ":")),
                retry_policy=SchedulerScheduleTargetRetryPolicy(
                    maximum_retry_attempts=props.maximum_retry_attempts,
                    maximum_event_age_in_seconds=props.maximum_event_age_in_seconds,
                ),
                dead_letter_config=SchedulerScheduleTargetDeadLetterConfig(arn=dlq.queue_arn),
            ),
            # The role's permissions before the first run needs them.
            depends_on=[policy],
        )
        self.schedule_name: str = props.name
        self.schedule_arn: str = schedule.arn
        self.dlq_name: str = dlq.queue_name
        self.dlq_arn: str = dlq.queue_arn
        self.dlq_url: str = dlq.queue_url
