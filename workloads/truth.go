package workloads

import (
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/workloads/observer"
)

// Watched lists the keys the workload's clients use, by name and role, for
// the observer that records server truth: each name's queue of lock or
// election keys and, for locks, the key its critical sections write.
func (w *Workload) Watched() []observer.Target {
	role := history.RoleLock
	if w.cfg.Kind == KindElection {
		role = history.RoleElection
	}
	var out []observer.Target
	for _, name := range w.names {
		out = append(out, observer.Target{Name: name, Role: role, Prefix: w.cfg.EtcdName(name)})
		if w.cfg.Kind == KindLock {
			out = append(out, observer.Target{Name: name, Role: history.RoleData, Prefix: w.cfg.resourceKey(name), Exact: true})
		}
	}
	return out
}

// KeyRoot is the prefix under which every key of the workload lives.
func (w *Workload) KeyRoot() string { return w.cfg.Prefix + "/" }
