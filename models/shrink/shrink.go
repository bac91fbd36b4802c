// Package shrink reduces a history with a finding to a small history with
// the same finding: the same check on the same name with the same verdict,
// or the same known etcd issue.
package shrink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/linear"
	"github.com/etcdchaos/etcdchaos/models/verdict"
)

// Shrinking errors.
var (
	// ErrNoFinding: the history does not have the requested finding.
	ErrNoFinding = errors.New("nothing to shrink: no such finding")
	// ErrUndecided: the requested check could not decide on the input.
	ErrUndecided = errors.New("nothing to shrink: the check could not decide")
	// ErrUnknownCheck: Options.Check names no check.
	ErrUnknownCheck = errors.New("unknown check")
)

// DefaultCandidateTimeout bounds the check of each candidate when
// Options.CandidateTimeout is zero.
const DefaultCandidateTimeout = 2 * time.Second

// DefaultMaxTime bounds a whole Shrink when Options.MaxTime is zero.
const DefaultMaxTime = 2 * time.Minute

// maxCandidates bounds the number of candidates one Shrink checks.
const maxCandidates = 200_000

// culpritSamples is how many times Shrink re-checks the input to learn
// which operations the checker may name for its finding.
const culpritSamples = 4

// checks are the checks a target may name.
var checks = []string{models.CheckLock, models.CheckFenced, models.CheckUnfenced, models.CheckElection, models.CheckObserve,
	models.CheckTruth, models.CheckLease, models.CheckLiveness, models.CheckGhost}

// Options tune Shrink and choose its target.
type Options struct {
	// Issue keeps a finding of that known etcd issue ("19597",
	// "etcdchaos-1"); Check and Name keep a finding of that check on that
	// name. Empty: the first failing check (a violation before the
	// documented hazard), else the first known issue.
	Issue string
	Check string
	Name  string
	// Timeout bounds the check of the input (default
	// models.DefaultTimeout).
	Timeout time.Duration
	// CandidateTimeout bounds the check of each smaller candidate (default
	// DefaultCandidateTimeout, and at least ten times what the check took
	// on the input); an undecided candidate counts as not failing.
	CandidateTimeout time.Duration
	// MaxTime bounds the whole shrink (default DefaultMaxTime); when it
	// runs out the result is the smallest history found, Partial.
	MaxTime time.Duration
	// Strict makes the documented hazard and known issues failures, as in
	// models.Options.
	Strict bool
	// Renumber gives the result op ids 1..n and client ids 1..k, in order of
	// appearance; otherwise they keep their ids in the input.
	Renumber bool
}

// Result is a shrunk history and the finding it keeps.
type Result struct {
	// History is well-formed: the input's header and a subset of its
	// events, whole operations and fault intervals, in the input's order.
	History *history.History
	// Target says what was kept ("lease on leases: known issue
	// etcdchaos-1"); Original is the target's check on the input, Final
	// the same check on History (its evidence uses History's op ids).
	Target          string
	Original, Final models.CheckResult
	// Culprits are the ids of the operations the checker named for the
	// input's finding, over a few re-checks; Final's evidence names at
	// least one of them.
	Culprits []int64
	// OpsBefore and OpsAfter count operations (faults not included).
	OpsBefore, OpsAfter int
	// Candidates is the number of smaller histories checked.
	Candidates int
	// Partial is set when ctx ended or MaxTime ran out before the shrink
	// finished: History is the smallest history found by then.
	Partial bool
	// Elapsed is the time the shrink took, the input's check included.
	Elapsed time.Duration
}

// target is what a candidate must still have: the check result on the
// input, and, for an issue, the issue.
type target struct {
	check models.CheckResult
	issue string
}

// holds reports whether r, the target's check on a candidate, still has the
// target's finding: a finding of the issue, or the same verdict.
func (t target) holds(r models.CheckResult) bool {
	if t.issue == "" {
		return r.Verdict == t.check.Verdict
	}
	return len(t.evidence(r)) > 0 || slices.ContainsFunc(r.Findings, t.ofIssue)
}

// evidence is what r names for the target's finding: the evidence of its
// findings of the issue, or its own.
func (t target) evidence(r models.CheckResult) []int64 {
	if t.issue == "" {
		return r.Evidence
	}
	var ids []int64
	for _, f := range r.Findings {
		if t.ofIssue(f) {
			ids = append(ids, f.Evidence...)
			if f.Op != 0 {
				ids = append(ids, f.Op)
			}
		}
	}
	return ids
}

func (t target) ofIssue(f models.Finding) bool {
	return f.Class == models.KnownIssue && f.Issue != nil && f.Issue.ID == t.issue
}

