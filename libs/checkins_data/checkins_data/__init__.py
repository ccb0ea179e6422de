"""The check-ins data on Amazon Keyspaces, shared by the app, the cleanup job and the Terraform.

`checkins_data.schema` (tables, CQL rendering; standard library only, so the Terraform synth can
import it without the Cassandra driver) and `checkins_data.connection` (settings and the one
code path to Cassandra or Keyspaces).
"""
