package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Shrinking errors.
var (
	// ErrNoViolation: the history does not fail the requested check.
	ErrNoViolation = errors.New("nothing to shrink: no violation")
	// ErrUndecided: the requested check could not decide on the input.
	ErrUndecided = errors.New("nothing to shrink: the check could not decide")
	// ErrUnknownCheck: ShrinkOptions.Check names no check.
	ErrUnknownCheck = errors.New("unknown check")
)

// DefaultCandidateTimeout bounds the check of each candidate when
// ShrinkOptions.CandidateTimeout is zero.
const DefaultCandidateTimeout = 2 * time.Second

// DefaultShrinkTime bounds a whole Shrink when ShrinkOptions.MaxTime is
// zero.
const DefaultShrinkTime = 2 * time.Minute

// maxCandidates bounds the number of candidates one Shrink checks.
const maxCandidates = 200_000

// culpritSamples is how many times Shrink re-checks the input to learn
// which operations the checker may name for its violation.
const culpritSamples = 4

// ShrinkOptions tune Shrink.
type ShrinkOptions struct {
	// Check is the check to keep failing (lock, fenced-writes,
	// unfenced-writes, election, observe); empty: the first failing one.
	Check string
	// Name is the lock or election name; empty: the first failing one.
	Name string
	// Timeout bounds the check of the input (default DefaultTimeout).
	Timeout time.Duration
	// CandidateTimeout bounds the check of each smaller candidate (default
	// DefaultCandidateTimeout, and at least ten times what the check took
	// on the input); an undecided candidate counts as not failing.
	CandidateTimeout time.Duration
	// MaxTime bounds the whole shrink (default DefaultShrinkTime); when it
	// runs out the result is the smallest failing history found, Partial.
	MaxTime time.Duration
	// Strict makes unsafe-without-fencing a failure to shrink, as in Options.
	Strict bool
	// Renumber gives the result op ids 1..n and client ids 1..k, in order of
	// appearance; otherwise they keep their ids in the input.
	Renumber bool
}

// ShrinkResult is a shrunk history and the check it still fails.
type ShrinkResult struct {
	// History is well-formed: the input's header and a subset of its
	// events, whole operations and fault intervals, in the input's order.
	History *history.History
	// Original is the failing check on the input; Final the same check on
	// History (its evidence uses History's op ids).
	Original, Final CheckResult
	// Culprits are the ids of the operations the checker named for the
	// input's violation, over a few re-checks; Final's evidence names at
	// least one of them.
	Culprits []int64
	// OpsBefore and OpsAfter count operations (faults not included).
	OpsBefore, OpsAfter int
	// Candidates is the number of smaller histories checked.
	Candidates int
	// Partial is set when ctx ended or MaxTime ran out before the shrink
	// finished: History is the smallest failing history found by then.
	Partial bool
	// Elapsed is the time the shrink took, the input's check included.
	Elapsed time.Duration
}

// Shrink reduces a history that fails a check to a small history that fails
// the same check on the same name with the same verdict. It drops names,
// clients, operations and faults, never parts of them, so the result stays
// well-formed. It drops what a client did between two grants whole (see
// shrinker.run), and a smaller candidate counts only when its violation
// names one of the operations the checker may name for the input's
// violation (the input is re-checked a few times, since porcupine may
// single out different operations of one conflict), so that the small
// history shows the input's violation, not one made by dropping operations. Shrink returns ErrNoViolation or ErrUndecided (wrapped) when there
// is nothing to shrink, and an error when ctx ends before the input is
// checked; when ctx ends later, or MaxTime runs out, it returns the smallest
// history so far, Partial.
func Shrink(ctx context.Context, h *history.History, opts ShrinkOptions) (ShrinkResult, error) {
	start := time.Now()
	if opts.Check != "" && opts.Check != CheckTruth && opts.Check != CheckLease && familyOfCheck(opts.Check) == nil {
		return ShrinkResult{}, fmt.Errorf("%w %q (expected lock, fenced-writes, unfenced-writes, election, observe, truth or lease)", ErrUnknownCheck, opts.Check)
	}
	if opts.MaxTime <= 0 {
		opts.MaxTime = DefaultShrinkTime
	}
	res, err := Check(ctx, h, Options{Timeout: opts.Timeout, Strict: opts.Strict})
	if err != nil {
		return ShrinkResult{}, fmt.Errorf("shrink: %w", err)
	}
	target, err := pickTarget(res, opts)
	if err != nil {
		return ShrinkResult{}, err
	}
	if opts.CandidateTimeout <= 0 {
		opts.CandidateTimeout = max(DefaultCandidateTimeout, 10*target.Elapsed)
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(opts.MaxTime))
	defer cancel()
	s := newShrinker(ctx, h, target, opts)
	s.run()
	out := s.build(s.kept)
	if opts.Renumber {
		history.Renumber(out)
	}
	final := checkOne(out, target.Check, s.family, target.Name, opts.CandidateTimeout, opts.Strict)
	return ShrinkResult{History: out, Original: target, Final: final, Culprits: s.culprits(), OpsBefore: s.ops(nil),
		OpsAfter: s.ops(s.kept), Candidates: s.candidates, Partial: ctx.Err() != nil,
		Elapsed: time.Since(start)}, nil
}

