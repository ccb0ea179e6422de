"""Cleanup job: archives check-ins older than the retention to S3, verifies them, then deletes them.

The folder above is named ``lambda`` (a Python keyword), so the importable package is
``cleanup_job``; the Lambda handler is ``cleanup_job.handler.handler``.
"""
