"""What RDS for PostgreSQL accepts, as plain data: settings validate against it before any
construct exists (and before the AWS binding loads); the database construct uses it too."""

from __future__ import annotations

import re

# Majors RDS offers with standard support (RDS User Guide, "Supported PostgreSQL versions");
# older ones reach Extended Support, which costs extra.
SUPPORTED_MAJORS = (16, 17, 18)

# Enhanced Monitoring granularities (CreateDBInstance `MonitoringInterval`).
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)

# Instance families with a PostgreSQL offering; the sizes every family shares. A class that
# exists but is not offered in the region still fails at apply: confirm with
# `aws rds describe-orderable-db-instance-options --engine postgres`.
INSTANCE_FAMILIES = (
    "t3", "t4g", "m5", "m5d", "m6g", "m6gd", "m6i", "m6id", "m6idn", "m7g", "m7i", "m8g",
    "r5", "r5b", "r5d", "r6g", "r6gd", "r6i", "r6id", "r6idn", "r7g", "r7i", "r8g", "x2g",
    "x2iedn", "c6gd",
)  # fmt: skip
_SIZE = r"(micro|small|medium|large|xlarge|(2|4|8|9|12|16|18|24|32|48)xlarge|metal)"
_BURSTABLE_SIZES = ("micro", "small", "medium", "large", "xlarge", "2xlarge")

# Families a Multi-AZ DB cluster runs on (RDS User Guide, "Multi-AZ DB cluster deployments",
# instance class availability): local NVMe families and Graviton general purpose.
CLUSTER_INSTANCE_FAMILIES = ("c6gd", "m5d", "m6gd", "m6id", "m6idn", "r5d", "r6gd", "r6id",
                             "r6idn", "x2iedn")  # fmt: skip


def valid_instance_class(value: str) -> bool:
    match = re.fullmatch(rf"db\.([a-z0-9]+)\.{_SIZE}", value)
    if match is None or match[1] not in INSTANCE_FAMILIES:
        return False
    return not match[1].startswith("t") or match[2] in _BURSTABLE_SIZES


def valid_insights_retention(days: int) -> bool:
    """Performance Insights keeps 7 days (free tier), 731, or a multiple of 31 in between."""
    return days == 7 or (days % 31 == 0 and 31 <= days <= 731) or days == 731
