package batch

import (
	"runtime"
	"slices"

	"github.com/etcdchaos/etcdchaos/harness"
)

// DefaultParallel is how many runs a batch carries out at once unless told:
// one per core this process may use (GOMAXPROCS, which follows the CPU
// quota of a container), and one per two cores when any run has its
// members as etcd processes on a machine of more than two cores (three
// etcd processes and the harness take about a core and a half together).
// Never more than 8: timing faults (pauses around an election timeout,
// lease TTLs) must stay honest, and a starved run stretches every timeout
// it measures.
func DefaultParallel(modes []string) int {
	cores := runtime.GOMAXPROCS(0)
	n := cores
	if slices.Contains(modes, harness.ModeProcess) && cores > 2 {
		n = cores / 2
	}
	return max(1, min(n, 8))
}
