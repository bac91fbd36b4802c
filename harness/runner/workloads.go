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
		cfg := workloads.Config{
			Kind:       workloads.Kind(kind),
			Backend:    workloads.Backend(r.opts.Backend),
			Clients:    r.opts.Clients,
			Names:      r.opts.Names,
			LeaseTTL:   r.sc.LeaseTTL,
			Prefix:     r.opts.keyPrefix,
			Seed:       r.opts.Seed,
			Unfenced:   r.unfenced(),
			ClientBase: base,
			Locker:     r.opts.Locker,
			Elector:    r.opts.Elector,
			Mutant:     r.opts.Mutant,
		}
		w, err := workloads.New(r.cluster, r.rec, cfg)
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

// unfenced is the fraction of unfenced writes; a negative value means none.
func (r *run) unfenced() float64 {
	f := r.sc.Unfenced
	if r.opts.Unfenced != nil {
		f = *r.opts.Unfenced
	}
	if f == 0 {
		return -1
	}
	return f
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