// failing reports whether a check result is a finding that fails the run.
func failing(c CheckResult) bool {
	return c.Fails && c.Verdict.Finding()
}

// pickTarget chooses the finding to keep: the requested one, a violation
// before an unsafe-without-fencing finding that fails, before a known etcd
// issue (failing or not: its history is worth shrinking too).
func pickTarget(res Result, opts ShrinkOptions) (CheckResult, error) {
	match := func(c CheckResult) bool {
		return (opts.Check == "" || c.Check == opts.Check) && (opts.Name == "" || c.Name == opts.Name)
	}
	undecided := false
	for _, want := range []Verdict{Violation, UnsafeWithoutFencing, KnownIssue} {
		for _, c := range res.Checks {
			if match(c) && (failing(c) || want == KnownIssue) && c.Verdict == want {
				return c, nil
			}
			undecided = undecided || (match(c) && c.Verdict == Unknown)
		}
	}
	what := "the history"
	if opts.Check != "" || opts.Name != "" {
		what = fmt.Sprintf("check %q on name %q", opts.Check, opts.Name)
	}
	if undecided {
		return CheckResult{}, fmt.Errorf("%w (%s)", ErrUndecided, what)
	}
	return CheckResult{}, fmt.Errorf("%w (%s)", ErrNoViolation, what)
}

// checkOne runs one check on one name of h.
func checkOne(h *history.History, check string, fam *family, name string, timeout time.Duration, strict bool) CheckResult {
	empty := CheckResult{Check: check, Name: name, Verdict: Empty}
	c := newChecker(h, Options{Timeout: timeout, Strict: strict})
	if check == CheckTruth {
		if nt := c.truth[name]; nt != nil {
			return nt.result
		}
		return empty
	}
	if check == CheckLease {
		if l := c.checkLease(); l != nil {
			return l.result
		}
		return empty
	}
	var p *nameHistory
	for _, q := range c.split() {
		if q.family == fam && q.name == name {
			p = q
		}
	}
	if p == nil {
		return empty
	}
	switch check {
	case CheckLock:
		return c.runLock(p, CheckLock, func(*mop) bool { return false })
	case CheckFenced:
		return c.runLock(p, CheckFenced, func(m *mop) bool { return m.fenced })
	}
	for _, r := range c.checkName(p) {
		if r.Check == check {
			return r
		}
	}
	return empty
}

// familyOfName is the family of the operations on name; nil if none.
func familyOfName(h *history.History, name string) *family {
	for _, op := range h.Operations() {
		if fam, _ := familyOf(op.F); fam != nil && op.Name == name {
			return fam
		}
	}
	return nil
}

// unit is what Shrink keeps or drops whole: an operation (invoke and
// completion) or a fault (start and end).
type unit struct {
	events []int32 // indices into the input's events
	client int     // operations only
	name   string
	fault  bool
	op     *history.Operation // operations only
}

// family is the family of a unit's operation; nil for faults and lease
// deaths.
func (u *unit) family() *family {
	if u.fault {
		return nil
	}
	fam, _ := familyOf(u.op.F)
	return fam
}

// shrinker holds one Shrink's state: the units, which are kept, and what a
// candidate must reproduce.
type shrinker struct {
	ctx        context.Context
	h          *history.History
	target     CheckResult
	family     *family
	evidence   map[int64]bool
	opts       ShrinkOptions
	units      []unit
	kept       []bool
	candidates int
}

