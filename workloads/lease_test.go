package workloads

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/harness"
	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/verdict"
	"github.com/etcdchaos/etcdchaos/workloads/observer"
)

// TestAbandonedLeaseLossIsRecorded: a client whose link is paused abandons
// its lease (the revoke times out, outcome unknown); the lease expires during
// the pause; once the link is back the client learns the lease is gone and
// records lease-lost, as it would have had it kept the lease.
func TestAbandonedLeaseLossIsRecorded(t *testing.T) {
	c := cluster(t)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), Workload: string(KindLock)})
	require.NoError(t, err)
	w, err := New(c, rec, Config{Kind: KindLock, Clients: 1, Unfenced: halfUnfenced, Prefix: "/" + t.Name(), OpTimeout: 10 * time.Second})
	require.NoError(t, err)
	defer w.Close()
	cl := w.Clients()[0]
	ctx := context.Background()
	require.True(t, cl.ensureLease(ctx))
	lease := cl.Lease()

	require.NoError(t, c.PauseClient(cl.Conn()))
	abandoned := make(chan struct{})
	go func() {
		defer close(abandoned)
		cl.abandonLease(ctx, "l0", 300*time.Millisecond)
	}()
	awaitLeaseGone(t, c, lease)
	require.NoError(t, c.ResumeClient(cl.Conn()))
	<-abandoned
	cl.bg.Wait()
	require.NoError(t, rec.Close())

	h, err := history.ReadFile(path)
	require.NoError(t, err)
	var fs []string
	var asked []int64 // the TimeToLive answers the client was given
	for _, op := range h.Operations() {
		require.Equal(t, lease, op.Input.Lease)
		switch {
		case op.F == history.FKeepAlive:
			require.Equal(t, history.LeaseKeeper(cl.ID()), op.Client, "keep-alives are the lease keeper's")
		case op.F == history.FLeaseTTL:
			if op.Outcome == history.Ok {
				asked = append(asked, *op.Output.TTL)
			}
		default:
			fs = append(fs, op.F+"/"+string(op.Outcome))
		}
	}
	require.Equal(t, []string{"revoke/info", "lease-lost/ok"}, fs)
	require.NotEmpty(t, asked)
	require.Equal(t, int64(-1), asked[len(asked)-1], "the loss was learned from a TimeToLive answer: not found")
}

// awaitLeaseGone waits until etcd, asked through a member of its own, says
// the lease of a paused client is not found.
func awaitLeaseGone(t *testing.T, c *harness.Cluster, lease int64) {
	t.Helper()
	admin, err := c.NewClient(2)
	require.NoError(t, err)
	defer admin.Close()
	require.Eventually(t, func() bool {
		tctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := admin.TimeToLive(tctx, clientv3.LeaseID(lease))
		return err == nil && resp.TTL == -1
	}, 15*time.Second, 50*time.Millisecond, "the lease of the paused client never expired")
}

// okKeepAlives counts the ok keep-alives recorded so far, reading the
// history file as it is being written.
func okKeepAlives(t *testing.T, path string, lease int64) int {
	t.Helper()
	h, err := history.ReadFile(path)
	require.NoError(t, err)
	n := 0
	for _, op := range h.Operations() {
		if op.F == history.FKeepAlive && op.Input.Lease == lease && op.Outcome == history.Ok {
			n++
		}
	}
	return n
}

// awaitKeeperEnd waits for the client's keep-alive loop to end.
func awaitKeeperEnd(t *testing.T, cl *Client) {
	t.Helper()
	select {
	case <-cl.lease.kaDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the keep-alive loop never ended")
	}
}

