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

// CompactionError reports whether an operation's recorded error is etcd's
// compaction error.
func CompactionError(msg string) bool { return strings.Contains(msg, compactedError) }

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
		if g, ok := ghostOf(rec.Queue(c.Name), c, ops, grants); ok {
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
func ghostOf(q *truth.Queue, c *history.Operation, ops []history.Operation, grants map[life][]grant) (models.GhostLeader, bool) {
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
	if to <= from || !outlived(k, c, ops) {
		return models.GhostLeader{}, false
	}
	return models.GhostLeader{Name: c.Name, Op: c.ID, Client: c.Client, Key: k.Key, CreateRev: k.Create, OwnerRev: k.Owner,
		From: from, To: to, Ended: ended, Error: c.Error, Compacted: CompactionError(c.Error)}, true
}

// outlived reports whether key k provably existed after campaign c
// returned. The observer sees a deletion some time after it was applied, so
// a deletion seen after the return may have come before it (a campaign
// that deleted its own key as it gave up); proof is an operation invoked
// after the return that found the key (a leader read, its client's next
// campaign), or that read, linearizably, a
// revision before its deletion, or whose own revoke of k's lease deleted
// it (the deletion's revision is the revoke's).
func outlived(k *truth.Key, c *history.Operation, ops []history.Operation) bool {
	if k.Deleted == truth.Inf {
		return true
	}
	for i := range ops {
		o := &ops[i]
		if o.Call <= c.Completed || o.Outcome != history.Ok {
			continue
		}
		switch o.F {
		case history.FLeader, history.FCampaign:
			if o.Output.Key == k.Key && o.Output.Rev == k.Create ||
				o.F == history.FLeader && o.Output.HeaderRev > 0 && o.Output.HeaderRev < k.Deleted {
				return true
			}
		}
	}
	return false
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

// lostWatcherError is how concurrency.Election words a wait whose watch
// closed without an error or its context's end.
const lostWatcherError = "lost watcher waiting for delete"

// waitError reports whether a campaign's error is one only its wait for
// the older keys returns: the campaign's key existed then, made or found by
// the campaign itself, so the error is no unknown outcome of its put, and
// it is not the campaign's context ending either.
func waitError(msg string) bool {
	return CompactionError(msg) || strings.Contains(msg, lostWatcherError)
}

// Check judges, per election, the ghosts that are findings: a campaign
// that returned an error only its wait returns (a compaction's, or a lost
// watch) left its key, which then led while its client believed it had
// lost. A campaign that gave up on its own context, or whose put had an
// unknown outcome, leaves its key to its lease by contract (its client
// learns nothing it could clean up with), so those ghosts stay a figure.
// A campaign whose key a gap in the server truth hides is undecided.
func Check(rec *truth.Record, ops []history.Operation) []models.CheckResult {
	if rec == nil {
		return nil
	}
	grants := grantsOf(ops)
	type tally struct {
		campaigns, undecided int
		findings             []models.Finding
	}
	byName := map[string]*tally{}
	var names []string
	for i := range ops {
		c := &ops[i]
		if c.F != history.FCampaign {
			continue
		}
		t := byName[c.Name]
		if t == nil {
			t = &tally{}
			byName[c.Name] = t
			names = append(names, c.Name)
		}
		t.campaigns++
		if c.Outcome == history.Ok || c.Input.Lease == 0 || !waitError(c.Error) {
			continue
		}
		q := rec.Queue(c.Name)
		k := keyOf(q, c, grants)
		if k == nil {
			continue
		}
		if k.Owned() && !q.Complete(k.Create, min(k.Deleted, q.Last())) {
			t.undecided++
			continue
		}
		g, ok := ghostOf(q, c, ops, grants)
		if !ok {
			continue
		}
		t.findings = append(t.findings, finding(g, c))
	}
	sort.Strings(names)
	out := make([]models.CheckResult, 0, len(names))
	for _, name := range names {
		t := byName[name]
		out = append(out, models.ContractResult(models.CheckGhost, name, t.campaigns, t.findings, t.undecided,
			fmt.Sprintf("%d campaigns on %s that returned a wait's error could not be followed: a gap in the server truth covers their keys", t.undecided, name)))
	}
	return out
}

// finding words ghost g of campaign c.
func finding(g models.GhostLeader, c *history.Operation) models.Finding {
	return models.Finding{Kind: models.FindingGhostLeader, Name: g.Name, F: c.F, Op: c.ID,
		Key: g.Key, CreateRev: g.CreateRev, Lease: c.Input.Lease, At: g.From,
		Evidence: []int64{c.ID}, Revisions: []int64{g.CreateRev, g.OwnerRev},
		Account: fmt.Sprintf("client %d's campaign of %s (op %d) returned %q at %s, but its key %s (created at revision %d) stayed and led (from revision %d): "+
			"nobody acted as leader for %s after it returned, until it was %s",
			c.Client, g.Name, c.ID, c.Error, models.Secs(c.Completed), g.Key, g.CreateRev, g.OwnerRev, models.Secs(g.To-g.From), g.Ended)}
}
