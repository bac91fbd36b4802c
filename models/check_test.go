package models

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
)

// Every hand-written history, the check that decides it and the verdict it
// must get, with the reason it is legal or not.
var handWritten = []struct {
	file    string
	check   string
	verdict Verdict
	why     string
}{
	{"legal-lock-simple", CheckLock, Ok, "two clients take turns"},
	{"legal-lock-contended", CheckLock, Ok, "waiters granted in create-revision order after each release"},
	{"legal-lock-info-ops", CheckLock, Ok, "indeterminate locks, unlocks and revokes that may or may not have taken effect"},
	{"legal-lock-lease-expiry", CheckLock, Ok, "the next grant falls inside the expired lease's death window"},
	{"legal-lock-crash-pending", CheckLock, Ok, "operations still in flight when the history ends"},
	{"legal-lock-crash-pending", CheckFenced, Ok, "the one completed fenced write was made by the owner"},
	{"legal-lock-relock-same-lease", CheckLock, Ok, "locking again with the owner's lease finds the same key"},
	{"legal-lock-unlock-waiter", CheckLock, Ok, "an unlock of a waiter's key deletes it without freeing the lock"},
	{"legal-lock-unlock-waiter", CheckFenced, Ok, "the next owner's key is older than the previous owner's last write"},
	{"legal-fenced-writes", CheckFenced, Ok, "a write rejected by its guard after the lease expired is legal"},
	{"legal-unfenced-writes", CheckUnfenced, Ok, "unfenced writes only by the owner"},
	{"legal-lock-revoke-fault-unnoticed", CheckLock, Ok, "a revoke-lease fault may end the owner's lease though its client never noticed"},
	{"illegal-lock-grant-before-revoke-fault", CheckLock, Violation, "a revoke-lease fault cannot explain a grant made before it"},
	{"illegal-lock-overlap", CheckLock, Violation, "a grant while another live lease holds the lock"},
	{"illegal-lock-lower-rev", CheckLock, Violation, "a later owner's key cannot be older than an earlier owner's"},
	{"illegal-lock-owner-after-lease-lost", CheckLock, Violation, "a lease that is gone cannot be granted the lock"},
	{"illegal-fenced-write-non-owner", CheckFenced, Violation, "a fenced write succeeded without its key owning the lock"},
	{"illegal-fenced-write-rev-order", CheckFenced, Violation, "guarded writes' revisions go backwards"},
	{"unsafe-unfenced-pause", CheckUnfenced, UnsafeWithoutFencing, "a paused client's expired lease explains a stale unfenced write"},
	{"unsafe-unfenced-pause", CheckLock, Ok, "the lease expired before the next grant"},
	{"illegal-unfenced-unexplained", CheckUnfenced, Violation, "an unfenced write after unlock with nothing to explain it"},
	{"illegal-unfenced-other-client-lapse", CheckUnfenced, Violation, "another client's pause and lost lease do not explain this client's stale write"},
	{"legal-election-simple", CheckElection, Ok, "campaign, proclaim, read, resign, campaign"},
	{"legal-election-resign-non-leader", CheckElection, Ok, "a resign by a non-leader (or with a wrong revision) is a no-op"},
	{"legal-election-info-and-expiry", CheckElection, Ok, "indeterminate proclaim and campaign, leader lease expiry"},
	{"legal-election-leader-before-campaign-returns", CheckElection, Ok, "Leader returns a campaigner still waiting in Campaign"},
	{"legal-election-recampaign-same-lease", CheckElection, Ok, "campaigning again with the leader's lease proclaims"},
	{"legal-election-proclaim-fail-after-resign", CheckElection, Ok, "a proclaim fails after an indeterminate resign took effect"},
	{"legal-observe-handover", CheckObserve, Ok, "a new leader's lower mod_rev, a skipped proclamation, a repeat after the stream broke"},
	{"legal-observe-handover", CheckElection, Ok, "the campaign, proclaims and resign around the stream"},
	{"illegal-election-two-leaders", CheckElection, Violation, "a campaign won while another lease led"},
	{"illegal-election-proclaim-non-leader", CheckElection, Violation, "a proclaim succeeded after its key resigned"},
	{"illegal-election-stale-leader-read", CheckElection, Violation, "a leader read returned a value older than a completed proclaim"},
	{"illegal-election-proclaim-fail-while-leader", CheckElection, Violation, "a proclaim by the leader's key failed"},
	{"illegal-election-campaign-after-lease-lost", CheckElection, Violation, "a campaign won with a lease already gone"},
	{"illegal-election-leader-none-while-led", CheckElection, Violation, "a leader read saw no leader while one led"},
	{"illegal-election-campaign-after-revoke-fault", CheckElection, Violation, "a revoke-lease fault that recorded its end had revoked the waiter's lease before the leader resigned"},
	{"illegal-observe-reversal", CheckObserve, Violation, "a stream went back to an older leader"},
	{"illegal-observe-phantom", CheckObserve, Violation, "a stream delivered a value only a failed proclaim carried"},
	{"legal-lock-hex-suffix-is-not-the-lease", CheckLock, Ok, "the unlock of key l0/a releases lease 100, which the grant recorded, not lease 0xa its suffix spells"},
	{"legal-truth-lock-write-unlock", CheckTruth, Ok, "every claim is in the server's record: grants of the oldest key, writes at their revisions, releases"},
	{"legal-truth-info-campaign-key-expired", CheckElection, Ok, "a campaign of unknown outcome whose key the server deleted (its client never learned its lease was gone) no longer leads once the delete is seen"},
	{"legal-truth-waiter-outlives-owner", CheckTruth, Ok, "the waiter's key outlived the owner's, so it was the oldest for a while"},
	{"illegal-truth-campaign-key-never-created", CheckTruth, Violation, "a campaign ok for a key the server never created: a phantom grant no registered issue explains"},
	{"illegal-truth-phantom-lock", CheckTruth, Violation, "a lock granted to a key the server deleted before the older key"},
	{"illegal-truth-lost-write", CheckTruth, Violation, "a write ok at a revision where the server wrote another value"},
	{"illegal-truth-lost-proclaim", CheckTruth, Violation, "a proclaim ok whose value the server never wrote"},
	{"known-truth-phantom-campaign", CheckTruth, KnownIssue, "etcd issue 19597: a campaign ok after the campaigner's key was deleted before the older key"},
	{"known-truth-phantom-campaign", CheckElection, Ok, "the phantom campaign, known to be false, is of unknown outcome to the model"},
	{"known-truth-resign-retry", CheckTruth, KnownIssue, "etcd issue 22123: a retried resign ok while the key stayed"},
	{"known-truth-resign-retry", CheckElection, Ok, "the resign known not to have released is of unknown outcome to the model"},
	{"gap-truth-phantom-campaign", CheckTruth, Unknown, "a gap hides the waiter's key's deletion: nothing can be concluded, and that is not ok"},
	{"legal-lease-ttl-in-range", CheckLease, Ok, "keep-alive and TimeToLive TTLs of -1 (not found), 0 (expired, revoke pending) and up to the granted TTL"},
	{"illegal-lease-ttl-out-of-range", CheckLease, Violation, "a keep-alive renewed for more than the granted TTL, a TimeToLive answered -2"},
	{"legal-lease-expiry-after-renewal", CheckLease, Ok, "the lease expired after its last renewal's TTL ran out (later than that, too: leases may outlive their TTL)"},
	{"illegal-lease-early-expiry", CheckLease, Violation, "the lease's key was deleted, with nothing but an expiry to explain it, before its last renewal's TTL ran out"},
	{"gap-lease-early-expiry", CheckLease, Unknown, "a gap covers the early deletion's revision: nothing can be concluded, and that is not ok"},
	{"legal-lease-revoke-and-unlock", CheckLease, Ok, "a revoke and an unlock explain deletions before the renewal ran out; a keep-alive during the revoke may succeed, one after it fails"},
	{"illegal-lease-keepalive-after-revoke", CheckLease, Violation, "a keep-alive invoked after the lease's revoke completed succeeded"},
	{"illegal-lease-keepalive-after-revoke-fault", CheckLease, Violation, "a keep-alive invoked after a revoke-lease fault recorded its end succeeded"},
	{"known-lease-early-expiry-17425-v3.5.12", CheckLease, KnownIssue, "etcd PR 17425, recorded on v3.5.12 (stale-leader seed 1, shrunk): a leader paused past the lease TTL revoked, as it continued, a lease the new leader had just renewed"},
	{"known-lease-early-expiry-18428-v3.7.3", CheckLease, KnownIssue, "recorded on v3.7.3 (stale-leader seed 2, shrunk): 6 s after leader 3 continued from a pause (30.13 s), a revoke it queued behind its first 16 deleted a lease the new leader had renewed at 35.69 s (etcd PR 18428 skips the leadership check PR 17425 added)"},
	{"known-lease-ttl-17506-v3.5.13", CheckLease, KnownIssue, "etcd issue 17506, recorded on v3.5.13 (lease-ttl seed 1): a TimeToLive answered 9223372036 s while members 2 and 3 elected a new leader"},
}