func newShrinker(ctx context.Context, h *history.History, target CheckResult, opts ShrinkOptions) *shrinker {
	s := &shrinker{ctx: ctx, h: h, target: target, family: familyOfCheck(target.Check), opts: opts}
	if s.family == nil { // a check of every family, as truth is: the name's
		s.family = familyOfName(h, target.Name)
	}
	s.learnCulprits()
	s.units = buildUnits(h)
	s.kept = make([]bool, len(s.units))
	for i := range s.kept {
		s.kept[i] = true
	}
	return s
}

// learnCulprits collects the operations the checker names for the input's
// violation, over the input's check and a few re-checks of the same check.
// With no evidence at all (a conflict porcupine could not single out), any
// violation of the check counts.
func (s *shrinker) learnCulprits() {
	s.evidence = map[int64]bool{}
	add := func(r CheckResult) {
		for _, id := range r.Evidence {
			s.evidence[id] = true
		}
	}
	add(s.target)
	deadline := time.Now().Add(s.opts.CandidateTimeout)
	for i := 0; i < culpritSamples && s.target.Model != nil && time.Now().Before(deadline) && s.ctx.Err() == nil; i++ {
		if r := checkOne(s.h, s.target.Check, s.family, s.target.Name, s.opts.CandidateTimeout, s.opts.Strict); r.Verdict == s.target.Verdict {
			add(r)
		}
	}
	if len(s.evidence) == 0 {
		s.evidence = nil
	}
}

// buildUnits groups events into units, in order of their first event.
func buildUnits(h *history.History) []unit {
	ops := h.Operations()
	opIndex := make(map[int64]int, len(ops))
	for i := range ops {
		opIndex[ops[i].ID] = i
	}
	var units []unit
	unitOfOp := make(map[int64]int, len(ops))
	openFaults := map[string][]int{}
	for i := range h.Events {
		e := &h.Events[i]
		switch e.Type {
		case history.TypeInvoke:
			unitOfOp[e.Op] = len(units)
			op := &ops[opIndex[e.Op]]
			units = append(units, unit{events: []int32{int32(i)}, client: e.Client, name: e.Name, op: op})
		case history.TypeFault:
			id := fmt.Sprintf("%s\x00%d/%d/%d", e.Fault, e.Member, e.Target, e.Lease)
			if open := openFaults[id]; e.Phase == history.PhaseEnd && len(open) > 0 {
				u := &units[open[0]]
				u.events = append(u.events, int32(i))
				openFaults[id] = open[1:]
				continue
			}
			if e.Phase == history.PhaseStart {
				openFaults[id] = append(openFaults[id], len(units))
			}
			units = append(units, unit{events: []int32{int32(i)}, fault: true})
		case history.TypeServer:
			// Server truth is no unit: a name's lines go with its
			// operations (see build).
		default: // a completion: the reader checked that its invoke came first
			u := &units[unitOfOp[e.Op]]
			u.events = append(u.events, int32(i))
		}
	}
	return units
}

// run shrinks in stages, each taking a smaller candidate only when it
// still fails: the violating name alone, the shortest run of cycles, then
// names, clients, cycles and single operations that only constrain, each in
// runs of decreasing size.
//
// A cycle is what one client did from one lock or campaign to the next
// (grant, writes or proclamations, unlock or resign, lease loss or revoke):
// dropped whole it leaves the rest as legal as it was, while dropping part
// of it could make a legal stretch illegal (an unlock dropped leaves its
// lock held) and "shrink" a history to a violation that never happened.
// Operations that change no state (writes, leader reads, observations,
// failed operations) can go one by one.
func (s *shrinker) run() {
	s.keepName()
	s.trim(s.cycles())
	s.ddmin(s.groups(func(u *unit) string { return u.name }))
	s.ddmin(s.groups(func(u *unit) string { return fmt.Sprint(u.fault, u.client) }))
	s.ddmin(s.cycles())
	s.ddmin(s.singles())
}

// stopped reports whether shrinking must end now.
func (s *shrinker) stopped() bool {
	return s.ctx.Err() != nil || s.candidates >= maxCandidates
}

