"""What AWS WAF accepts for rate-based rules, as plain data: settings validate against it before
any construct exists (and before the AWS binding loads); the web ACL construct uses it too."""

from __future__ import annotations

# A rate-based statement's `limit` (requests per client IP per evaluation window).
RATE_LIMIT_RANGE = (10, 2_000_000_000)
# Its `evaluation_window_sec`.
EVALUATION_WINDOWS = (60, 120, 300, 600)
