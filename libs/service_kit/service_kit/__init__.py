"""What the two FastAPI services share: JSON logs with a request id, the body-size limit, the
JSON error body, settings that fail with one line, and the run command."""