// keepName tries keeping only the target name's operations with the lease
// deaths and lease faults of its leases, then only dropping other names.
func (s *shrinker) keepName() {
	leases := map[int64]bool{}
	if s.target.sub != nil {
		for l := range s.target.sub.holders {
			leases[l] = true
		}
	}
	own := func(u *unit) bool {
		return !u.fault && u.family() == s.family && u.name == s.target.Name
	}
	strict := func(u *unit) bool {
		if u.fault {
			f := &s.h.Events[u.events[0]]
			return endsLease(f.Fault) && leases[f.Lease]
		}
		return own(u) || leaseDeath(u.op.F) && leases[u.op.Input.Lease]
	}
	loose := func(u *unit) bool { return u.fault || own(u) || u.family() == nil }
	for _, keep := range []func(*unit) bool{strict, loose} {
		cand := make([]bool, len(s.units))
		for i := range s.units {
			cand[i] = s.kept[i] && keep(&s.units[i])
		}
		if s.try(cand) {
			return
		}
	}
}

// trim drops the longest run of groups at the end, then at the start,
// that it can, by bisection.
func (s *shrinker) trim(groups [][]int) {
	flat := func(gs [][]int) []int { return slices.Concat(gs...) }
	lo, hi := 0, len(groups) // groups[:hi] fails
	for hi-lo > 1 && !s.stopped() {
		mid := (lo + hi) / 2
		if s.try(s.only(flat(groups[:mid]))) {
			hi = mid
		} else {
			lo = mid
		}
	}
	groups = groups[:hi]
	lo, hi = 0, len(groups) // groups[lo:] fails
	for hi-lo > 1 && !s.stopped() {
		mid := (lo + hi) / 2
		if s.try(s.only(flat(groups[mid:]))) {
			lo = mid
		} else {
			hi = mid
		}
	}
}

// cycles groups the kept units into cycles (see run), in order of their
// first units; faults and reads stand alone. A grant while the client may
// still hold (campaigning again to proclaim, relocking with the same lease)
// continues the cycle. An operation the checker finds trivial (a failed
// one) neither begins nor ends a hold.
func (s *shrinker) cycles() [][]int {
	cycle := map[int]int{}  // client -> its current cycle's group
	holds := map[int]bool{} // client -> may hold a lock or lead
	var gs [][]int
	for _, i := range s.keptIndices() {
		u := &s.units[i]
		if u.fault {
			gs = append(gs, []int{i})
			continue
		}
		role, m := holdRoleOf(u.op)
		if role == outside {
			gs = append(gs, []int{i})
			continue
		}
		g, ok := cycle[u.client]
		if !ok || role == begins && !holds[u.client] {
			g = len(gs)
			cycle[u.client] = g
			gs = append(gs, nil)
		}
		gs[g] = append(gs[g], i)
		switch {
		case role == begins && !trivial(&m):
			holds[u.client] = true
		case role == ends && !trivial(&m):
			holds[u.client] = false
		}
	}
	return gs
}

// holdRole is what an operation does to its client's hold of a lock or
// leadership, as far as cycles go.
type holdRole uint8

const (
	outside holdRole = iota // no part of a cycle: a read, or not a family's operation
	within                  // done while holding: a write, a proclaim
	begins                  // may begin a hold: a grant
	ends                    // ends a hold: a release, a lease death
)

// holdRoleOf returns the role of op, from its family's shrink hooks, and
// op as the checker sees it (kind and outcome only).
func holdRoleOf(op *history.Operation) (holdRole, mop) {
	fam, _ := familyOf(op.F)
	m := mop{kind: kindOf(op.F), out: op.Outcome}
	switch {
	case m.kind == opDeath:
		return ends, m
	case fam == nil || slices.Contains(fam.reads, m.kind):
		return outside, m
	case m.kind == fam.grant:
		return begins, m
	case slices.Contains(fam.releases, m.kind):
		return ends, m
	}
	return within, m
}

// singles are the kept operations that change no hold, one group each:
// those the checker finds trivial, the failed ones (a failed proclaim is
// not trivial, as the election model may refuse it, but changes nothing),
// and the family's constraints (writes, leader reads, observations).
func (s *shrinker) singles() [][]int {
	var gs [][]int
	for _, i := range s.keptIndices() {
		u := &s.units[i]
		if u.fault {
			continue
		}
		fam := u.family()
		m := mop{kind: kindOf(u.op.F), out: u.op.Outcome}
		if trivial(&m) || m.failed() || fam != nil && slices.Contains(fam.constraints, m.kind) {
			gs = append(gs, []int{i})
		}
	}
	return gs
}

