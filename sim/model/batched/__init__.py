"""The batched driver (the default engine): requests settled in batches over arrays, equal to the event driver
to the bit."""
