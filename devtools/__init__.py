"""Operator and developer tooling: local PostgreSQL and Cassandra servers, the checkov policy
scan and its reviewed exceptions. Tests, benchmarks and the READMEs use it; nothing here is
deployed."""
