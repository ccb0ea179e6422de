"""The auth service's signing-key set as stored in Secrets Manager: format and reader rules.

Shared by the rotation function (``lambda/key_rotation``, the only writer) and the auth service
(the only reader), so both agree on one parser.
"""