// TestLeaseAnswersOfRealEtcdPassTheLeaseCheck: on the real cluster, with
// server truth, client A holds l0 and client B holds l1, each lease renewed
// by its keeper's recorded keep-alives. A's lease is revoked (recorded as
// the revoke-lease fault records it): the keep-alive invoked after the
// revoke completed fails, and A records the loss. B stops renewing (the
// expire-lease fault): its lease expires, the server deletes its key, and
// B learns it from TimeToLive. etcd keeps every rule of the lease check.
func TestLeaseAnswersOfRealEtcdPassTheLeaseCheck(t *testing.T) {
	c := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), EtcdVersion: version.Version,
		Workload: string(KindLock), LeaseTTLMs: 2000, ServerTruth: true})
	require.NoError(t, err)
	w, err := New(c, rec, Config{Kind: KindLock, Clients: 2, Names: 2, Prefix: "/" + t.Name(), LeaseTTL: 2 * time.Second})
	require.NoError(t, err)
	defer w.Close()
	obs, err := observer.Start(ctx, observer.Config{Endpoints: c.Endpoints(), Root: w.KeyRoot(), Targets: w.Watched(), Rec: rec})
	require.NoError(t, err)
	defer obs.Close()
	admin, err := c.Dial(1)
	require.NoError(t, err)
	defer admin.Close()

	a, b := w.clients[0], w.clients[1]
	require.True(t, a.ensureLease(ctx))
	require.True(t, b.ensureLease(ctx))
	la, lb := a.Lease(), b.Lease()
	_, ok := a.lock(ctx, "l0", false)
	require.True(t, ok, "A holds l0")
	_, ok = b.lock(ctx, "l1", false)
	require.True(t, ok, "B holds l1")
	require.Eventually(t, func() bool { return okKeepAlives(t, path, la) >= 2 && okKeepAlives(t, path, lb) >= 2 },
		20*time.Second, 50*time.Millisecond, "both keepers renew their leases")

	// A's lease is revoked, as the revoke-lease fault does it, just after a
	// renewal, so that the next keep-alive is due well after the revoke.
	renewed := okKeepAlives(t, path, la)
	require.Eventually(t, func() bool { return okKeepAlives(t, path, la) > renewed }, 5*time.Second, 5*time.Millisecond)
	fault := history.FaultEvent{Fault: history.KindRevokeLease, Phase: history.PhaseStart, Target: a.ID(), Lease: la}
	_, err = rec.Fault(fault)
	require.NoError(t, err)
	_, err = admin.Revoke(ctx, clientv3.LeaseID(la))
	require.NoError(t, err)
	fault.Phase = history.PhaseEnd
	revoked, err := rec.Fault(fault)
	require.NoError(t, err)
	awaitKeeperEnd(t, a)
	a.checkLease(ctx, false)
	require.Nil(t, a.lease, "A learned from its keep-alive that the lease is gone")

	// B stops renewing, as the expire-lease fault does it.
	stopped := rec.Now()
	require.Equal(t, lb, b.StopKeepAlive())
	awaitKeeperEnd(t, b)
	require.Eventually(t, func() bool { b.checkLease(ctx, true); return b.lease == nil },
		20*time.Second, 100*time.Millisecond, "B's lease expires and B learns it")

	_, err = obs.CatchUp(ctx, 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, obs.Close())
	require.NoError(t, rec.Close())
	h, err := history.ReadFile(path)
	require.NoError(t, err)
	require.Empty(t, h.Warnings)

	var afterRevoke *history.Operation
	lastRenewalB, ttls := int64(0), 0
	owner := map[int64]int{la: a.ID(), lb: b.ID()}
	locked := map[int64]int64{} // lease -> invoke time of its lock
	lost := map[int64]int64{}   // lease -> last_alive of its lease-lost
	for _, op := range h.Operations() {
		switch {
		case op.F == history.FKeepAlive && op.Input.Lease == la && op.Call > revoked && afterRevoke == nil:
			afterRevoke = &op
		case op.F == history.FKeepAlive && op.Input.Lease == lb && op.Outcome == history.Ok:
			require.Less(t, op.Call, stopped, "no renewal after the keep-alives stopped")
			lastRenewalB = max(lastRenewalB, op.Call+*op.Output.TTL*int64(time.Second))
		case op.F == history.FLeaseTTL && op.Input.Lease == lb && op.Outcome == history.Ok:
			ttls++
		case op.F == history.FLock:
			locked[op.Input.Lease] = op.Call
		case op.F == history.FLeaseLost:
			lost[op.Input.Lease] = *op.Input.LastAlive
		}
		if op.F == history.FKeepAlive {
			require.Equal(t, history.LeaseKeeper(owner[op.Input.Lease]), op.Client)
			require.Equal(t, int64(2), op.Input.GrantedTTL)
		}
	}
	// Keep-alives prove nothing: the last proof of each lease is its lock.
	require.Equal(t, locked, lost, "each lease was lost, last alive at its lock's invoke")
	require.NotNil(t, afterRevoke, "a keep-alive was invoked after the revoke completed")
	require.Equal(t, history.Fail, afterRevoke.Outcome, "etcd refuses a keep-alive of a revoked lease")
	require.Equal(t, int64(0), *afterRevoke.Output.TTL, "and answers TTL 0")
	require.Positive(t, ttls, "B's TimeToLive answers are recorded")
	var expiredAt int64
	for _, s := range h.ServerEvents() {
		if s.Event == history.ServerDelete && s.Name == "l1" {
			expiredAt = s.Time
		}
	}
	require.NotZero(t, expiredAt, "the server deleted B's key when the lease expired")
	require.GreaterOrEqual(t, expiredAt, lastRenewalB, "no earlier than the last renewal's TTL after its invoke")

	res, err := verdict.Check(ctx, h, models.Options{})
	require.NoError(t, err)
	var lease *models.CheckResult
	for i, r := range res.Checks {
		assert.Equal(t, models.Ok, r.Verdict, "%s %s: %s", r.Check, r.Name, r.Account)
		if r.Check == models.CheckLease {
			lease = &res.Checks[i]
		}
	}
	require.NotNil(t, lease, "the lease check ran")
	assert.Equal(t, models.LeaseCheckName, lease.Name)
	assert.Empty(t, res.KnownIssues)
}

