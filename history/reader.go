package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Kinds of bad input; a *ParseError wraps exactly one of them.
var (
	ErrEmpty           = errors.New("empty history")
	ErrSyntax          = errors.New("not a JSON object")
	ErrHeader          = errors.New("bad header")
	ErrUnknownType     = errors.New("unknown event type")
	ErrMissingField    = errors.New("missing field")
	ErrTimeBackwards   = errors.New("time went backwards")
	ErrDuplicateOp     = errors.New("duplicate op id")
	ErrNoInvoke        = errors.New("completion without invoke")
	ErrClientBusy      = errors.New("client has two operations in flight")
	ErrBadPhase        = errors.New("bad fault phase")
	ErrLineTooLong     = errors.New("line too long")
	ErrBadServerLine   = errors.New("bad server line")
	ErrRevBackwards    = errors.New("revision went backwards")
	ErrLeaseMismatch   = errors.New("records disagree on a key's lease")
	errTruncatedAtEOF  = errors.New("cut-off last line")
	maxLineBytes       = 1 << 20
	knownFunctions     = map[string]bool{FLock: true, FUnlock: true, FWrite: true, FCampaign: true, FProclaim: true, FResign: true, FLeader: true, FObserve: true, FLeaseLost: true, FRevoke: true, FKeepAlive: true, FLeaseTTL: true, FAttach: true, FProbe: true}
	validCompletionFor = map[string]Outcome{TypeOk: Ok, TypeFail: Fail, TypeInfo: Info}
	// leaseNaming are the functions whose ok value names a key, its create
	// revision and its lease.
	leaseNaming = map[string]bool{FLock: true, FCampaign: true, FLeader: true, FObserve: true}
)

// ParseError is bad input: the file, the 1-based line and what was expected.
type ParseError struct {
	File string
	Line int
	Kind error
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %v: %s", e.File, e.Line, e.Kind, e.Msg)
}

// Unwrap returns the kind of error, for errors.Is.
func (e *ParseError) Unwrap() error { return e.Kind }

// History is a parsed and validated history.
type History struct {
	Header Header
	Events []Event
	// Warnings are problems that were tolerated (a cut-off last line).
	Warnings []string
}

// ReadFile parses and validates the history at path.
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return read(f, path, size)
}

// Read parses and validates a history; name is used in error messages.
func Read(r io.Reader, name string) (*History, error) {
	var size int64
	if b, ok := r.(interface{ Len() int }); ok {
		size = int64(b.Len())
	}
	return read(r, name, size)
}

// bytesPerEvent is a low estimate of a recorded line's length, to size the
// event slice once instead of growing it.
const bytesPerEvent = 64

func read(r io.Reader, name string, size int64) (*History, error) {
	p := parser{file: name, inflight: map[int]int64{}, ops: map[int64]opState{}}
	if n := size / bytesPerEvent; n > 0 && n < 1<<24 {
		p.h.Events = make([]Event, 0, n)
		p.ops = make(map[int64]opState, n/2)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			p.line++
			atEOF := err == io.EOF && !bytes.HasSuffix(line, []byte("\n"))
			if perr := p.parseLine(bytes.TrimRight(line, "\r\n"), atEOF); perr != nil {
				if errors.Is(perr, errTruncatedAtEOF) {
					p.h.Warnings = append(p.h.Warnings, fmt.Sprintf("%s:%d: ignored a cut-off last line", name, p.line))
					break
				}
				return nil, perr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrLineTooLong) {
				p.line++
				return nil, p.errorf(ErrLineTooLong, "longer than %d bytes", maxLineBytes)
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	if p.line == 0 {
		return nil, &ParseError{File: name, Line: 1, Kind: ErrEmpty, Msg: "expected a header line"}
	}
	return &p.h, nil
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, chunk...)
			if len(long) > maxLineBytes {
				return nil, ErrLineTooLong
			}
			continue
		}
		if long != nil {
			long = append(long, chunk...)
			if len(long) > maxLineBytes {
				return nil, ErrLineTooLong
			}
			return long, err
		}
		return chunk, err
	}
}

type opState struct {
	client    int
	f         string
	completed bool
}

type parser struct {
	file     string
	line     int
	h        History
	last     int64
	inflight map[int]int64 // client -> op
	ops      map[int64]opState
	truthRev map[[2]string]int64 // name and role -> revision of its last server line
	leaseOf  map[keyRev]leaseRecord
}

// keyRev is one incarnation of a key: the key and its create revision.
type keyRev struct {
	key string
	rev int64
}

// leaseRecord is the lease a line recorded for a key.
type leaseRecord struct {
	lease int64
	line  int
}

// recordLease checks that every line that names a key's lease names the
// same one: a key's identity comes from the record, and records that
// disagree are bad input, not a finding.
func (p *parser) recordLease(key string, rev, lease int64) error {
	if key == "" || rev == 0 || lease == 0 {
		return nil
	}
	if p.leaseOf == nil {
		p.leaseOf = map[keyRev]leaseRecord{}
	}
	k := keyRev{key, rev}
	if prev, ok := p.leaseOf[k]; ok && prev.lease != lease {
		return p.errorf(ErrLeaseMismatch, "key %s (create revision %d) has lease %d here but lease %d at line %d", key, rev, lease, prev.lease, prev.line)
	} else if !ok {
		p.leaseOf[k] = leaseRecord{lease, p.line}
	}
	return nil
}

