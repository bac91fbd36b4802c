package verdict

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/hazard"
	"github.com/etcdchaos/etcdchaos/models/knownissues"
	"github.com/etcdchaos/etcdchaos/models/truth"
)

// maxRounds bounds how many times classification rechecks one porcupine
// violation with more operations withdrawn.
const maxRounds = 8

// classifier is the classification layer. It never changes what a check
// recorded: it judges each finding, and for a porcupine violation it asks
// the same check, on the same name, whether withdrawing exactly the
// operations a registered mechanism or the documented hazard explains
// leaves a linearizable history.
type classifier struct {
	h      *history.History
	ops    []history.Operation
	rec    *truth.Record
	strict bool
	// evidence and explainer are made when a finding first needs them: a
	// history with nothing to classify pays nothing for them.
	evidence  *knownissues.Evidence
	explainer *hazard.Explainer
	// known are, by name, the operations whose claims a known finding of a
	// contract check showed false, with the issue.
	known map[string]map[int64]*models.IssueRef
	// stale counts, by name, the writes withdrawn as the hazard (without
	// server truth).
	stale map[string]int
	// direct are the known findings classified in their own right, by
	// check index, in order: a porcupine violation explained by another
	// check's finding does not count it again.
	direct []models.Finding
}

// ev is the evidence the registry reads.
func (c *classifier) ev() *knownissues.Evidence {
	if c.evidence == nil {
		c.evidence = knownissues.NewEvidence(c.h, c.ops, c.rec)
	}
	return c.evidence
}

// hz is the explainer of unfenced writes.
func (c *classifier) hz() *hazard.Explainer {
	if c.explainer == nil {
		c.explainer = hazard.New(c.h, c.ops, c.rec)
	}
	return c.explainer
}

// match classifies one finding: a known issue when the registry shows its
// mechanism, a violation otherwise.
func (c *classifier) match(f *models.Finding) {
	issue, claims, ok := knownissues.Match(*f, c.ev())
	if !ok {
		f.Class, f.Issue = models.Violation, nil
		return
	}
	c.known1(f, issue, claims)
}

// known1 classifies f as a known issue whose mechanism made claims false.
func (c *classifier) known1(f *models.Finding, issue knownissues.Issue, claims []int64) {
	ref := issue.IssueRef
	f.Class, f.Issue = models.KnownIssue, &ref
	c.direct = append(c.direct, *f)
	if len(claims) > 0 {
		if c.known[f.Name] == nil {
			c.known[f.Name] = map[int64]*models.IssueRef{}
		}
		for _, id := range claims {
			c.known[f.Name][id] = &ref
		}
	}
}

// contract classifies a contract check (truth, lease, liveness): a
// violation if any finding is one, else unknown if a claim was undecided,
// else a known issue if any finding is one, else what it recorded.
func (c *classifier) contract(r *models.CheckResult) {
	var plain, known []*models.Finding
	for i := range r.Findings {
		f := &r.Findings[i]
		c.match(f)
		if f.Class == models.KnownIssue {
			known = append(known, f)
		} else {
			plain = append(plain, f)
		}
	}
	all := len(r.Findings)
	switch {
	case len(plain) > 0:
		f := plain[0]
		r.Verdict, r.Account, r.Evidence, r.At, r.Revisions = models.Violation, f.Account, f.Evidence, f.At, f.Revisions
		if all > 1 {
			r.Account += fmt.Sprintf(" (%d findings in all, %d of them known issues)", all, len(known))
		}
	case r.Undecided > 0:
		r.Verdict = models.Unknown
		if len(known) > 0 {
			r.Account += fmt.Sprintf(" (and %d findings known issues)", len(known))
		}
	case len(known) > 0:
		f := known[0]
		r.Verdict, r.Evidence, r.At, r.Revisions = models.KnownIssue, f.Evidence, f.At, f.Revisions
		r.Account = f.Issue.Label() + ": " + f.Account
		if all > 1 {
			r.Account += fmt.Sprintf(" (%d findings in all)", all)
		}
	}
	r.Fails = fails(r.Verdict, c.strict)
}

