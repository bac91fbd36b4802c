// Package ghost measures ghost leaders: election keys that were the oldest
// of their election (they led, per server truth) while their campaign had
// not returned ok, because it returned an error or no answer. Nobody acts
// as leader then; the election stalls until the key goes or its client
// campaigns again and learns it leads. etcd issue 21128 is one way there:
// a Campaign whose watch meets a compaction returns the error and leaves
// its key behind, with a live lease.
//
// A ghost is a figure, not a verdict: a client that gave up on a campaign
// may leave its key to its lease, and how long the election then stalls is
// what it costs.
package ghost

import (
	"fmt"
	"sort"
	"strings"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// compactedError is how etcd words a compaction error, in every client and
// service that passes it on.
const compactedError = "required revision has been compacted"

// Find returns the ghost leaders rec shows, by start time.
func Find(rec *truth.Record, ops []history.Operation) []models.GhostLeader {
	if rec == nil {
		return nil
	}
	grants := grantsOf(ops)
	var out []models.GhostLeader
	for i := range ops {
		c := &ops[i]
		if c.F != history.FCampaign || c.Outcome == history.Ok || c.Input.Lease == 0 {
			continue
		}
		if g, ok := ghostOf(rec.Queue(c.Name), c, grants); ok {
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].From < out[j].From })
	return out
}

// life names one life of a key.
type life struct {
	key    string
	create int64
}

// grant is a campaign that returned ok, and when.
type grant struct {
	op, at int64
}

// grantsOf are the campaigns that returned ok, by the key life they were
// granted, in return order.
func grantsOf(ops []history.Operation) map[life][]grant {
	out := map[life][]grant{}
	for i := range ops {
		o := &ops[i]
		if o.F == history.FCampaign && o.Outcome == history.Ok {
			id := life{o.Output.Key, o.Output.Rev}
			out[id] = append(out[id], grant{o.ID, o.Return})
		}
	}
	for _, g := range out {
		sort.Slice(g, func(i, j int) bool { return g[i].at < g[j].at })
	}
	return out
}

// ghostOf is the ghost that campaign c left, if its key led after c gave up.
func ghostOf(q *truth.Queue, c *history.Operation, grants map[life][]grant) (models.GhostLeader, bool) {
	k := keyOf(q, c, grants)
	if k == nil || !k.Owned() || !q.Complete(k.Create, min(k.Deleted, q.Last())) {
		return models.GhostLeader{}, false // a gap may hide what happened to it
	}
	from := max(ownedAt(q, k), c.Completed)
	to, ended := k.DeletedAt, fmt.Sprintf("deleted at revision %d", k.Deleted)
	if k.Deleted == truth.Inf {
		to, ended = q.LastAt(), "the record ends"
	}
	for _, g := range grants[life{k.Key, k.Create}] {
		if g.at <= c.Completed {
			continue
		}
		if g.at < to { // the first later grant of the key: its client leads knowingly
			to, ended = g.at, fmt.Sprintf("claimed by op %d", g.op)
		}
		break
	}
	if to <= from {
		return models.GhostLeader{}, false
	}
	return models.GhostLeader{Name: c.Name, Op: c.ID, Client: c.Client, Key: k.Key, CreateRev: k.Create, OwnerRev: k.Owner,
		From: from, To: to, Ended: ended, Error: c.Error, Compacted: strings.Contains(c.Error, compactedError)}, true
}

// keyOf is the key campaign c made or found: its lease's key on c's name
// that still existed when c was invoked, and that no campaign which
// returned ok before c was invoked had been granted (that life was an
// earlier term's).
func keyOf(q *truth.Queue, c *history.Operation, grants map[life][]grant) *truth.Key {
	for _, k := range q.Keys() {
		if k.Lease != c.Input.Lease || k.Deleted != truth.Inf && k.DeletedAt <= c.Call {
			continue
		}
		if g := grants[life{k.Key, k.Create}]; len(g) > 0 && g[0].at < c.Call {
			continue
		}
		return k
	}
	return nil
}

// ownedAt is when the observer saw k become the oldest: its own creation,
// or the deletion that left it the oldest.
func ownedAt(q *truth.Queue, k *truth.Key) int64 {
	if k.Owner == k.Create {
		return k.CreatedAt
	}
	for _, j := range q.Keys() {
		if j.Deleted == k.Owner {
			return j.DeletedAt
		}
	}
	return k.CreatedAt
}
