"""The layers of an environment stack: plain functions that add resources to the stack and
return a frozen dataclass of what later layers need. Data only flows down. Construct ids do not
depend on which layer creates a construct, so moving code between layers moves no state."""
