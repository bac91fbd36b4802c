// Package hungport measures what a hung client port costs clients that
// have every member as an endpoint: the leases they lost while one
// member's client port accepted and never answered, its peer links
// working, so quorum stayed healthy (Milvus 47296 and Patroni 3335: a
// client stuck on such a member lost its lease). A client that can go
// on through the other members need not lose its lease; one whose
// keep-alives wait on the hung member does.
//
// It is a figure, not a verdict: etcd promises nothing about a lease whose
// keep-alives do not arrive in time.
package hungport

import (
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
)

// Find counts the client leases lost during a hung port: a lease whose
// client recorded its loss (lease-lost) from the start of a hang-client-port
// fault to one lease TTL after its end, since the client learns of a loss
// up to a TTL after its last renewal. A lease its client may have revoked
// itself (it abandoned it: a revoke that returned ok or no answer before
// the loss; one that failed found the lease gone already) or that a lease
// fault aimed at is not counted; each lease counts once. It returns nil
// unless the history's clients had every member as an endpoint and a port
// hung.
func Find(h *history.History, ops []history.Operation) *models.HungPortLeases {
	if !h.Header.EveryEndpoint {
		return nil
	}
	var hangs []history.Fault
	aimed := map[int64]bool{} // leases a lease fault aimed at
	for _, f := range h.Faults() {
		switch {
		case f.Kind == history.KindHangPort:
			hangs = append(hangs, f)
		case f.Lease != 0 && history.FaultKindOf(f.Kind).Explains.Has(history.ExplainsLeaseDeath):
			aimed[f.Lease] = true
		}
	}
	if len(hangs) == 0 {
		return nil
	}
	ttl := h.Header.LeaseTTLMs * 1e6
	revoked := map[int64]int64{} // lease -> its client's first revoke that may have ended it
	for i := range ops {
		o := &ops[i]
		if o.F == history.FRevoke && o.Outcome != history.Fail {
			if at, ok := revoked[o.Input.Lease]; !ok || o.Call < at {
				revoked[o.Input.Lease] = o.Call
			}
		}
	}
	out := &models.HungPortLeases{Faults: len(hangs)}
	seen := map[int64]bool{}
	hit := map[int]bool{}
	for i := range ops {
		o := &ops[i]
		l := o.Input.Lease
		if o.F != history.FLeaseLost || l == 0 || seen[l] || aimed[l] {
			continue
		}
		if at, ok := revoked[l]; ok && at <= o.Call {
			continue
		}
		for j, f := range hangs {
			if o.Call < f.Start || f.End != history.Never && o.Call > f.End+ttl {
				continue
			}
			seen[l], hit[j] = true, true
			lost := models.LostLease{Client: o.Client, Lease: l, At: o.Call, Member: f.Member, Leader: f.Leader}
			if o.Input.LastAlive != nil {
				lost.LastAlive = *o.Input.LastAlive
			}
			out.Lost = append(out.Lost, lost)
			break
		}
	}
	out.WithLoss = len(hit)
	sort.SliceStable(out.Lost, func(i, j int) bool { return out.Lost[i].At < out.Lost[j].At })
	return out
}