// fails reports whether a classified verdict fails the run.
func fails(v models.Verdict, strict bool) bool {
	switch v {
	case models.Violation, models.Unknown:
		return true
	case models.KnownIssue, models.UnsafeWithoutFencing:
		return strict
	}
	return false
}

// porcupine classifies a porcupine check; earlier are the checks before it
// in the result (its name's lock and fenced checks come before its
// unfenced-writes check).
func (c *classifier) porcupine(ctx context.Context, r *models.CheckResult, earlier []models.CheckResult) {
	r.Fails = fails(r.Verdict, c.strict)
	if r.Recorded != models.Violation {
		return
	}
	if r.Check == models.CheckUnfenced {
		for _, o := range earlier {
			if o.Name != r.Name || (o.Check != models.CheckLock && o.Check != models.CheckFenced) {
				continue
			}
			switch o.Verdict {
			case models.Violation:
				r.Account = "mutual exclusion itself broke (see the lock and fenced-writes checks): " + r.Account
				r.Findings = []models.Finding{c.refusal(*r, models.Violation)}
				return
			case models.Unknown:
				r.Verdict, r.Fails = models.Unknown, true
				r.Account = "undecided because the lock check was undecided: " + r.Account
				return
			}
		}
	}
	c.explain(ctx, r)
}

// explain tries to explain a porcupine violation. It withdraws, first, the
// operations whose claims known findings of other checks on the name
// showed false; then, round by round, what explains the operation the
// check still refuses: a registered mechanism in the refusal itself, or,
// for unfenced-writes, the documented hazard (every write on the name the
// hazard package explains, at once). The violation is explained when the
// same check on the rest is linearizable; otherwise it stays a violation,
// worded by the last recheck.
func (c *classifier) explain(ctx context.Context, r *models.CheckResult) {
	withdrawn := map[int64]*models.IssueRef{}
	for id, ref := range c.known[r.Name] {
		withdrawn[id] = ref
	}
	stale := map[int64]hazard.Explanation{}
	var refusedStale int64 // the stale write the check refused
	var findings []models.Finding
	cur := *r
	tried := false
	for round := 0; round < maxRounds && cur.Recorded == models.Violation && ctx.Err() == nil; round++ {
		switch {
		case !tried && len(withdrawn) > 0:
			tried = true // another check's known findings first
		default:
			f := c.refusal(cur, models.Violation)
			if k, issue, claims, ok := c.mechanismIn(cur, withdrawn); ok {
				c.known1(&k, issue, claims)
				for _, id := range append(claims, c.sweep(k, issue)...) {
					withdrawn[id] = k.Issue
				}
				findings = append(findings, k)
				break
			}
			if r.Check == models.CheckUnfenced && len(stale) == 0 {
				if w, x, ok := c.explainedWrite(cur); ok {
					stale, refusedStale = c.staleWrites(r.Name), w.ID
					if f.Op != w.ID { // the other side of the conflict was singled out
						f.Op, f.F, f.Refusal = w.ID, w.F, ""
					}
					f.Class, f.Issue = models.UnsafeWithoutFencing, nil
					f.Account += "; explained by " + x.Account
					findings = append(findings, f)
					break
				}
			}
			findings = append(findings, f)
			c.settle(r, cur, withdrawn, stale, refusedStale, findings, models.Violation)
			return
		}
		ids := map[int64]bool{}
		for id := range withdrawn {
			ids[id] = true
		}
		for id := range stale {
			ids[id] = true
		}
		cur = r.Porcupine.Recheck(ctx, ids)
	}
	switch cur.Recorded {
	case models.Violation:
		findings = append(findings, c.refusal(cur, models.Violation))
		c.settle(r, cur, withdrawn, stale, refusedStale, findings, models.Violation)
	case models.Unknown:
		c.settle(r, cur, withdrawn, stale, refusedStale, findings, models.Unknown)
	default:
		v := models.KnownIssue
		if len(stale) > 0 {
			v = models.UnsafeWithoutFencing
			if !c.h.Header.ServerTruth {
				c.stale[r.Name] = len(stale)
			}
		}
		if len(findings) == 0 { // explained by the other checks' findings alone
			withdrawn = c.fewest(ctx, r, withdrawn)
			f := c.refusal(*r, models.KnownIssue)
			f.Issue = withdrawn[f.Op]
			if f.Issue == nil {
				f.Issue = firstIssue(withdrawn)
			}
			findings = append(findings, f)
		}
		c.settle(r, cur, withdrawn, stale, refusedStale, findings, v)
	}
}