// TestTTLProbesAreRecorded: with TTLProbe set, each client's lease keeper
// asks TimeToLive between its keep-alives, through the client's member,
// and records every answer as its own lease-ttl operation; etcd's answers
// pass the lease check. Without TTLProbe the keeper asks nothing.
func TestTTLProbesAreRecorded(t *testing.T) {
	c := cluster(t)
	for _, probe := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(probe.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			path := filepath.Join(t.TempDir(), "history.jsonl")
			rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), EtcdVersion: version.Version,
				Workload: string(KindLock), LeaseTTLMs: 2000})
			require.NoError(t, err)
			w, err := New(c, rec, Config{Kind: KindLock, Clients: 3, Prefix: "/" + t.Name(), TTLProbe: probe})
			require.NoError(t, err)
			for _, cl := range w.clients {
				require.True(t, cl.ensureLease(ctx))
			}
			time.Sleep(time.Second)
			for _, cl := range w.clients {
				cl.dropLease()
				cl.bg.Wait()
			}
			members := map[int]int{} // keeper -> the member its client talks to
			for _, cl := range w.clients {
				members[history.LeaseKeeper(cl.ID())] = cl.Member()
			}
			require.NoError(t, w.Close())
			require.NoError(t, rec.Close())
			admin, err := c.NewClient(1)
			require.NoError(t, err)
			after, err := admin.Get(ctx, "/"+t.Name()+"/after")
			require.NoError(t, admin.Close())
			require.NoError(t, err)

			h, err := history.ReadFile(path)
			require.NoError(t, err)
			lastRev := map[int]int64{} // keeper -> header revision of its last answer
			probes := map[int]int{}    // keeper -> ok probes
			cut := map[int]int{}       // keeper -> probes cut short by the lease's stop
			late := 0                  // probes cut short by the next keep-alive's deadline (a loaded machine)
			for _, op := range h.Operations() {
				if (op.F == history.FKeepAlive || op.F == history.FLeaseTTL) && op.Outcome == history.Ok {
					// Each answer names the member that gave it and the
					// revision that member had applied: no later than the
					// cluster's revision afterwards, and never lower than
					// the previous answer of the same keeper, whose requests
					// go one at a time to the one member.
					assert.Equal(t, members[op.Client], op.Member, "keeper %d's answers come from its client's member", op.Client)
					assert.Positive(t, op.Output.HeaderRev, "an answer records the revision its member had applied")
					assert.LessOrEqual(t, op.Output.HeaderRev, after.Header.Revision)
					assert.GreaterOrEqual(t, op.Output.HeaderRev, lastRev[op.Client], "keeper %d: a member's applied revision only grows", op.Client)
					lastRev[op.Client] = op.Output.HeaderRev
				}
				if op.F != history.FLeaseTTL {
					continue
				}
				if op.Outcome == history.Info {
					if strings.Contains(op.Error, context.DeadlineExceeded.Error()) {
						late++
					} else {
						cut[op.Client]++
					}
					continue
				}
				require.Equal(t, history.Ok, op.Outcome, "a healthy cluster answers every probe")
				assert.GreaterOrEqual(t, *op.Output.TTL, int64(0))
				assert.LessOrEqual(t, *op.Output.TTL, int64(2))
				assert.Equal(t, int64(2), op.Output.GrantedTTL)
				assert.Equal(t, int64(2), op.Input.GrantedTTL, "a probe records the grant it is held to")
				probes[op.Client]++
			}
			if probe == 0 {
				assert.Empty(t, probes, "no probes unless asked for")
				return
			}
			require.Len(t, probes, 3, "every client's keeper probes")
			for keeper, n := range cut {
				assert.LessOrEqual(t, n, 1, "only the probe in flight when the lease stopped is cut short (keeper %d)", keeper)
			}
			for _, cl := range w.clients {
				// About 50 a second; at least 10 in the second, however slow the machine.
				assert.GreaterOrEqual(t, probes[history.LeaseKeeper(cl.ID())], 10, "client %d", cl.ID())
			}
			assert.Less(t, late, len(probes)*3, "probes outrun by the next keep-alive are the exception")
			res, err := verdict.Check(ctx, h, models.Options{Timeout: 10 * time.Second})
			require.NoError(t, err)
			for _, cr := range res.Checks {
				if cr.Check == models.CheckLease {
					assert.Equal(t, models.Ok, cr.Verdict, cr.Account)
				}
			}
		})
	}
}