func readTestdata(t testing.TB, name string) *history.History {
	t.Helper()
	h, err := history.ReadFile(filepath.Join("testdata", name+".jsonl"))
	require.NoError(t, err)
	return h
}

func findCheck(r Result, check string) (CheckResult, bool) {
	for _, c := range r.Checks {
		if c.Check == check {
			return c, true
		}
	}
	return CheckResult{}, false
}

func TestHandWrittenHistories(t *testing.T) {
	for _, tc := range handWritten {
		t.Run(tc.file+"/"+tc.check, func(t *testing.T) {
			h := readTestdata(t, tc.file)
			res, err := Check(context.Background(), h, Options{Timeout: 10 * time.Second})
			require.NoError(t, err)
			c, ok := findCheck(res, tc.check)
			require.True(t, ok, "check %s not run; got %+v", tc.check, res.Checks)
			assert.Equal(t, tc.verdict, c.Verdict, "%s: %s (account: %s)", tc.file, tc.why, c.Account)
			switch tc.verdict {
			case Ok:
				assert.False(t, c.Fails)
				assert.Empty(t, c.Account)
			case Violation, UnsafeWithoutFencing, KnownIssue:
				assert.NotEmpty(t, c.Evidence, "a finding names its operations")
				assert.NotEmpty(t, c.Account)
				assert.NotZero(t, c.At)
			}
			if tc.file[:5] == "legal" {
				for _, other := range res.Checks {
					assert.Contains(t, []Verdict{Ok, Empty}, other.Verdict, "%s %s: %s", other.Check, other.Name, other.Account)
				}
				assert.Equal(t, Ok, res.Verdict)
				assert.Equal(t, ExitOk, res.ExitCode())
			}
		})
	}
}