// fewest narrows the claims of several issues that together explain r to
// one issue's, if that issue's alone explain it: the account then names
// the bug behind this violation, not every bug on the name.
func (c *classifier) fewest(ctx context.Context, r *models.CheckResult, withdrawn map[int64]*models.IssueRef) map[int64]*models.IssueRef {
	byIssue := map[string]map[int64]*models.IssueRef{}
	for id, ref := range withdrawn {
		if byIssue[ref.ID] == nil {
			byIssue[ref.ID] = map[int64]*models.IssueRef{}
		}
		byIssue[ref.ID][id] = ref
	}
	if len(byIssue) < 2 {
		return withdrawn
	}
	for _, id := range slices.Sorted(maps.Keys(byIssue)) {
		ids := map[int64]bool{}
		for op := range byIssue[id] {
			ids[op] = true
		}
		if again := r.Porcupine.Recheck(ctx, ids); again.Recorded == models.Ok {
			return byIssue[id]
		}
	}
	return withdrawn
}

// settle writes the classification into r: its verdict, its findings, the
// operations withdrawn, and an account that says what the check recorded,
// what was withdrawn and why, and what is left.
func (c *classifier) settle(r *models.CheckResult, cur models.CheckResult, withdrawn map[int64]*models.IssueRef,
	stale map[int64]hazard.Explanation, refusedStale int64, findings []models.Finding, v models.Verdict) {
	r.Findings = findings
	r.Withdrawn = nil
	for id := range withdrawn {
		r.Withdrawn = append(r.Withdrawn, id)
	}
	for id := range stale {
		r.Withdrawn = append(r.Withdrawn, id)
	}
	slices.Sort(r.Withdrawn)
	r.Verdict, r.Fails = v, fails(v, c.strict)
	if len(r.Withdrawn) == 0 {
		return // nothing explained: the check's own account stands
	}
	r.RecordedAccount = r.Account
	why := c.withdrawal(withdrawn, stale, refusedStale)
	switch v {
	case models.Violation:
		r.Account = fmt.Sprintf("with %s withdrawn, still: %s", why, cur.Account)
		r.Evidence, r.At = cur.Evidence, cur.At
	case models.Unknown:
		r.Account = fmt.Sprintf("could not decide whether withdrawing %s explains it: %s (as recorded: %s)", why, cur.Account, r.RecordedAccount)
	default:
		r.Account = fmt.Sprintf("%s; explained by %s: without them, the rest of %s is consistent with the model (as recorded: %s)",
			label(v), why, r.Name, r.RecordedAccount)
	}
}

// withdrawal words what was withdrawn and why.
func (c *classifier) withdrawal(withdrawn map[int64]*models.IssueRef, stale map[int64]hazard.Explanation, refused int64) string {
	byIssue := map[string][]int64{}
	refs := map[string]*models.IssueRef{}
	for id, ref := range withdrawn {
		byIssue[ref.ID] = append(byIssue[ref.ID], id)
		refs[ref.ID] = ref
	}
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(byIssue)) {
		ops := byIssue[id]
		slices.Sort(ops)
		parts = append(parts, fmt.Sprintf("the claims of %s, which %s made false", opList(ops), refs[id].Label()))
	}
	if len(stale) > 0 {
		ids := slices.Sorted(maps.Keys(stale))
		parts = append(parts, fmt.Sprintf("%d unfenced writes that may be stale, their writer's lease lost (%s; op %d, which the check refused: %s)",
			len(ids), opList(ids), refused, stale[refused].Account))
	}
	return strings.Join(parts, ", and ")
}

func label(v models.Verdict) string {
	if v == models.UnsafeWithoutFencing {
		return "unsafe without fencing (etcd's documented hazard)"
	}
	return "a known etcd issue"
}

func opList(ids []int64) string {
	if len(ids) > 5 {
		return fmt.Sprintf("ops %v and %d more", ids[:5], len(ids)-5)
	}
	if len(ids) == 1 {
		return fmt.Sprintf("op %d", ids[0])
	}
	return fmt.Sprintf("ops %v", ids)
}