// groups splits the kept units by key (nil: one group per unit), in order
// of the groups' first units.
func (s *shrinker) groups(key func(*unit) string) [][]int {
	var gs [][]int
	at := map[string]int{}
	for _, i := range s.keptIndices() {
		if key == nil {
			gs = append(gs, []int{i})
			continue
		}
		k := key(&s.units[i])
		g, ok := at[k]
		if !ok {
			g = len(gs)
			at[k] = g
			gs = append(gs, nil)
		}
		gs[g] = append(gs[g], i)
	}
	return gs
}

// ddmin drops runs of consecutive groups: runs of half the groups, then a
// quarter, and so on down to single groups, last runs first; single groups
// are tried again until none can go.
func (s *shrinker) ddmin(groups [][]int) {
	chunk := max(len(groups)/2, 1)
	for !s.stopped() && len(groups) > 0 {
		dropped := false
		for end := len(groups); end > 0 && !s.stopped(); end -= chunk {
			start := max(end-chunk, 0)
			cand := slices.Clone(s.kept)
			for _, g := range groups[start:end] {
				for _, i := range g {
					cand[i] = false
				}
			}
			if s.try(cand) {
				groups = slices.Delete(groups, start, end)
				dropped = true
			}
		}
		if chunk == 1 && !dropped {
			return
		}
		chunk = max(chunk/2, 1)
	}
}

// try checks a candidate and keeps it when it still fails the target check
// and its violation names one of the input's culprits.
func (s *shrinker) try(cand []bool) bool {
	if s.stopped() || slices.Equal(cand, s.kept) {
		return false
	}
	s.candidates++
	r := checkOne(s.build(cand), s.target.Check, s.family, s.target.Name, s.opts.CandidateTimeout, s.opts.Strict)
	if r.Verdict != s.target.Verdict || !s.sameCulprits(r.Evidence) {
		return false
	}
	s.kept = cand
	return true
}

// sameCulprits reports whether evidence names one of the operations the
// checker named for the input's violation.
func (s *shrinker) sameCulprits(evidence []int64) bool {
	if s.evidence == nil {
		return true
	}
	for _, id := range evidence {
		if s.evidence[id] {
			return true
		}
	}
	return false
}

// culprits lists the culprits' ids in increasing order.
func (s *shrinker) culprits() []int64 {
	ids := make([]int64, 0, len(s.evidence))
	for id := range s.evidence {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *shrinker) keptIndices() []int {
	var idx []int
	for i, k := range s.kept {
		if k {
			idx = append(idx, i)
		}
	}
	return idx
}

// only is the candidate that keeps exactly the units idx.
func (s *shrinker) only(idx []int) []bool {
	cand := make([]bool, len(s.units))
	for _, i := range idx {
		cand[i] = true
	}
	return cand
}

// build makes the history of the kept units, with the server truth of
// every name that still has an operation: truth is what etcd did, so it is
// kept whole or not at all, never cut into a story that did not happen.
func (s *shrinker) build(kept []bool) *history.History {
	var sel []int32
	names := map[string]bool{}
	for i, k := range kept {
		if k {
			sel = append(sel, s.units[i].events...)
			if !s.units[i].fault {
				names[s.units[i].name] = true
			}
		}
	}
	for i := range s.h.Events {
		if e := &s.h.Events[i]; e.Type == history.TypeServer && names[e.Name] {
			sel = append(sel, int32(i))
		}
	}
	slices.Sort(sel)
	out := &history.History{Header: s.h.Header, Events: make([]history.Event, len(sel))}
	for j, i := range sel {
		out.Events[j] = s.h.Events[i]
	}
	if out.Header.Clients != 0 {
		out.Header.Clients = s.clients(kept)
	}
	return out
}

// clients counts the clients of the kept operations (all with kept nil).
func (s *shrinker) clients(kept []bool) int {
	seen := map[int]bool{}
	for i := range s.units {
		if !s.units[i].fault && (kept == nil || kept[i]) {
			seen[s.units[i].client] = true
		}
	}
	return len(seen)
}

// ops counts the kept operations (all with kept nil).
func (s *shrinker) ops(kept []bool) int {
	n := 0
	for i := range s.units {
		if !s.units[i].fault && (kept == nil || kept[i]) {
			n++
		}
	}
	return n
}
