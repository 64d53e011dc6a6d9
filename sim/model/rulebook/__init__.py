"""The rulebook both request drivers follow, written once: the request rules over arrays, the draw layout,
routing, and the records (events one by one, tallies in bulk) a run reports."""
