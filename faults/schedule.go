package faults

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Step is one planned fault: which injector fires when, for how long, and a
// random choice that picks its targets (a member, a client) when it fires.
type Step struct {
	At       time.Duration // since the nemesis started
	Injector string
	For      time.Duration // how long it lasts before it is healed; 0 for one-shot faults
	Choice   uint64
}

// Schedule is the nemesis' plan for one run. The same scenario, seed and
// duration always give the same schedule.
type Schedule []Step

// nemesisStream separates the nemesis' random stream from the clients'.
const nemesisStream = 0x6e656d65736973

// NewSchedule plans faults for a run of the given duration: a quiet gap,
// a fault, its heal, and again, leaving the last stretch of the run healthy.
func NewSchedule(s Scenario, seed int64, duration time.Duration) Schedule {
	if len(s.Injectors) == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), nemesisStream))
	var sch Schedule
	tail := s.Quiet // the end of the run stays healthy
	for t := time.Duration(0); ; {
		t += jitter(rng, s.Quiet)
		inj := s.Injectors[rng.IntN(len(s.Injectors))]
		d := faultDuration(rng, s, injectors[inj])
		if t+d+tail > duration {
			return sch
		}
		sch = append(sch, Step{At: t, Injector: inj, For: d, Choice: rng.Uint64()})
		t += d
	}
}

// jitter returns d scaled by a random factor in [0.5, 1.5).
func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.5 + rng.Float64()))
}

// faultDuration is 0 for a one-shot fault, else how long the injector's
// faults last.
func faultDuration(rng *rand.Rand, s Scenario, inj injector) time.Duration {
	switch {
	case inj.kind.OneShot:
		return 0
	case inj.lasts != nil:
		return inj.lasts(rng, s)
	default:
		return jitter(rng, s.FaultFor)
	}
}

// String lists the steps, one a line.
func (sch Schedule) String() string {
	var b strings.Builder
	for _, st := range sch {
		fmt.Fprintf(&b, "%8.2fs %-15s for %.2fs (choice %d)\n", st.At.Seconds(), st.Injector, st.For.Seconds(), st.Choice)
	}
	return b.String()
}