func TestHandWrittenCount(t *testing.T) {
	files, err := filepath.Glob("testdata/*.jsonl")
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, tc := range handWritten {
		seen[tc.file] = true
		assert.FileExists(t, filepath.Join("testdata", tc.file+".jsonl"))
	}
	assert.GreaterOrEqual(t, len(seen), 25)
	assert.Len(t, files, len(seen), "every file under testdata is in the table")
}

func TestAccounts(t *testing.T) {
	cases := []struct {
		file, check string
		want        []string
	}{
		{"illegal-lock-overlap", CheckLock, []string{
			"client 3 was granted l0 at 12.31 s (op 2) while client 5 held it since 11.90 s (op 1)",
			"client 5's lease was alive until 13.02 s"}},
		{"illegal-lock-lower-rev", CheckLock, []string{"revision 8, not above revision 10 granted earlier to client 1 (op 1)"}},
		{"illegal-lock-owner-after-lease-lost", CheckLock, []string{"which was already gone", "client 1 saw it lost at 2.50 s"}},
		{"illegal-fenced-write-non-owner", CheckFenced, []string{"client 2's fenced write to l0 at 0.15 s (op 3) took effect while client 1 held it since 0.12 s (op 1)"}},
		{"illegal-election-two-leaders", CheckElection, []string{"two leaders: client 2 became leader of e0 at 0.13 s (op 2) while client 1 led it since 0.11 s (op 1)"}},
		{"illegal-election-proclaim-non-leader", CheckElection, []string{"client 1 proclaimed \"late\" on e0", "not the leader", "resigned at 0.13 s (op 2)"}},
		{"illegal-election-stale-leader-read", CheckElection, []string{"client 2 read the leader of e0 at 0.15 s (op 3)", "value \"a\"", "with value \"b\""}},
		{"illegal-election-campaign-after-revoke-fault", CheckElection, []string{"with lease c8, which was already gone: a revoke-lease fault on client 2 at 1.00 s ended it by 1.01 s"}},
		{"illegal-observe-reversal", CheckObserve, []string{"went back to an older leader"}},
		{"illegal-observe-phantom", CheckObserve, []string{"value \"b\"", "no campaign or proclaim"}},
		{"unsafe-unfenced-pause", CheckUnfenced, []string{"unsafe without fencing", "client 1's unfenced write to l0 at 3.16 s (op 5)", "client 2 held it since 2.30 s (op 2)", "pause-client"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res, err := Check(context.Background(), readTestdata(t, tc.file), Options{Timeout: 10 * time.Second})
			require.NoError(t, err)
			c, ok := findCheck(res, tc.check)
			require.True(t, ok)
			for _, w := range tc.want {
				assert.Contains(t, c.Account, w)
			}
		})
	}
}