// TestOrphanedLeaseLossIsRecorded: a client whose link is paused abandons
// its lease and cannot learn its fate (the revoke and the look-up after it
// both time out); it takes a new lease and goes on, and once the link is
// back and the old lease has expired, its next look-up records the old
// lease's loss, under the name it was last used on.
func TestOrphanedLeaseLossIsRecorded(t *testing.T) {
	c := cluster(t)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.Create(path, history.Header{Scenario: t.Name(), Members: c.Size(), Workload: string(KindLock)})
	require.NoError(t, err)
	w, err := New(c, rec, Config{Kind: KindLock, Clients: 1, Prefix: "/" + t.Name(), OpTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	cl := w.Clients()[0]
	ctx := context.Background()
	require.True(t, cl.ensureLease(ctx))
	old := cl.Lease()

	require.NoError(t, c.PauseClient(cl.Conn()))
	cl.abandonLease(ctx, "l0", 300*time.Millisecond)
	require.Nil(t, cl.lease)
	require.Len(t, cl.orphans, 1, "its fate is unknown: kept to look up")
	awaitLeaseGone(t, c, old)
	require.NoError(t, c.ResumeClient(cl.Conn()))
	require.True(t, cl.ensureLease(ctx), "a new lease once the link is back")
	cl.checkOrphans(ctx, true)
	require.Empty(t, cl.orphans, "the old lease's loss is learned")
	cl.dropLease()
	cl.bg.Wait()
	require.NoError(t, rec.Close())

	h, err := history.ReadFile(path)
	require.NoError(t, err)
	var lost []history.Operation
	for _, op := range h.Operations() {
		if op.F == history.FLeaseLost {
			lost = append(lost, op)
		}
	}
	require.Len(t, lost, 1)
	assert.Equal(t, old, lost[0].Input.Lease)
	assert.Equal(t, "l0", lost[0].Name)
}
