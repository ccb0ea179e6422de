"""Secrets Manager rotation function for the auth service's JWT signing keys.

Handler: ``key_rotation.handler.handler``. The secret's format is ``signing_keys.document``.
"""