func TestUnsafeWithoutFencingVerdicts(t *testing.T) {
	h := readTestdata(t, "unsafe-unfenced-pause")
	res, err := Check(context.Background(), h, Options{})
	require.NoError(t, err)
	assert.Equal(t, UnsafeWithoutFencing, res.Verdict)
	assert.Equal(t, ExitOk, res.ExitCode(), "explained hazard does not fail the run")
	assert.Equal(t, Hazard{UnfencedWrites: 3, UnfencedOverlapping: 1, LongestOverlapNs: 3160000000 - 2300000000}, res.Hazard)

	strict, err := Check(context.Background(), h, Options{Strict: true})
	require.NoError(t, err)
	c, _ := findCheck(strict, CheckUnfenced)
	assert.True(t, c.Fails)
	assert.Equal(t, ExitViolation, strict.ExitCode())

	unexplained, err := Check(context.Background(), readTestdata(t, "illegal-unfenced-unexplained"), Options{})
	require.NoError(t, err)
	assert.Equal(t, Violation, unexplained.Verdict)
	assert.Equal(t, ExitViolation, unexplained.ExitCode())
	assert.Equal(t, 1, unexplained.Hazard.UnfencedOverlapping)
}

func TestFencedHazardCounts(t *testing.T) {
	res, err := Check(context.Background(), readTestdata(t, "legal-fenced-writes"), Options{})
	require.NoError(t, err)
	assert.Equal(t, Hazard{FencedWrites: 6, FencedRejected: 1}, res.Hazard)
}

func TestEmptyAndExitCodes(t *testing.T) {
	h := &history.History{Header: history.Header{Format: history.Format}}
	res, err := Check(context.Background(), h, Options{})
	require.NoError(t, err)
	assert.Equal(t, Empty, res.Verdict)
	assert.Empty(t, res.Checks)
	assert.Equal(t, ExitUnknown, res.ExitCode(), "nothing checked is not ok")

	// Only failed fenced writes: the fenced check has nothing to look at.
	res, err = Check(context.Background(), readTestdata(t, "legal-lock-unlock-waiter"), Options{})
	require.NoError(t, err)
	_, ok := findCheck(res, CheckUnfenced)
	assert.False(t, ok, "no unfenced writes, no unfenced check")
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Check(ctx, readTestdata(t, "legal-lock-simple"), Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestLapseConcernsItsWriter(t *testing.T) {
	who := lapse{client: 1, lease: 161}
	assert.True(t, who.concerns(9, 161), "an event naming its lease")
	assert.False(t, who.concerns(1, 170), "an event naming another lease of its client")
	assert.True(t, who.concerns(1, 0), "an event on its client naming no lease")
	assert.False(t, who.concerns(2, 0), "an event on another client")
	assert.True(t, lapse{}.concerns(2, 170), "an unknown writer: any event")
}
