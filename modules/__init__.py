"""cdktf constructs: one capability per module, each taking one typed props object."""