func (t target) String() string {
	s := fmt.Sprintf("%s on %s: %s", t.check.Check, t.check.Name, t.check.Verdict)
	if t.issue != "" {
		s = fmt.Sprintf("%s on %s: known issue %s", t.check.Check, t.check.Name, t.issue)
	}
	return s
}

// Shrink reduces a history with a finding to a small history with the same
// finding. It drops names, clients, operations and faults, never parts of
// them, so the result stays well-formed. It drops what a client did
// between two grants whole (see shrinker.run), and a smaller candidate
// counts only when its finding names one of the operations the checker may
// name for the input's finding, so that the small history shows the
// input's finding, not one made by dropping operations. Shrink returns
// ErrNoFinding or ErrUndecided (wrapped) when there is nothing to shrink,
// and an error when ctx ends before the input is checked; when ctx ends
// later, or MaxTime runs out, it returns the smallest history so far,
// Partial.
func Shrink(ctx context.Context, h *history.History, opts Options) (Result, error) {
	start := time.Now()
	if opts.Check != "" && !slices.Contains(checks, opts.Check) {
		return Result{}, fmt.Errorf("%w %q (expected one of %v)", ErrUnknownCheck, opts.Check, checks)
	}
	if opts.MaxTime <= 0 {
		opts.MaxTime = DefaultMaxTime
	}
	res, err := verdict.Check(ctx, h, models.Options{Timeout: opts.Timeout, Strict: opts.Strict})
	if err != nil {
		return Result{}, fmt.Errorf("shrink: %w", err)
	}
	t, err := pickTarget(res, opts)
	if err != nil {
		return Result{}, err
	}
	if opts.CandidateTimeout <= 0 {
		opts.CandidateTimeout = max(DefaultCandidateTimeout, 10*t.check.Elapsed)
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(opts.MaxTime))
	defer cancel()
	s := newShrinker(ctx, h, t, opts)
	s.run()
	out := s.build(s.kept)
	if opts.Renumber {
		history.Renumber(out)
	}
	final, _ := s.check(out)
	return Result{History: out, Target: t.String(), Original: t.check, Final: final, Culprits: s.culprits(),
		OpsBefore: s.ops(nil), OpsAfter: s.ops(s.kept), Candidates: s.candidates, Partial: ctx.Err() != nil,
		Elapsed: time.Since(start)}, nil
}

