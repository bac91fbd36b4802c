package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
)

// The nemesis and the injectors are tested against a fake environment: the
// unit under test is the fault logic, not etcd. The fake keeps the state a
// fault leaves behind (killed and paused members, stalled disks, cut and slow links,
// hung client ports, isolated and paused clients), so a test can tell whether all of it was
// healed, and logs every call in order.

type fakeCluster struct {
	size   int
	mode   string
	leader int
	// failing makes calls starting with it fail.
	failing string
	// plainDisks: started without stallable disks.
	plainDisks bool

	mu       sync.Mutex
	calls    []string
	killed   map[int]bool
	paused   map[int]bool
	stalled  map[int]bool
	cut      map[[2]int]bool
	slow     map[[2]int]time.Duration
	isolated map[*harness.Client]bool
	frozen   map[*harness.Client]bool
	held     map[*harness.Client]bool
	hung     map[int]bool // members whose client port hangs
}

func newFakeCluster(size int) *fakeCluster {
	return &fakeCluster{size: size, mode: harness.ModeProcess, leader: 2,
		killed: map[int]bool{}, paused: map[int]bool{}, stalled: map[int]bool{}, cut: map[[2]int]bool{},
		slow: map[[2]int]time.Duration{}, isolated: map[*harness.Client]bool{}, frozen: map[*harness.Client]bool{},
		held: map[*harness.Client]bool{}, hung: map[int]bool{}}
}

// log logs a call; it fails, with nothing done, if the call starts with
// f.failing.
func (f *fakeCluster) log(format string, args ...any) error {
	call := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, call)
	if f.failing != "" && strings.HasPrefix(call, f.failing) {
		return fmt.Errorf("%s: injected failure", call)
	}
	return nil
}

// Calls returns every call made so far, in order.
func (f *fakeCluster) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// healthy reports what is still broken, "" when nothing is.
func (f *fakeCluster) healthy() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var left []string
	for m := range f.killed {
		left = append(left, fmt.Sprintf("member %d killed", m))
	}
	for m := range f.paused {
		left = append(left, fmt.Sprintf("member %d paused", m))
	}
	for m := range f.stalled {
		left = append(left, fmt.Sprintf("member %d's disk stalled", m))
	}
	for l := range f.cut {
		left = append(left, fmt.Sprintf("link %d->%d cut", l[0], l[1]))
	}
	for l := range f.slow {
		left = append(left, fmt.Sprintf("link %d->%d slow", l[0], l[1]))
	}
	for c := range f.isolated {
		left = append(left, fmt.Sprintf("client %d isolated", c.ID))
	}
	for c := range f.frozen {
		left = append(left, fmt.Sprintf("client %d's link paused", c.ID))
	}
	for c := range f.held {
		left = append(left, fmt.Sprintf("client %d's answers held", c.ID))
	}
	for m := range f.hung {
		left = append(left, fmt.Sprintf("client port of member %d hung", m))
	}
	sort.Strings(left)
	return fmt.Sprint(left)
}

func (f *fakeCluster) Size() int    { return f.size }
func (f *fakeCluster) Mode() string { return f.mode }

func (f *fakeCluster) Leader() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

func (f *fakeCluster) WaitLeader(context.Context) (int, error) { return f.Leader(), nil }

func (f *fakeCluster) Kill(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("kill %d", m); err != nil {
		return err
	}
	f.killed[m] = true
	return nil
}

func (f *fakeCluster) Restart(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("restart %d", m); err != nil {
		return err
	}
	delete(f.killed, m)
	return nil
}

func (f *fakeCluster) PauseMember(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("pause member %d", m); err != nil {
		return err
	}
	f.paused[m] = true
	return nil
}

func (f *fakeCluster) ResumeMember(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("resume member %d", m); err != nil {
		return err
	}
	delete(f.paused, m)
	return nil
}

func (f *fakeCluster) CanStallDisks() error {
	if f.mode != harness.ModeProcess || f.plainDisks {
		return harness.ErrNotSupported
	}
	return nil
}

func (f *fakeCluster) StallDisk(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("stall disk %d", m); err != nil {
		return err
	}
	f.stalled[m] = true
	return nil
}

func (f *fakeCluster) UnstallDisk(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("unstall disk %d", m); err != nil {
		return err
	}
	delete(f.stalled, m)
	return nil
}

func (f *fakeCluster) MoveLeader(_ context.Context, to int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("move leader to %d", to); err != nil {
		return err
	}
	f.leader = to
	return nil
}

func (f *fakeCluster) Partition(groups ...[]int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("partition %s", groupString(groups...)); err != nil {
		return err
	}
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					f.cut[[2]int{a, b}], f.cut[[2]int{b, a}] = true, true
				}
			}
		}
	}
	return nil
}

func (f *fakeCluster) CutLink(a, b int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("cut %d-%d", a, b); err != nil {
		return err
	}
	f.cut[[2]int{a, b}], f.cut[[2]int{b, a}] = true, true
	return nil
}

