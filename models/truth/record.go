// Package truth reads server truth (history format extension 1.1): what
// etcd itself applied to each name's keys, in revision order. Record
// rebuilds every lock's and election's queue from it; Check holds every
// client claim to it; Settle decides, from it, operations whose outcome the
// client did not learn. Each conclusion is a proof in revisions, and none
// is drawn from revisions a gap may hide.
package truth

import (
	"math"
	"sort"

	"github.com/etcdchaos/etcdchaos/history"
)

// Inf stands for "not deleted as far as the truth goes".
const Inf = int64(math.MaxInt64)

// Key is one life of a key of a queue, from creation to deletion.
type Key struct {
	Key       string
	Create    int64 // create revision
	Lease     int64
	Deleted   int64 // delete revision, Inf if never seen deleted
	DeletedAt int64 // when the observer saw the delete
	CreatedAt int64 // when the observer saw it created
	// Owner is the revision at which it became the oldest key of its queue
	// (owned the lock or led), Inf if never while it existed.
	Owner  int64
	Values []string
}

// Owned reports whether the key was at some revision the oldest.
func (k *Key) Owned() bool { return k.Owner < k.Deleted }

// Queue is the truth of one name's lock or election queue, or of its data
// keys.
type Queue struct {
	keys   map[lifeID]*Key
	byRev  []*Key // by create revision
	gaps   [][2]int64
	last   int64 // the last revision the truth covers
	lastAt int64 // when the observer received the queue's last line
	writes map[int64][]history.ServerEvent
}

// lifeID names one life of a key: the key and its create revision.
type lifeID struct {
	key    string
	create int64
}

// NewQueue builds a queue from the server lines of one name and role(s).
func NewQueue(events []history.ServerEvent) *Queue {
	q := &Queue{keys: map[lifeID]*Key{}, writes: map[int64][]history.ServerEvent{}}
	for _, s := range events {
		q.lastAt = max(q.lastAt, s.Time)
		switch s.Event {
		case history.ServerGap:
			q.gaps = append(q.gaps, [2]int64{s.FromRev, s.ToRev})
			q.last = max(q.last, s.ToRev)
			continue
		case history.ServerPut:
			k := q.keys[lifeID{s.Key, s.CreateRev}]
			if k == nil {
				k = &Key{Key: s.Key, Create: s.CreateRev, Lease: s.Lease, Deleted: Inf, CreatedAt: s.Time}
				q.keys[lifeID{s.Key, s.CreateRev}] = k
				q.byRev = append(q.byRev, k)
			}
			k.Values = append(k.Values, s.Value)
			q.writes[s.Rev] = append(q.writes[s.Rev], s)
		case history.ServerDelete:
			if k := q.keys[lifeID{s.Key, s.CreateRev}]; k != nil {
				k.Deleted, k.DeletedAt = s.Rev, s.Time
			}
		}
		q.last = max(q.last, s.Rev)
	}
	sort.Slice(q.byRev, func(i, j int) bool { return q.byRev[i].Create < q.byRev[j].Create })
	// A key owns from when every older key is gone, if it still exists.
	gone := int64(0) // latest deletion among older keys
	for _, k := range q.byRev {
		k.Owner = max(k.Create, gone)
		gone = max(gone, k.Deleted)
	}
	return q
}

// Keys are the queue's keys by create revision.
func (q *Queue) Keys() []*Key { return q.byRev }

// Key is the life of key created at revision create; nil if the truth has
// none.
func (q *Queue) Key(key string, create int64) *Key { return q.keys[lifeID{key, create}] }

// Last is the last revision the truth covers.
func (q *Queue) Last() int64 { return q.last }

// LastAt is when the observer received the queue's last line.
func (q *Queue) LastAt() int64 { return q.lastAt }

// Complete reports whether the truth has every event with a revision in
// (lo, hi]: no gap may hide one there.
func (q *Queue) Complete(lo, hi int64) bool {
	for _, g := range q.gaps {
		if g[0] < hi && g[1] > lo {
			return false
		}
	}
	return true
}

// CreatedBy is the key that a lock or campaign invoked at op.Call made
// with its lease: the first key of that lease the observer saw after the
// invoke. Nil when that is not certain: no such key, or another key of the
// lease that may still have existed at the invoke (the call may have found
// it instead).
func (q *Queue) CreatedBy(op *history.Operation) *Key {
	for _, k := range q.byRev {
		if k.Lease != op.Input.Lease {
			continue
		}
		if k.CreatedAt >= op.Call {
			return k
		}
		if k.Deleted == Inf || k.DeletedAt >= op.Call {
			return nil
		}
	}
	return nil
}