// pickTarget chooses the finding to keep: the requested issue, or the
// requested check and name's, a violation before a failing hazard, before a
// known etcd issue (failing or not: its history is worth shrinking too).
func pickTarget(res models.Result, opts Options) (target, error) {
	match := func(c models.CheckResult) bool {
		return (opts.Check == "" || c.Check == opts.Check) && (opts.Name == "" || c.Name == opts.Name)
	}
	what := "the history"
	if opts.Check != "" || opts.Name != "" || opts.Issue != "" {
		what = fmt.Sprintf("check %q on name %q, issue %q", opts.Check, opts.Name, opts.Issue)
	}
	if opts.Issue != "" {
		for _, c := range res.Checks {
			t := target{check: c, issue: opts.Issue}
			if match(c) && slices.ContainsFunc(c.Findings, t.ofIssue) {
				return t, nil
			}
		}
		return target{}, fmt.Errorf("%w (%s)", ErrNoFinding, what)
	}
	undecided := false
	for _, want := range []models.Verdict{models.Violation, models.UnsafeWithoutFencing, models.KnownIssue} {
		for _, c := range res.Checks {
			if match(c) && c.Verdict == want && (c.Fails || want == models.KnownIssue) {
				return target{check: c}, nil
			}
			undecided = undecided || (match(c) && c.Verdict == models.Unknown)
		}
	}
	if undecided {
		return target{}, fmt.Errorf("%w (%s)", ErrUndecided, what)
	}
	return target{}, fmt.Errorf("%w (%s)", ErrNoFinding, what)
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

// family is the workload of the names a unit's operation acts on; "" for
// faults and lease deaths.
func (u *unit) family() history.Workload {
	if u.fault {
		return ""
	}
	return linear.Family(u.op)
}

// shrinker holds one Shrink's state: the units, which are kept, and what a
// candidate must reproduce.
type shrinker struct {
	ctx        context.Context
	h          *history.History
	target     target
	family     history.Workload
	evidence   map[int64]bool
	opts       Options
	units      []unit
	kept       []bool
	candidates int
}

func newShrinker(ctx context.Context, h *history.History, t target, opts Options) *shrinker {
	s := &shrinker{ctx: ctx, h: h, target: t, family: familyOfName(h, t.check.Name), opts: opts}
	s.learnCulprits()
	s.units = buildUnits(h)
	s.kept = make([]bool, len(s.units))
	for i := range s.kept {
		s.kept[i] = true
	}
	return s
}

// familyOfName is the workload of the operations on name; "" if none.
func familyOfName(h *history.History, name string) history.Workload {
	for _, op := range h.Operations() {
		if fam := linear.Family(&op); fam != "" && op.Name == name {
			return fam
		}
	}
	return ""
}

// learnCulprits collects the operations the checker names for the input's
// finding, over the input's check and a few re-checks of the same check
// (porcupine may single out different operations of one conflict). With
// no evidence at all (a conflict porcupine could not single out), any
// such finding counts.
func (s *shrinker) learnCulprits() {
	s.evidence = map[int64]bool{}
	for _, id := range s.target.evidence(s.target.check) {
		s.evidence[id] = true
	}
	deadline := time.Now().Add(s.opts.CandidateTimeout)
	for i := 0; i < culpritSamples && s.target.check.Porcupine != nil && time.Now().Before(deadline) && s.ctx.Err() == nil; i++ {
		if r, ok := s.check(s.h); ok {
			for _, id := range s.target.evidence(r) {
				s.evidence[id] = true
			}
		}
	}
	if len(s.evidence) == 0 {
		s.evidence = nil
	}
}

// check checks h with the target's check only and returns the target's
// check result if h still has the target's finding.
func (s *shrinker) check(h *history.History) (models.CheckResult, bool) {
	res, err := verdict.Check(s.ctx, h, models.Options{Timeout: s.opts.CandidateTimeout, Strict: s.opts.Strict,
		Only: []string{s.target.check.Check}})
	if err != nil {
		return models.CheckResult{}, false
	}
	for _, r := range res.Checks {
		if r.Check == s.target.check.Check && r.Name == s.target.check.Name && s.target.holds(r) {
			return r, true
		}
	}
	return models.CheckResult{}, false
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
	for _, op := range s.h.Operations() {
		if op.Name == s.target.check.Name && linear.Family(&op) == s.family && s.family != "" {
			for _, l := range []int64{op.Input.Lease, op.Output.Lease} {
				if l != 0 {
					leases[l] = true
				}
			}
		}
	}
	if p := s.target.check.Porcupine; p != nil {
		for _, l := range p.Leases {
			leases[l] = true
		}
	}
	own := func(u *unit) bool {
		return !u.fault && u.family() == s.family && u.name == s.target.check.Name
	}
	strict := func(u *unit) bool {
		if u.fault {
			f := &s.h.Events[u.events[0]]
			return history.FaultKindOf(f.Fault).Explains.Has(history.ExplainsLeaseDeath) && leases[f.Lease]
		}
		return own(u) || linear.LeaseDeath(u.op.F) && leases[u.op.Input.Lease]
	}
	loose := func(u *unit) bool { return u.fault || own(u) || u.family() == "" }
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
// continues the cycle. An operation that changes no hold (a failed one)
// neither begins nor ends a hold.
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
		role, changes := linear.RoleOf(u.op)
		if role == linear.Outside {
			gs = append(gs, []int{i})
			continue
		}
		g, ok := cycle[u.client]
		if !ok || role == linear.Begins && !holds[u.client] {
			g = len(gs)
			cycle[u.client] = g
			gs = append(gs, nil)
		}
		gs[g] = append(gs[g], i)
		switch {
		case role == linear.Begins && changes:
			holds[u.client] = true
		case role == linear.Ends && changes:
			holds[u.client] = false
		}
	}
	return gs
}

// singles are the kept operations that change no hold, one group each (see
// linear.Constraint).
func (s *shrinker) singles() [][]int {
	var gs [][]int
	for _, i := range s.keptIndices() {
		if u := &s.units[i]; !u.fault && linear.Constraint(u.op) {
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

// try checks a candidate and keeps it when it still has the target's
// finding and that finding names one of the input's culprits.
func (s *shrinker) try(cand []bool) bool {
	if s.stopped() || slices.Equal(cand, s.kept) {
		return false
	}
	s.candidates++
	r, ok := s.check(s.build(cand))
	if !ok || !s.sameCulprits(s.target.evidence(r)) {
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
// every name that still has an operation (of every name, for a check of
// the whole history): truth is what etcd did, so it is kept whole or not
// at all, never cut into a story that did not happen.
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
	everyName := s.family == "" // a check of the whole history (lease, liveness) reads every name's truth
	for i := range s.h.Events {
		if e := &s.h.Events[i]; e.Type == history.TypeServer && (everyName || names[e.Name]) {
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
