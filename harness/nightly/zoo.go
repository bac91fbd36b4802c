package nightly

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// Etcd is one etcd binary a zoo runs: a label for the reports (a release
// such as v3.5.12) and the binary's path.
type Etcd struct {
	Label string
	Bin   string
}

// Zoo is a batch that runs the same scenarios with the same seeds on
// several etcd binaries (etcd processes), so that the reports can set the
// releases side by side: which known bugs each one has, and how soon a run
// finds them.
type Zoo struct {
	Etcds     []Etcd
	Scenarios []string
	// Seeds per scenario and etcd; 0 means as many as Budget allows (at
	// least one).
	Seeds int
	// Seed is the first seed: seed k of every scenario and etcd is Seed+k.
	Seed     int64
	Duration time.Duration
	Members  int
	Backend  workloads.Backend
	// Budget is the wall-clock budget of each etcd's runs; 0 with Seeds
	// given means no bound beyond the runs' own estimates.
	Budget time.Duration
}

// PlanZoo returns the zoo's runs and the budget of the whole batch (for
// batch.Execute). Runs go seed by seed, and within a seed scenario by
// scenario across every etcd, so that a batch cut short by its budget has
// tried every etcd alike.
func PlanZoo(z Zoo) (batch.Plan, time.Duration, error) {
	switch {
	case len(z.Etcds) == 0:
		return batch.Plan{}, 0, errors.New("plan zoo: no etcd binaries")
	case len(z.Scenarios) == 0:
		return batch.Plan{}, 0, errors.New("plan zoo: no scenarios")
	case z.Duration <= 0:
		return batch.Plan{}, 0, errors.New("plan zoo: the run duration must be positive")
	case z.Seeds < 0 || z.Budget < 0:
		return batch.Plan{}, 0, errors.New("plan zoo: seeds and budget cannot be negative")
	case z.Seeds == 0 && z.Budget == 0:
		return batch.Plan{}, 0, errors.New("plan zoo: give seeds per scenario or a budget")
	}
	labels := map[string]bool{}
	for _, e := range z.Etcds {
		if e.Label == "" || e.Bin == "" {
			return batch.Plan{}, 0, fmt.Errorf("plan zoo: etcd %q at %q needs a label and a binary", e.Label, e.Bin)
		}
		if labels[e.Label] {
			return batch.Plan{}, 0, fmt.Errorf("plan zoo: etcd label %q given twice", e.Label)
		}
		labels[e.Label] = true
	}
	perSeed := time.Duration(len(z.Scenarios)) * (z.Duration + RunOverhead)
	seeds := z.Seeds
	if seeds == 0 {
		seeds = max(1, int(z.Budget/perSeed))
	}
	budget := z.Budget
	if budget == 0 {
		// Seeds without a budget: every run should happen, so a run
		// slower than its estimate must not cut the ones after it short.
		budget = 2 * time.Duration(seeds) * perSeed
	}
	var runs []batch.Run
	for k := range seeds {
		for _, sc := range z.Scenarios {
			for _, e := range z.Etcds {
				p := planned{scenario: sc, seed: z.Seed + int64(k), members: z.Members, backend: z.Backend,
					mode: harness.ModeProcess, duration: z.Duration}
				if err := checkRun(RunSpec{Scenario: p.scenario, Members: p.members, Backend: p.backend, Mode: p.mode}); err != nil {
					return batch.Plan{}, 0, err
				}
				runs = append(runs, p.run(len(runs), e.Label, e.Bin))
			}
		}
	}
	return batch.Plan{Runs: runs}, budget * time.Duration(len(z.Etcds)), nil
}

// idSafe makes a label usable in a run directory's name.
func idSafe(label string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, label)
}