// OwnerAt is the key that owned the queue at revision r, if any.
func (q *Queue) OwnerAt(r int64) *Key {
	for _, k := range q.byRev {
		if k.Create > r {
			break
		}
		if k.Owner <= r && r < k.Deleted {
			return k
		}
	}
	return nil
}

// Blocker is an older key that still existed when k was deleted (or at the
// end of the truth): the witness that k never owned.
func (q *Queue) Blocker(k *Key) *Key {
	for _, j := range q.byRev {
		if j.Create >= k.Create {
			break
		}
		if j.Deleted >= k.Deleted {
			return j
		}
	}
	return nil
}

// Record is a history's server truth: each name's queue and data.
type Record struct {
	queues map[string]*Queue
	data   map[string]*Queue
	names  []string // sorted
	// observed proves each revision the observer saw committed by the
	// time it saw it.
	observed []commitProof
}

// Build reads h's server truth; nil when h records none.
func Build(h *history.History) *Record {
	if !h.Header.ServerTruth {
		return nil
	}
	queueLines := map[string][]history.ServerEvent{}
	dataLines := map[string][]history.ServerEvent{}
	for _, s := range h.ServerEvents() {
		if s.Role == history.RoleData {
			dataLines[s.Name] = append(dataLines[s.Name], s)
		} else {
			queueLines[s.Name] = append(queueLines[s.Name], s)
		}
	}
	r := &Record{queues: map[string]*Queue{}, data: map[string]*Queue{}, observed: observedCommits(h)}
	for name, lines := range queueLines {
		r.queues[name] = NewQueue(lines)
		r.names = append(r.names, name)
	}
	for name, lines := range dataLines {
		r.data[name] = NewQueue(lines)
	}
	sort.Strings(r.names)
	return r
}

// Names are the names with a queue, sorted.
func (r *Record) Names() []string { return r.names }

// Queue is name's lock or election queue (empty when the truth has no
// line of it).
func (r *Record) Queue(name string) *Queue {
	if q := r.queues[name]; q != nil {
		return q
	}
	return NewQueue(nil)
}

// Data is the truth of name's data keys.
func (r *Record) Data(name string) *Queue {
	if q := r.data[name]; q != nil {
		return q
	}
	return NewQueue(nil)
}

// Leases are the keys' leases as server truth recorded them (nil without
// server truth).
func Leases(h *history.History) map[string]int64 {
	if !h.Header.ServerTruth {
		return nil
	}
	leases := map[string]int64{}
	for i := range h.Events {
		if e := &h.Events[i]; e.Type == history.TypeServer && e.ServerFields != nil && e.Action == history.ServerPut && e.Lease != 0 {
			leases[e.Key] = e.Lease
		}
	}
	return leases
}

// KeySpan is one key of a name's queue as server truth recorded it: when it
// was created, became the oldest key (owned the lock or led), and was
// deleted.
type KeySpan struct {
	Key       string `json:"key"`
	Lease     int64  `json:"lease,omitempty"`
	Client    int    `json:"client,omitempty"` // the client granted it, if any
	CreateRev int64  `json:"create_rev"`
	OwnerRev  int64  `json:"owner_rev,omitempty"`  // 0: never the oldest
	DeleteRev int64  `json:"delete_rev,omitempty"` // 0: not deleted
	DeletedNs int64  `json:"deleted_ns,omitempty"` // when the observer saw the delete
}

// KeyTimeline returns the keys of name's lock or election queue that
// existed at some revision in [from, to], in create-revision order, for
// reports that show what a truth finding rests on.
func KeyTimeline(h *history.History, name string, from, to int64) []KeySpan {
	var lines []history.ServerEvent
	for _, s := range h.ServerEvents() {
		if s.Name == name && s.Role != history.RoleData {
			lines = append(lines, s)
		}
	}
	clients := map[lifeID]int{}
	for _, op := range h.Operations() {
		if op.Name == name && op.Outcome == history.Ok && (op.F == history.FLock || op.F == history.FCampaign) {
			clients[lifeID{op.Output.Key, op.Output.Rev}] = op.Client
		}
	}
	var out []KeySpan
	for _, k := range NewQueue(lines).byRev {
		if k.Create > to || k.Deleted < from {
			continue
		}
		span := KeySpan{Key: k.Key, Lease: k.Lease, Client: clients[lifeID{k.Key, k.Create}], CreateRev: k.Create}
		if k.Owned() {
			span.OwnerRev = k.Owner
		}
		if k.Deleted != Inf {
			span.DeleteRev, span.DeletedNs = k.Deleted, k.DeletedAt
		}
		out = append(out, span)
	}
	return out
}
