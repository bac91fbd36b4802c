package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder errors.
var (
	ErrClosed     = errors.New("recorder closed")
	ErrInFlight   = errors.New("client already has an operation in flight")
	ErrUnknownOp  = errors.New("no operation in flight with that id")
	ErrBadOutcome = errors.New("completion must be ok, fail or info")
)

// syncInterval bounds how long a written line may stay out of stable storage.
const syncInterval = time.Second

// Counts are the completions recorded so far, for progress output.
type Counts struct {
	Invoked, Ok, Fail, Info int64
}

// Recorder writes a history as events happen. It is safe for concurrent use.
// Each line is handed to the operating system as soon as it is recorded, so a
// killed process loses at most the line being written; the file is synced at
// least once a second and at Close.
type Recorder struct {
	mu       sync.Mutex
	w        io.Writer
	file     *os.File // nil when writing to a plain io.Writer
	start    time.Time
	last     int64
	nextOp   int64
	inflight map[int]int64 // client -> op
	clientOf map[int64]int // op -> client
	members  map[int]int   // client -> member
	buf      []byte
	err      error
	closed   bool

	invoked, ok, fail, info atomic.Int64

	stopSync chan struct{}
	syncDone chan struct{}
}

// Create creates (or truncates) the history file at path and writes h.
func Create(path string, h Header) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	r, err := New(f, h)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	r.stopSync = make(chan struct{})
	r.syncDone = make(chan struct{})
	go r.syncLoop()
	return r, nil
}

// New writes h to w and returns a recorder that appends events to w. Close
// does not close w. The header's Type, Format and StartUnixNs are filled in.
func New(w io.Writer, h Header) (*Recorder, error) {
	r := &Recorder{
		w:        w,
		start:    time.Now(),
		inflight: make(map[int]int64),
		clientOf: make(map[int64]int),
		members:  make(map[int]int),
	}
	h.Type, h.Format = TypeHeader, Format
	h.StartUnixNs = r.start.UnixNano()
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode history header: %w", err)
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("write history header: %w", err)
	}
	return r, nil
}

// Start is the instant time 0 of the history refers to.
func (r *Recorder) Start() time.Time { return r.start }

// Now is the current history time (ns since the start, monotonic).
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// SetMember records which member a client talks to; it is written on the
// client's invokes.
func (r *Recorder) SetMember(client, member int) {
	r.mu.Lock()
	r.members[client] = member
	r.mu.Unlock()
}

// Invoke records the start of an operation and returns its id.
func (r *Recorder) Invoke(client int, f, name string, in *Value) (int64, error) {
	op, _, err := r.Begin(client, f, name, in)
	return op, err
}

// Begin is Invoke that also returns the time written on the invoke line, for
// callers that need it later (a lease-lost's last_alive is the invoke time of
// the last operation that proved the lease alive).
func (r *Recorder) Begin(client int, f, name string, in *Value) (op, at int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if busy, ok := r.inflight[client]; ok {
		return 0, 0, fmt.Errorf("invoke %s by client %d: %w (op %d)", f, client, ErrInFlight, busy)
	}
	op = r.nextOp + 1
	e := Event{Type: TypeInvoke, Op: op, Client: client, F: f, Name: name, Value: in, Member: r.members[client]}
	if err := r.writeLocked(&e); err != nil {
		return 0, 0, err
	}
	r.nextOp = op
	r.inflight[client] = op
	r.clientOf[op] = client
	r.invoked.Add(1)
	return op, e.Time, nil
}

// Ok records that op took effect, with its result.
func (r *Recorder) Ok(op int64, out *Value) error { return r.Complete(op, Ok, out, "") }

// Fail records that op certainly did not take effect.
func (r *Recorder) Fail(op int64, out *Value, msg string) error {
	return r.Complete(op, Fail, out, msg)
}

// Info records that op may or may not have taken effect.
func (r *Recorder) Info(op int64, msg string) error { return r.Complete(op, Info, nil, msg) }

// Complete records the completion of op.
func (r *Recorder) Complete(op int64, outcome Outcome, out *Value, msg string) error {
	if outcome != Ok && outcome != Fail && outcome != Info {
		return fmt.Errorf("complete op %d as %q: %w", op, outcome, ErrBadOutcome)
	}
	if out == nil && outcome == Ok {
		out = &Value{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	client, ok := r.clientOf[op]
	if !ok {
		return fmt.Errorf("complete op %d: %w", op, ErrUnknownOp)
	}
	e := Event{Type: string(outcome), Op: op, Value: out, Error: msg}
	if err := r.writeLocked(&e); err != nil {
		return err
	}
	delete(r.clientOf, op)
	delete(r.inflight, client)
	switch outcome {
	case Ok:
		r.ok.Add(1)
	case Fail:
		r.fail.Add(1)
	default:
		r.info.Add(1)
	}
	return nil
}

// Record invokes and immediately completes an operation with ok; it is used
// for observations such as lease-lost.
func (r *Recorder) Record(client int, f, name string, in, out *Value) error {
	op, err := r.Invoke(client, f, name, in)
	if err != nil {
		return err
	}
	return r.Ok(op, out)
}

// FaultEvent describes one fault line.
type FaultEvent struct {
	Fault  string
	Phase  string
	Detail string
	Member int
	Target int
	Lease  int64
	// Leader: Member was the leader when the fault started.
	Leader bool
}

// Fault records a fault's start or end and returns its time.
func (r *Recorder) Fault(f FaultEvent) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := Event{Type: TypeFault, Fault: f.Fault, Phase: f.Phase, Detail: f.Detail,
		Member: f.Member, Target: f.Target, Lease: f.Lease, Leader: f.Leader}
	err := r.writeLocked(&e)
	return e.Time, err
}

// Server records a server line (server truth) and returns its time.
func (r *Recorder) Server(s ServerEvent) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := s.event()
	err := r.writeLocked(&e)
	return e.Time, err
}

// Counts returns how many operations were invoked and completed so far.
func (r *Recorder) Counts() Counts {
	return Counts{Invoked: r.invoked.Load(), Ok: r.ok.Load(), Fail: r.fail.Load(), Info: r.info.Load()}
}

// InFlight returns the number of operations without a completion.
func (r *Recorder) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight)
}

// writeLocked stamps e with the current time and writes it. The caller holds mu.
func (r *Recorder) writeLocked(e *Event) error {
	if r.closed {
		return ErrClosed
	}
	if r.err != nil {
		return r.err
	}
	now := r.Now()
	if now < r.last {
		now = r.last
	}
	r.last = now
	e.Time = now
	r.buf = appendEvent(r.buf[:0], e)
	if _, err := r.w.Write(r.buf); err != nil {
		r.err = fmt.Errorf("write history: %w", err)
		return r.err
	}
	return nil
}

func (r *Recorder) syncLoop() {
	defer close(r.syncDone)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stopSync:
			return
		case <-t.C:
			_ = r.file.Sync() // a failure resurfaces at Close
		}
	}
}

// Close syncs and closes the file (when created by Create). Operations still
// in flight stay without a completion and read as info. Close is idempotent.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	if r.file == nil {
		return r.err
	}
	close(r.stopSync)
	<-r.syncDone
	err := errors.Join(r.err, r.file.Sync(), r.file.Close())
	if err != nil {
		return fmt.Errorf("close history: %w", err)
	}
	return nil
}
