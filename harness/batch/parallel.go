package batch

import (
	"runtime"
	"slices"

	"github.com/etcdchaos/etcdchaos/harness"
)

// DefaultParallel is how many runs a batch carries out at once unless told,
// from the cores this process may use (GOMAXPROCS, which follows the CPU
// quota of a container): three per two cores when every run has its members
// as etcd processes, else one per core; never more than 8. Timing faults
// (pauses around an election timeout, lease TTLs) must stay honest, and a
// starved run stretches every timeout it measures. Three process-mode runs
// on two cores used about 1.4 of them (a run costs 0.47 to 0.83 cpu-s per
// second of run, the harness and its etcd processes together) and found
// the same share of known bugs as one at a time (BenchmarkZooThroughput);
// make soak at three had no false alarm, but missed etcdchaos-2, found in
// 2 of the 72 serial runs, which one sample cannot tell from chance (the
// README has the figures).
// Embedded members share the harness process and are not measured beyond
// one run per core.
func DefaultParallel(modes []string) int {
	cores := runtime.GOMAXPROCS(0)
	n := cores
	if len(modes) > 0 && !slices.ContainsFunc(modes, func(m string) bool { return m != harness.ModeProcess }) {
		n = cores * 3 / 2
	}
	return max(1, min(n, 8))
}
