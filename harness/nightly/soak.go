package nightly

import (
	"errors"
	"fmt"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/harness/batch"
	"github.com/etcdchaos/etcdchaos/harness/runner"
)

// Soak is every scenario given times Seeds seeds, each run with the same
// options but its seed: the proof that unmodified etcd passes every
// scenario (etcdchaos soak).
type Soak struct {
	Scenarios []string
	Seeds     int
	// Seed is the first seed: each scenario runs Seed..Seed+Seeds-1.
	Seed int64
	// Options are every run's (cluster, duration, backend, check timeout);
	// their Seed is set per run.
	Options runner.Options
}

// PlanSoak returns the soak's runs, scenario by scenario and within a
// scenario seed by seed; run <scenario>-<seed> writes its directory of
// that name.
func PlanSoak(s Soak) (batch.Plan, error) {
	switch {
	case len(s.Scenarios) == 0:
		return batch.Plan{}, errors.New("plan soak: no scenarios")
	case s.Seeds < 1:
		return batch.Plan{}, fmt.Errorf("plan soak: %d seeds (expected at least 1)", s.Seeds)
	}
	var runs []batch.Run
	seen := map[string]bool{}
	for _, sc := range s.Scenarios {
		if _, err := faults.Lookup(sc); err != nil {
			return batch.Plan{}, fmt.Errorf("plan soak: %w", err)
		}
		if seen[sc] {
			return batch.Plan{}, fmt.Errorf("plan soak: scenario %s given twice", sc)
		}
		seen[sc] = true
		for k := range s.Seeds {
			o := s.Options
			o.Seed = s.Seed + int64(k)
			runs = append(runs, batch.Run{ID: fmt.Sprintf("%s-%d", sc, o.Seed), Scenario: sc, Options: o})
		}
	}
	return batch.Plan{Runs: runs}, nil
}