func (f *fakeCluster) SetLinkLatency(from, to int, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("latency %d->%d %v", from, to, d); err != nil {
		return err
	}
	f.slow[[2]int{from, to}] = d
	return nil
}

func (f *fakeCluster) Heal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("heal"); err != nil {
		return err
	}
	clear(f.cut)
	clear(f.slow)
	clear(f.hung)
	return nil
}

func (f *fakeCluster) HangClientPort(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("hang client port %d", m); err != nil {
		return err
	}
	f.hung[m] = true
	return nil
}

func (f *fakeCluster) UnhangClientPort(m int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("unhang client port %d", m); err != nil {
		return err
	}
	delete(f.hung, m)
	return nil
}

func (f *fakeCluster) IsolateClient(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("isolate client %d", c.ID); err != nil {
		return err
	}
	f.isolated[c] = true
	return nil
}

func (f *fakeCluster) ReconnectClient(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("reconnect client %d", c.ID); err != nil {
		return err
	}
	delete(f.isolated, c)
	return nil
}

func (f *fakeCluster) PauseClient(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("pause link of client %d", c.ID); err != nil {
		return err
	}
	f.frozen[c] = true
	return nil
}

func (f *fakeCluster) ResumeClient(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("resume link of client %d", c.ID); err != nil {
		return err
	}
	delete(f.frozen, c)
	return nil
}

func (f *fakeCluster) HoldClientAnswers(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("hold answers to client %d", c.ID); err != nil {
		return err
	}
	f.held[c] = true
	return nil
}

func (f *fakeCluster) ReleaseClientAnswers(c *harness.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.log("release answers to client %d", c.ID); err != nil {
		return err
	}
	delete(f.held, c)
	return nil
}

// fakeAdmin logs the leases it revokes in its cluster's call log.
type fakeAdmin struct{ cluster *fakeCluster }

func (a fakeAdmin) Revoke(_ context.Context, id clientv3.LeaseID) (*clientv3.LeaseRevokeResponse, error) {
	a.cluster.mu.Lock()
	defer a.cluster.mu.Unlock()
	if err := a.cluster.log("revoke lease %x", int64(id)); err != nil {
		return nil, err
	}
	return &clientv3.LeaseRevokeResponse{}, nil
}

type fakeClient struct {
	conn    *harness.Client
	lease   int64
	holding string
	waiting string

	mu      sync.Mutex
	paused  bool
	stopped int64 // the lease whose keep-alives were stopped
}

func (c *fakeClient) ID() int               { return c.conn.ID }
func (c *fakeClient) Member() int           { return c.conn.Member }
func (c *fakeClient) Conn() *harness.Client { return c.conn }
func (c *fakeClient) Lease() int64          { return c.lease }

func (c *fakeClient) Holding() (string, bool) { return c.holding, c.holding != "" }
func (c *fakeClient) Waiting() (string, bool) { return c.waiting, c.waiting != "" }

func (c *fakeClient) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
}

func (c *fakeClient) Resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
}

func (c *fakeClient) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

func (c *fakeClient) StopKeepAlive() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = c.lease
	return c.lease
}

func (c *fakeClient) stoppedLease() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// fakeEnv is three members led by member 2, run as processes, and three
// clients: client i talks to member i with lease 0x11*i, and client 2
// holds lock l0.
type fakeEnv struct {
	*Env
	cluster *fakeCluster
	clients []*fakeClient
}

func newFakeEnv() *fakeEnv {
	fc := newFakeCluster(3)
	e := &fakeEnv{Env: &Env{Cluster: fc, Admin: fakeAdmin{fc}, LeaseTTL: time.Second}, cluster: fc}
	for i := 1; i <= 3; i++ {
		c := &fakeClient{conn: &harness.Client{ID: i, Member: i}, lease: 0x11 * int64(i)}
		switch i {
		case 2:
			c.holding = "l0"
		case 3:
			c.waiting = "l0"
		}
		e.clients = append(e.clients, c)
		e.Clients = append(e.Clients, c)
	}
	return e
}

// healthy reports what the fake environment still has broken.
func (e *fakeEnv) healthy() string {
	left := e.cluster.healthy()
	for _, c := range e.clients {
		if c.isPaused() {
			left += fmt.Sprintf(" client %d paused", c.ID())
		}
	}
	return left
}

// newRecorder records into a history file in a test directory; read
// returns the fault events recorded, once the recorder is closed.
func newRecorder(t *testing.T) (rec *history.Recorder, read func() []history.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: "fake", Members: 3})
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close() })
	return rec, func() []history.Event {
		t.Helper()
		require.NoError(t, rec.Close())
		h, err := history.ReadFile(path)
		require.NoError(t, err)
		var faults []history.Event
		for _, e := range h.Events {
			if e.Type == history.TypeFault {
				faults = append(faults, e)
			}
		}
		return faults
	}
}
