"""Everything that talks to Cassandra/Keyspaces: the driver bridge and the repository."""
