package runner

import (
	"fmt"

	"github.com/etcdchaos/etcdchaos/faults"
	"github.com/etcdchaos/etcdchaos/workloads"
)

// startWorkloads creates one workload per kind the scenario runs, with
// client ids that do not overlap, and hands their clients to the nemesis.
func (r *run) startWorkloads(env *faults.Env) error {
	base := 0
	for _, kind := range r.sc.Workloads {
		w, err := workloads.New(r.cluster, r.rec, r.workloadConfig(kind, base))
		if err != nil {
			return fmt.Errorf("%s workload: %w", kind, err)
		}
		r.loads = append(r.loads, w)
		for _, c := range w.Clients() {
			env.Clients = append(env.Clients, c)
			base = max(base, c.ID())
		}
	}
	return nil
}

// workloadConfig is the config of the scenario's workload of the given kind,
// whose client ids start after base.
func (r *run) workloadConfig(kind string, base int) workloads.Config {
	return workloads.Config{
		Kind:      workloads.Kind(kind),
		Backend:   r.opts.Backend,
		Clients:   r.opts.Clients,
		Names:     r.opts.Names,
		LeaseTTL:  r.sc.LeaseTTL,
		Prefix:    r.opts.keyPrefix,
		Seed:      r.opts.Seed,
		Unfenced:  r.unfenced(),
		LongHold:  r.sc.LongHold,
		OpTimeout: r.sc.OpTimeout,
		TTLProbe:  r.sc.TTLProbe,
		Writes:    r.sc.Writes,
		LeaseKeys: r.sc.LeaseKeys,

		RetryUnlockLater: r.sc.RetryUnlockLater,
		CampaignBackoff:  r.sc.CampaignBackoff,
		EveryEndpoint:    r.sc.EveryEndpoint,
		ClientBase:       base,
		Locker:           r.opts.Locker,
		Elector:          r.opts.Elector,
		Mutant:           r.opts.Mutant,
		Fixes:            r.opts.Fixes,
	}
}

// unfenced is the fraction of unfenced writes: the scenario's unless the
// options override it. Scenario, options and workloads all read 0 as none.
func (r *run) unfenced() float64 {
	if r.opts.Unfenced != nil {
		return *r.opts.Unfenced
	}
	return r.sc.Unfenced
}

// intents collects every client's seeded choices.
func (r *run) intents() map[int][]workloads.Intent {
	out := map[int][]workloads.Intent{}
	for _, w := range r.loads {
		for _, c := range w.Clients() {
			out[c.ID()] = c.Intents()
		}
	}
	return out
}
