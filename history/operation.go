package history

import "math"

// Outcome of an operation: how it completed.
type Outcome string

// Outcomes. Pending means no completion was recorded; it is treated like Info.
const (
	Ok      Outcome = "ok"
	Fail    Outcome = "fail"
	Info    Outcome = "info"
	Pending Outcome = "pending"
)

// Unknown reports whether the operation may or may not have taken effect.
func (o Outcome) Unknown() bool { return o == Info || o == Pending }

// Never is the return time of an operation whose effect is unknown.
const Never int64 = math.MaxInt64

// Operation pairs an invoke with its completion.
type Operation struct {
	ID      int64
	Client  int
	F       string
	Name    string
	Member  int
	Call    int64 // invoke time, ns since start
	Return  int64 // completion time, or Never for info and pending ops
	Outcome Outcome
	Input   Value
	Output  Value
	Error   string
	// Completed is the time the completion line was written (also for info
	// operations, whose Return is Never); 0 when pending.
	Completed int64
}

// Fault is a fault interval reconstructed from fault events.
type Fault struct {
	Kind   string
	Detail string
	Member int
	Target int
	Lease  int64
	// Leader: the fault's member was the leader when it started.
	Leader bool
	Start  int64
	End    int64 // Never while still active at the end of the history
	Ended  bool  // an end event was recorded
}
