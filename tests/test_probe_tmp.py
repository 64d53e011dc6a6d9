import os, sys, gc
import coverage
def test_probe():
    covs = [o for o in gc.get_objects() if isinstance(o, coverage.Coverage)]
    cur = coverage.Coverage.current()
    open("/tmp/probe.txt","a").write(repr(("PROBE", len(covs), [ (id(c), c._started if hasattr(c,'_started') else None, c.config.config_file) for c in covs], id(cur) if cur else None, sys.gettrace(), sorted(k for k in os.environ if "COV" in k)))+"\n")
    cur.stop()
    open("/tmp/probe.txt","a").write(repr(("AFTER", sys.gettrace()))+"\n")
    cur.start()
