package history

// Workload is what a run's clients exercise: locks or elections. It is the
// one vocabulary of workload kinds: scenarios list them, workload configs
// pick one, and the checker keys its families on them.
type Workload string

// Workload kinds.
const (
	WorkloadLock     Workload = "lock"
	WorkloadElection Workload = "election"
)
