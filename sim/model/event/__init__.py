"""The event driver: each request an event of its own, settled by the rulebook as a batch of one."""