func firstIssue(withdrawn map[int64]*models.IssueRef) *models.IssueRef {
	ids := slices.Sorted(maps.Keys(withdrawn))
	if len(ids) == 0 {
		return nil
	}
	return withdrawn[ids[0]]
}

func allIn(ids []int64, set map[int64]*models.IssueRef) bool {
	for _, id := range ids {
		if set[id] == nil {
			return false
		}
	}
	return true
}

// mechanismIn looks for a registered mechanism among the operations a
// violation involves: the one the model refused first, then the others its
// account cites (porcupine may single out either side of one conflict, so
// the same history is classified the same whichever it names). It returns
// the finding that shows it, with claims not yet withdrawn.
func (c *classifier) mechanismIn(r models.CheckResult, withdrawn map[int64]*models.IssueRef) (models.Finding, knownissues.Issue, []int64, bool) {
	f := c.refusal(r, models.Violation)
	candidates := []models.Finding{f}
	for _, id := range r.Evidence {
		if id != f.Op {
			g := f
			g.Op, g.Refusal, g.F = id, "", ""
			if op := c.ev().Op(id); op != nil {
				g.F = op.F
			}
			candidates = append(candidates, g)
		}
	}
	for _, g := range candidates {
		if issue, claims, ok := knownissues.Match(g, c.ev()); ok && len(claims) > 0 && !allIn(claims, withdrawn) {
			return g, issue, claims, true
		}
	}
	return models.Finding{}, knownissues.Issue{}, nil, false
}

// sweep is every claim on f's name that issue's mechanism shows false
// elsewhere: each of the name's operations is read as the one refused, as
// f's was. A check that the same bug broke many times is explained in one
// round, not one round per occurrence; every claim is still shown false by
// its own evidence.
func (c *classifier) sweep(f models.Finding, issue knownissues.Issue) []int64 {
	var out []int64
	for i := range c.ops {
		op := &c.ops[i]
		if op.Name != f.Name || op.ID == f.Op {
			continue
		}
		g := f
		g.Op, g.Refusal, g.F = op.ID, "", op.F
		if claims, ok := knownissues.Shows(issue, g, c.ev()); ok {
			out = append(out, claims...)
		}
	}
	return out
}

// refusal is the finding a porcupine violation stands for: the operation
// the model refused, and why, in the check's account.
func (c *classifier) refusal(r models.CheckResult, class models.Verdict) models.Finding {
	f := models.Finding{Check: r.Check, Kind: models.FindingModelRefusal, Name: r.Name, Account: r.Account,
		Evidence: r.Evidence, At: r.At, Class: class}
	if p := r.Porcupine; p != nil {
		f.Op, f.Refusal = p.Refused, p.Refusal
		if op := c.ev().Op(p.Refused); op != nil {
			f.F = op.F
		}
	}
	return f
}

// explainedWrite is an unfenced write that succeeded, among those r's
// violation involves (the one the model refused first, then the rest of
// its evidence), that the hazard package explains: a conflict between a
// stale write and a grant is the same conflict whichever side the search
// singled out.
func (c *classifier) explainedWrite(r models.CheckResult) (*history.Operation, hazard.Explanation, bool) {
	if r.Porcupine == nil {
		return nil, hazard.Explanation{}, false
	}
	for _, id := range append([]int64{r.Porcupine.Refused}, r.Evidence...) {
		op := c.ev().Op(id)
		if op == nil || op.F != history.FWrite || op.Input.IsFenced() || op.Outcome != history.Ok {
			continue
		}
		if x, ok := c.hz().Explain(op); ok {
			return op, x, true
		}
	}
	return nil, hazard.Explanation{}, false
}

// staleWrites are the unfenced writes on name that succeeded and that the
// hazard package explains.
func (c *classifier) staleWrites(name string) map[int64]hazard.Explanation {
	out := map[int64]hazard.Explanation{}
	for i := range c.ops {
		w := &c.ops[i]
		if w.F != history.FWrite || w.Name != name || w.Input.IsFenced() || w.Outcome != history.Ok {
			continue
		}
		if x, ok := c.hz().Explain(w); ok {
			out[w.ID] = x
		}
	}
	return out
}