func (p *parser) errorf(kind error, format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.line, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseLine(line []byte, atEOF bool) error {
	if p.line == 1 {
		return p.parseHeader(line, atEOF)
	}
	var e Event
	if err := decodeEvent(line, &e); err != nil {
		if atEOF {
			return errTruncatedAtEOF
		}
		return p.errorf(ErrSyntax, "expected a JSON event object: %v", err)
	}
	if err := p.validate(&e); err != nil {
		return err
	}
	p.h.Events = append(p.h.Events, e)
	return nil
}

func (p *parser) parseHeader(line []byte, atEOF bool) error {
	if len(line) == 0 {
		return p.errorf(ErrEmpty, "expected a header line")
	}
	if err := json.Unmarshal(line, &p.h.Header); err != nil {
		return p.errorf(ErrHeader, "expected a JSON header object: %v", err)
	}
	h := p.h.Header
	if h.Type != TypeHeader {
		return p.errorf(ErrHeader, "expected type %q, got %q", TypeHeader, h.Type)
	}
	if h.Format != Format {
		return p.errorf(ErrHeader, "expected format %q, got %q", Format, h.Format)
	}
	return nil
}

func (p *parser) validate(e *Event) error {
	if e.Time < p.last {
		return p.errorf(ErrTimeBackwards, "time %d is before the previous line's %d", e.Time, p.last)
	}
	p.last = e.Time
	switch e.Type {
	case TypeInvoke:
		return p.invoke(e)
	case TypeOk, TypeFail, TypeInfo:
		return p.complete(e)
	case TypeFault:
		return p.fault(e)
	case TypeServer:
		return p.server(e)
	case "":
		return p.errorf(ErrMissingField, `expected "type"`)
	default:
		return p.errorf(ErrUnknownType, "%q (expected invoke, ok, fail, info, fault or server)", e.Type)
	}
}

func (p *parser) invoke(e *Event) error {
	if e.Op == 0 {
		return p.errorf(ErrMissingField, `invoke needs a non-zero "op"`)
	}
	if e.F == "" {
		return p.errorf(ErrMissingField, `invoke of op %d needs "f"`, e.Op)
	}
	if !knownFunctions[e.F] {
		p.h.Warnings = append(p.h.Warnings, fmt.Sprintf("%s:%d: unknown f %q (ignored by checkers)", p.file, p.line, e.F))
	}
	if _, dup := p.ops[e.Op]; dup {
		return p.errorf(ErrDuplicateOp, "op %d was already invoked", e.Op)
	}
	if op, busy := p.inflight[e.Client]; busy {
		return p.errorf(ErrClientBusy, "client %d invokes op %d while op %d is still in flight", e.Client, e.Op, op)
	}
	p.ops[e.Op] = opState{client: e.Client, f: e.F}
	p.inflight[e.Client] = e.Op
	return nil
}

func (p *parser) complete(e *Event) error {
	st, ok := p.ops[e.Op]
	if !ok {
		return p.errorf(ErrNoInvoke, "%s for op %d, which was never invoked", e.Type, e.Op)
	}
	if st.completed {
		return p.errorf(ErrNoInvoke, "%s for op %d, which already completed", e.Type, e.Op)
	}
	st.completed = true
	p.ops[e.Op] = st
	delete(p.inflight, st.client)
	if e.Type == TypeOk && e.Value != nil && leaseNaming[st.f] {
		return p.recordLease(e.Value.Key, e.Value.Rev, e.Value.Lease)
	}
	return nil
}

func (p *parser) fault(e *Event) error {
	if e.Fault == "" {
		return p.errorf(ErrMissingField, `fault event needs "fault"`)
	}
	if e.Phase != PhaseStart && e.Phase != PhaseEnd {
		return p.errorf(ErrBadPhase, "%q (expected %q or %q)", e.Phase, PhaseStart, PhaseEnd)
	}
	return nil
}

// server checks a server line: its fields, and that the revisions of one
// name and role never go back (events applied together share a revision).
func (p *parser) server(e *Event) error {
	if e.Name == "" {
		return p.errorf(ErrMissingField, `server line needs "name"`)
	}
	if e.ServerFields == nil {
		return p.errorf(ErrMissingField, `server line needs "role"`)
	}
	switch e.Role {
	case RoleLock, RoleElection, RoleData:
	case "":
		return p.errorf(ErrMissingField, `server line needs "role"`)
	default:
		return p.errorf(ErrBadServerLine, "role %q (expected lock, election or data)", e.Role)
	}
	id := [2]string{e.Name, e.Role}
	last := p.truthRev[id]
	switch e.Action {
	case ServerPut, ServerDelete:
		if e.Key == "" || e.Rev <= 0 || e.CreateRev <= 0 {
			return p.errorf(ErrMissingField, `server %s needs "key", "rev" and "create_rev"`, e.Action)
		}
		if e.CreateRev > e.Rev {
			return p.errorf(ErrBadServerLine, "create_rev %d is after rev %d", e.CreateRev, e.Rev)
		}
		if e.Rev < last {
			return p.errorf(ErrRevBackwards, "%s of %s (%s) at revision %d after revision %d", e.Action, e.Name, e.Role, e.Rev, last)
		}
		last = e.Rev
		if e.Action == ServerPut {
			if err := p.recordLease(e.Key, e.CreateRev, e.Lease); err != nil {
				return err
			}
		}
	case ServerGap:
		if e.ToRev < e.FromRev || e.ToRev <= 0 {
			return p.errorf(ErrBadServerLine, `gap needs "to_rev" at or after "from_rev" (got %d, %d)`, e.FromRev, e.ToRev)
		}
		if e.ToRev < last {
			return p.errorf(ErrRevBackwards, "gap of %s (%s) up to revision %d after revision %d", e.Name, e.Role, e.ToRev, last)
		}
		last = e.ToRev
	case "":
		return p.errorf(ErrMissingField, `server line needs "event"`)
	default:
		return p.errorf(ErrBadServerLine, "event %q (expected put, delete or gap)", e.Action)
	}
	if p.truthRev == nil {
		p.truthRev = map[[2]string]int64{}
	}
	p.truthRev[id] = last
	return nil
}

// Operations pairs invokes with their completions, in invoke order. An
// invoke without completion is Pending; info and pending operations have
// Return = Never.
func (h *History) Operations() []Operation {
	ops := make([]Operation, 0, len(h.Events)/2+1)
	index := make(map[int64]int, len(h.Events)/2+1)
	for i := range h.Events {
		e := &h.Events[i]
		switch e.Type {
		case TypeInvoke:
			index[e.Op] = len(ops)
			op := Operation{ID: e.Op, Client: e.Client, F: e.F, Name: e.Name, Member: e.Member,
				Call: e.Time, Return: Never, Outcome: Pending}
			if e.Value != nil {
				op.Input = *e.Value
			}
			ops = append(ops, op)
		case TypeOk, TypeFail, TypeInfo:
			op := &ops[index[e.Op]]
			op.Outcome = validCompletionFor[e.Type]
			op.Completed = e.Time
			op.Error = e.Error
			if e.Value != nil {
				op.Output = *e.Value
			}
			if op.Outcome != Info {
				op.Return = e.Time
			}
		}
	}
	return ops
}

// Faults pairs fault start and end events into intervals, in start order.
// A one-shot fault (see FaultKind.OneShot) ends when its action returned
// (its end event, which follows its own start before any later one-shot
// fault) or, without an end, has End == Start; any other fault without an
// end, including one of a kind this version does not know, lasts to the end
// of the history (End = Never, Ended false).
func (h *History) Faults() []Fault {
	var faults []Fault
	open := map[string][]int{}
	for _, e := range h.Events {
		if e.Type != TypeFault {
			continue
		}
		id := e.Fault + "\x00" + faultIdentity(e)
		if e.Phase == PhaseStart {
			open[id] = append(open[id], len(faults))
			end := Never
			if FaultKindOf(e.Fault).OneShot {
				end = e.Time
			}
			faults = append(faults, Fault{Kind: e.Fault, Detail: e.Detail, Member: e.Member,
				Target: e.Target, Lease: e.Lease, Leader: e.Leader || leaderInDetail(e), Start: e.Time, End: end})
			continue
		}
		if idx := open[id]; len(idx) > 0 {
			i := 0
			if FaultKindOf(e.Fault).OneShot {
				i = len(idx) - 1 // its own start; an earlier one that failed has none
			}
			f := &faults[idx[i]]
			f.End, f.Ended = e.Time, true
			open[id] = append(idx[:i:i], idx[i+1:]...)
		}
	}
	return faults
}

// leaderInDetail reads, from a history recorded before fault lines said
// "leader", a member fault aimed at the leader: its detail then begins
// "leader N " (e.g. "leader 3 paused (SIGSTOP)").
func leaderInDetail(e Event) bool {
	var m int
	var rest string
	n, _ := fmt.Sscanf(e.Detail, "leader %d %s", &m, &rest)
	return n == 2 && m == e.Member && e.Member != 0
}

// faultIdentity matches an end event with its start: the same fault kind and
// target. Detail is not part of it, since end events usually omit it.
func faultIdentity(e Event) string {
	return fmt.Sprintf("%d/%d/%d", e.Member, e.Target, e.Lease)
}

// EndTime is the time of the last event (0 for an empty history).
func (h *History) EndTime() int64 {
	if len(h.Events) == 0 {
		return 0
	}
	return h.Events[len(h.Events)-1].Time
}

// IsBadInput reports whether err is a problem with the history's content
// (as opposed to, say, a missing file).
func IsBadInput(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}
