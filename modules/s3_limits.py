"""What S3 accepts for lifecycle transitions and Object Lock: pure data, shared by the bucket
construct and the configuration model (which loads before the AWS binding)."""

from __future__ import annotations

# Lifecycle transitions S3 accepts, with the fewest days an object must be stored before each
# (S3 refuses a transition to STANDARD_IA or ONEZONE_IA before 30 days).
TRANSITION_MIN_DAYS: dict[str, int] = {
    "STANDARD_IA": 30,
    "ONEZONE_IA": 30,
    "INTELLIGENT_TIERING": 0,
    "GLACIER_IR": 0,
    "GLACIER": 0,
    "DEEP_ARCHIVE": 0,
}
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# A default retention is a positive number of days, at most 100 years.
MAX_OBJECT_LOCK_DAYS = 36500
