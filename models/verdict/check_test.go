package verdict

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etcdchaos/etcdchaos/history"
	"github.com/etcdchaos/etcdchaos/models"
	"github.com/etcdchaos/etcdchaos/models/internal/handwritten"
)

// Every hand-written history, a check that decides it and the classified
// verdict it must get, with the reason.
var handWritten = []struct {
	file    string
	check   string
	verdict models.Verdict
	why     string
}{
	{"legal-lock-simple", models.CheckLock, models.Ok, "two clients take turns"},
	{"legal-lock-contended", models.CheckLock, models.Ok, "waiters granted in create-revision order after each release"},
	{"legal-lock-info-ops", models.CheckLock, models.Ok, "indeterminate locks, unlocks and revokes that may or may not have taken effect"},
	{"legal-lock-lease-expiry", models.CheckLock, models.Ok, "the next grant falls inside the expired lease's death window"},
	{"legal-lock-crash-pending", models.CheckLock, models.Ok, "operations still in flight when the history ends"},
	{"legal-lock-crash-pending", models.CheckFenced, models.Ok, "the one completed fenced write was made by the owner"},
	{"legal-lock-relock-same-lease", models.CheckLock, models.Ok, "locking again with the owner's lease finds the same key"},
	{"legal-lock-unlock-waiter", models.CheckLock, models.Ok, "an unlock of a waiter's key deletes it without freeing the lock"},
	{"legal-lock-unlock-waiter", models.CheckFenced, models.Ok, "the next owner's key is older than the previous owner's last write"},
	{"legal-fenced-writes", models.CheckFenced, models.Ok, "a write rejected by its guard after the lease expired is legal"},
	{"legal-unfenced-writes", models.CheckUnfenced, models.Ok, "unfenced writes only by the owner"},
	{"legal-lock-revoke-fault-unnoticed", models.CheckLock, models.Ok, "a revoke-lease fault may end the owner's lease though its client never noticed"},
	{"illegal-lock-grant-before-revoke-fault", models.CheckLock, models.Violation, "a revoke-lease fault cannot explain a grant made before it"},
	{"illegal-lock-overlap", models.CheckLock, models.Violation, "a grant while another live lease holds the lock"},
	{"illegal-lock-lower-rev", models.CheckLock, models.Violation, "a later owner's key cannot be older than an earlier owner's"},
	{"illegal-lock-owner-after-lease-lost", models.CheckLock, models.Violation, "a lease that is gone cannot be granted the lock"},
	{"illegal-fenced-write-non-owner", models.CheckFenced, models.Violation, "a fenced write succeeded without its key owning the lock"},
	{"illegal-fenced-write-rev-order", models.CheckFenced, models.Violation, "guarded writes' revisions go backwards"},
	{"unsafe-unfenced-pause", models.CheckUnfenced, models.UnsafeWithoutFencing, "a paused client's expired lease explains a stale unfenced write"},
	{"unsafe-unfenced-pause", models.CheckLock, models.Ok, "the lease expired before the next grant"},
	{"illegal-unfenced-unexplained", models.CheckUnfenced, models.Violation, "an unfenced write after unlock with nothing to explain it"},
	{"illegal-unfenced-other-client-lapse", models.CheckUnfenced, models.Violation, "another client's pause and lost lease do not explain this client's stale write"},
	{"legal-election-simple", models.CheckElection, models.Ok, "campaign, proclaim, read, resign, campaign"},
	{"legal-election-resign-non-leader", models.CheckElection, models.Ok, "a resign by a non-leader (or with a wrong revision) is a no-op"},
	{"legal-election-info-and-expiry", models.CheckElection, models.Ok, "indeterminate proclaim and campaign, leader lease expiry"},
	{"legal-election-leader-before-campaign-returns", models.CheckElection, models.Ok, "Leader returns a campaigner still waiting in Campaign"},
	{"legal-election-recampaign-same-lease", models.CheckElection, models.Ok, "campaigning again with the leader's lease proclaims"},
	{"legal-election-proclaim-fail-after-resign", models.CheckElection, models.Ok, "a proclaim fails after an indeterminate resign took effect"},
	{"legal-observe-handover", models.CheckObserve, models.Ok, "a new leader's lower mod_rev, a skipped proclamation, a repeat after the stream broke"},
	{"legal-observe-handover", models.CheckElection, models.Ok, "the campaign, proclaims and resign around the stream"},
	{"illegal-election-two-leaders", models.CheckElection, models.Violation, "a campaign won while another lease led"},
	{"illegal-election-proclaim-non-leader", models.CheckElection, models.Violation, "a proclaim succeeded after its key resigned"},
	{"illegal-election-stale-leader-read", models.CheckElection, models.Violation, "a leader read returned a value older than a completed proclaim"},
	{"illegal-election-proclaim-fail-while-leader", models.CheckElection, models.Violation, "a proclaim by the leader's key failed"},
	{"illegal-election-campaign-after-lease-lost", models.CheckElection, models.Violation, "a campaign won with a lease whose loss has no certain time: not 19597's mechanism"},
	{"illegal-election-leader-none-while-led", models.CheckElection, models.Violation, "a leader read saw no leader while one led"},
	{"known-election-campaign-after-revoke-fault", models.CheckElection, models.KnownIssue, "without server truth, 19597's mechanism on record: a revoke-lease fault completed while the waiter waited and the older leader still led, then the waiter's campaign returned ok"},
	{"illegal-election-campaign-after-revoked-lease", models.CheckElection, models.Violation, "a campaign with a lease revoked before it was invoked: no lease died while it waited"},
	{"illegal-observe-reversal", models.CheckObserve, models.Violation, "a stream went back to an older leader"},
	{"illegal-observe-phantom", models.CheckObserve, models.Violation, "a stream delivered a value only a failed proclaim carried"},
	{"legal-lock-hex-suffix-is-not-the-lease", models.CheckLock, models.Ok, "the unlock of key l0/a releases lease 100, which the grant recorded, not lease 0xa its suffix spells"},
	{"legal-truth-lock-write-unlock", models.CheckTruth, models.Ok, "every claim is in the server's record: grants of the oldest key, writes at their revisions, releases"},
	{"legal-truth-info-campaign-key-expired", models.CheckElection, models.Ok, "a campaign of unknown outcome whose key the server deleted (its client never learned its lease was gone) no longer leads once the delete is seen"},
	{"legal-truth-waiter-outlives-owner", models.CheckTruth, models.Ok, "the waiter's key outlived the owner's, so it was the oldest for a while"},
	{"illegal-truth-campaign-key-never-created", models.CheckTruth, models.Violation, "a campaign ok for a key the server never created: a phantom grant no registered issue explains"},
	{"illegal-truth-phantom-lock", models.CheckTruth, models.Violation, "a lock granted to a key the server deleted before the older key"},
	{"illegal-truth-lost-write", models.CheckTruth, models.Violation, "a write ok at a revision where the server wrote another value"},
	{"illegal-truth-lost-proclaim", models.CheckTruth, models.Violation, "a proclaim ok whose value the server never wrote"},
	{"known-truth-phantom-campaign", models.CheckTruth, models.KnownIssue, "etcd issue 19597: a campaign ok after the campaigner's key was deleted by its lease's death before the older key"},
	{"known-truth-phantom-campaign", models.CheckElection, models.Ok, "without truth the campaign could have led between the resign and its lease's death, whose time the record leaves open"},
	{"illegal-truth-two-leaders-self-resign", models.CheckTruth, models.Violation, "the second campaign returned while the first leader led; its key was deleted later by its own resign, not by its lease while it waited"},
	{"illegal-truth-two-leaders-self-resign", models.CheckElection, models.Violation, "two leaders, and no known mechanism explains them"},
	{"illegal-truth-phantom-campaign-unknown-version", models.CheckTruth, models.Violation, "19597's shape on a version that cannot be read matches nothing"},
	{"illegal-truth-phantom-campaign-seen-late", models.CheckTruth, models.Violation, "the observer saw the campaign's key deleted only after the campaign returned, and nothing recorded shows the deletion came first: not provably 19597"},
	{"known-truth-phantom-campaign-proven-by-revision", models.CheckTruth, models.KnownIssue, "the same, with a lease answer returned before the campaign that had seen the deletion's revision: 19597"},
	{"illegal-truth-phantom-campaign-unknown-version", models.CheckElection, models.Ok, "the election check records no violation either way"},
	{"known-truth-resign-retry", models.CheckTruth, models.KnownIssue, "etcd issue 22123 on the concurrency backend: a retried resign ok while the key stayed"},
	{"known-truth-resign-retry", models.CheckElection, models.KnownIssue, "the stale leader read is explained by the same resign's claim"},
	{"illegal-truth-resign-retry-grpc", models.CheckTruth, models.Violation, "on the grpc backend the server resumes from the request's key, so a retried resign that leaves the key is a new bug"},
	{"illegal-truth-resign-not-retried", models.CheckTruth, models.Violation, "a first resign that returned ok while the key stayed is not the retry bug"},
	{"gap-truth-phantom-campaign", models.CheckTruth, models.Unknown, "a gap hides the waiter's key's deletion: nothing can be concluded, and that is not ok"},
	{"gap-truth-19597-and-undecided", models.CheckTruth, models.KnownIssue, "e0's phantom campaign is 19597"},
	{"legal-lease-ttl-in-range", models.CheckLease, models.Ok, "keep-alive and TimeToLive TTLs of -1 (not found), 0 (expired, revoke pending) and up to the granted TTL"},
	{"illegal-lease-ttl-out-of-range", models.CheckLease, models.Violation, "a keep-alive renewed for more than the granted TTL, a TimeToLive answered -2 with no stall"},
	{"illegal-lease-ttl-9000-no-stall-v3.4.0", models.CheckLease, models.Violation, "a TimeToLive answered -9000 with no leader stalled"},
	{"illegal-lease-ttl-after-stale-window-v3.7.3", models.CheckLease, models.Violation, "a TimeToLive of -2 from the old leader well after it continued: not the stale lessor's window"},
	{"known-lease-ttl-stale-leader-v3.7.3", models.CheckLease, models.KnownIssue, "etcdchaos-2: a TimeToLive of -2 for a request in flight when the paused leader continued"},
	{"known-lease-ttl-stale-leader-answered-before-end-recorded-v3.7.3", models.CheckLease, models.KnownIssue, "etcdchaos-2: the same answer returned just before the pause's end was written, as it is once SIGCONT was sent"},
	{"known-lease-ttl-leader-disk-stall-v3.7.4", models.CheckLease, models.KnownIssue, "etcdchaos-2 after a leader's disk stall, as disk-stall seed 2 recorded it on v3.7.4: a TimeToLive of -3 sent to the member whose disk stalled while it led, answered as the disk came back"},
	{"illegal-lease-ttl-follower-disk-stall-v3.7.4", models.CheckLease, models.Violation, "the same answer after a follower's disk stall: no stale leader"},
	{"known-lease-ttl-during-leader-disk-stall-v3.7.4", models.CheckLease, models.KnownIssue, "etcdchaos-2 during a leader's disk stall, as disk-stall seed 3 recorded it on v3.7.4: the member waiting on its disk answers a TimeToLive of -2 from its lessor at once, 3.8 s into the stall"},
	{"illegal-lease-ttl-during-leader-pause-v3.7.4", models.CheckLease, models.Violation, "the same answer from a leader paused with SIGSTOP, which answers nothing while it is stopped: not the stale lessor"},
	{"illegal-lease-ttl-during-leader-disk-stall-other-member-v3.7.4", models.CheckLease, models.Violation, "the same answer during the leader's disk stall, sent to another member: not the stalled leader's lessor"},
	{"illegal-lease-ttl-above-grant-v3.5.13", models.CheckLease, models.Violation, "a TTL above the grant that is not a non-primary lessor's 9223372036 s is not 17506"},
	{"legal-lease-expiry-after-renewal", models.CheckLease, models.Ok, "the lease expired after its last renewal's TTL ran out (later than that, too: leases may outlive their TTL)"},
	{"illegal-lease-early-expiry", models.CheckLease, models.Violation, "the lease's key was deleted, with nothing but an expiry to explain it, before its last renewal's TTL ran out"},
	{"illegal-lease-early-expiry-no-stall-v3.7.3", models.CheckLease, models.Violation, "an early expiry with no leader stalled is a violation on the newest release too"},
	{"illegal-lease-early-expiry-follower-pause-v3.7.3", models.CheckLease, models.Violation, "a pause of a follower does not make a stale leader"},
	{"known-lease-early-expiry-stale-leader-v3.7.3", models.CheckLease, models.KnownIssue, "etcdchaos-1: the expiry came after the leader, paused, continued"},
	{"gap-lease-early-expiry", models.CheckLease, models.Unknown, "a gap covers the early deletion's revision: nothing can be concluded, and that is not ok"},
	{"legal-lease-revoke-and-unlock", models.CheckLease, models.Ok, "a revoke and an unlock explain deletions before the renewal ran out; a keep-alive during the revoke may succeed, one after it fails"},
	{"illegal-lease-keepalive-after-revoke", models.CheckLease, models.Violation, "a keep-alive invoked after the lease's revoke completed succeeded"},
	{"illegal-lease-keepalive-after-revoke-fault", models.CheckLease, models.Violation, "a keep-alive invoked after a revoke-lease fault recorded its end succeeded"},
	{"illegal-lease-alive-after-keys-gone", models.CheckLease, models.Violation, "a keep-alive racing a revoke answered TTL 2 at the revision of the revoke's deletion of the lease's keys: a keep-alive lists no keys, so nothing shows it was answered inside the revoke (14758's mechanism)"},
	{"legal-lease-renewal-racing-revoke-before-keys-gone", models.CheckLease, models.Ok, "the same renewal answered at a revision before the keys went: it renewed a live lease"},
	{"legal-lease-keys-listed-while-attaching", models.CheckLease, models.Ok, "a TimeToLive asked while the lease's keys were being put listed the first 500 of them"},
	{"known-lease-keys-partly-gone-14758-v3.7.4", models.CheckLease, models.KnownIssue, "etcd issue 14758: during a revoke, a TimeToLive found the lease alive (TTL 2) with only its keys from index 600 on: the revoke had deleted the first 600, in key order, and not yet removed the lease"},
	{"known-lease-keys-partly-gone-14758-recorded-v3.7.4", models.CheckLease, models.KnownIssue, "etcd issue 14758, recorded on v3.7.4 (lease-race seed 2, shrunk to the answer, the attach and the revoke): 1.5 s in, a TimeToLive asked as client 4's lease was revoked behind 3000 other keys found the lease alive (TTL 1) with its keys from index 324 on"},
	{"known-lease-keys-all-gone-14758-v3.7.4", models.CheckLease, models.KnownIssue, "the same with none of its extra keys left: the revoke had deleted them all and not yet removed the lease"},
	{"known-lease-alive-after-keys-gone-14758-v3.7.4", models.CheckLease, models.KnownIssue, "the same answer at the revision of the revoke's deletions (the answering member had applied it): both refusals of it are 14758"},
	{"illegal-lease-keys-partly-gone-no-revoke-v3.7.4", models.CheckLease, models.Violation, "the lease listed with only the tail of its keys and no revoke of it on record: not a revoke's deletions"},
	{"illegal-lease-keys-partly-gone-head-v3.7.4", models.CheckLease, models.Violation, "during a revoke, the lease listed with its first 400 keys: a revoke deletes in key order, so the first go first"},
	{"illegal-lease-keys-partly-gone-holes-v3.7.4", models.CheckLease, models.Violation, "during a revoke, 300 keys from index 600 of 1000: keys missing between them, not a tail"},
	{"illegal-lease-keys-partly-gone-expired-v3.7.4", models.CheckLease, models.Violation, "during a revoke, a TTL of 0 with a tail of the keys: an expired lease, not the positive TTL of 14758"},
	{"illegal-lease-keys-partly-gone-after-revoke-v3.7.4", models.CheckLease, models.Violation, "a tail of the keys for a TimeToLive asked after the revoke had completed: the lease was gone, not being revoked"},
	{"known-lease-early-expiry-15247-v3.5.12", models.CheckLease, models.KnownIssue, "etcd issue 15247 (PR 17425), recorded on v3.5.12 (stale-leader seed 1, shrunk): a leader paused past the lease TTL revoked, as it continued, a lease the new leader had just renewed"},
	{"known-lease-early-expiry-etcdchaos-1-disk-stall-v3.7.4", models.CheckLease, models.KnownIssue, "etcdchaos-1 after a leader's disk stall: the same history with the leader's disk stalled instead of its process paused (its raft loop stands still either way, its lessor stays primary)"},
	{"illegal-lease-early-expiry-follower-disk-stall-v3.7.4", models.CheckLease, models.Violation, "a follower's disk stall does not make a stale leader"},
	{"illegal-lease-early-expiry-renewed-before-leader-disk-stall-v3.7.4", models.CheckLease, models.Violation, "an early expiry after the leader's disk stall whose renewal came before the stall: the stalled leader's lessor had it renewed too, so no stale revoke explains it"},
	{"known-lease-early-expiry-etcdchaos-1-v3.7.3", models.CheckLease, models.KnownIssue, "etcdchaos-1, recorded on v3.7.3 (stale-leader seed 2, shrunk): 6 s after leader 3 continued from a pause (30.13 s), a revoke it queued behind its first 16 deleted a lease the new leader had renewed at 35.69 s"},
	{"known-lease-ttl-17506-v3.5.13", models.CheckLease, models.KnownIssue, "etcd issue 17506, recorded on v3.5.13 (lease-ttl seed 1): a TimeToLive answered 9223372036 s while members 2 and 3 elected a new leader"},
	{"known-lease-ttl-promote-etcdchaos-4-recorded-v3.7.4", models.CheckLease, models.KnownIssue, "etcdchaos-4, recorded on v3.7.4 (lease-race seed 3, shrunk to the answer and its fault): a TimeToLive sent to member 2 5 ms after leadership began to move to it answered 9223372036 s, 44 ms before the move returned"},
	{"known-lease-ttl-promote-forwarded-v3.7.4", models.CheckLease, models.KnownIssue, "etcdchaos-4 through a follower: sent to member 2 while leadership moved from 3 to 1, answered after the move returned (member 2 forwards it to the new leader, whose lessor answers)"},
	{"illegal-lease-ttl-forever-long-after-move-v3.7.4", models.CheckLease, models.Violation, "the same answer for a request sent 550 ms after the move returned, past an election timeout: the new leader had long been promoted"},
	{"illegal-lease-ttl-forever-move-failed-v3.7.4", models.CheckLease, models.Violation, "the same answer during a move-leader that recorded no end (it failed): nothing shows a new leader"},
	{"illegal-lease-ttl-forever-election-v3.7.4", models.CheckLease, models.Violation, "the same answer after the leader was killed: an election, not a move, and no bound on when its winner was promoted"},
	{"illegal-lease-ttl-near-forever-move-v3.7.4", models.CheckLease, models.Violation, "9223372035 s during a move: not the forever expiry of a lessor not yet promoted"},
	{"known-lock-stale-unlock-22082", models.CheckLock, models.KnownIssue, "etcd issue 22082 on the concurrency backend: client 1's retried unlock of its first hold deleted the key of its second, its lease lived on (a later key of it), and client 2 was granted the lock"},
	{"known-lock-stale-unlock-22082", models.CheckTruth, models.Ok, "every grant was of the oldest key: the server was consistent with itself"},
	{"known-lock-stale-unlock-etcdchaos-3-grpc", models.CheckLock, models.KnownIssue, "the same on the grpc backend: the v3lock service's Unlock is a plain delete by key (etcdchaos-3)"},
	{"illegal-lock-stale-unlock-fixed", models.CheckLock, models.Violation, "the same history from clients that ran the fix of 22082 cannot be that bug"},
	{"illegal-lock-stale-unlock-lease-not-proven", models.CheckLock, models.Violation, "nothing shows the lease outlived the deletion: its death could have deleted the key"},
	{"illegal-lock-stale-unlock-other-release", models.CheckLock, models.Violation, "another client's release was in flight when the key was deleted: the deletion is not provably the retry's"},
	{"illegal-lock-stale-unlock-no-truth", models.CheckLock, models.Violation, "without server truth nothing shows which delete took the key: an unlock of an earlier hold does not release the newer one"},
	{"legal-lock-retried-unlock-same-hold", models.CheckLock, models.Ok, "an unlock whose delete never landed, retried after the relock was granted the same hold: it releases that hold"},
	{"illegal-truth-stale-read", models.CheckTruth, models.Violation, "a leader read answered at revision 12 after the observer had seen revision 13 committed: a stale read, though the election model, which sees only e0, accepts it"},
	{"illegal-truth-stale-read", models.CheckElection, models.Ok, "the read's own name never changed after revision 12"},
	{"illegal-truth-stale-read-proven-by-answer", models.CheckTruth, models.Violation, "the same, revision 13 proven by an answer that returned before the read"},
	{"legal-truth-read-after-commit-seen-late", models.CheckTruth, models.Ok, "revision 13 was seen only after the read was invoked: it may have been committed after the read was served"},
	{"legal-truth-read-at-committed-revision", models.CheckTruth, models.Ok, "the read answered at the highest committed revision"},
	{"known-ghost-compacted-campaign-21128", models.CheckGhost, models.KnownIssue, "etcd issue 21128: a campaign returned the compaction error its wait got, and its key stayed and led until its client revoked its lease"},
	{"known-ghost-compacted-campaign-21128-grpc", models.CheckGhost, models.KnownIssue, "the same through the v3election service, which runs concurrency.Election: the key led until its lease expired"},
	{"illegal-ghost-compacted-campaign-fixed", models.CheckGhost, models.Violation, "the same history from clients that ran the fix of 21128, which deletes the key before Campaign returns, cannot be that bug"},
	{"illegal-ghost-lost-watcher", models.CheckGhost, models.Violation, "a campaign whose wait lost its watch left its key to lead: a ghost, but not 21128's compaction"},
	{"legal-ghost-campaign-deadline", models.CheckGhost, models.Ok, "a campaign that gave up on its own deadline leaves its key to its lease: a ghost leader in the figures, no finding"},
	{"legal-ghost-key-deleted-before-return-seen-after", models.CheckGhost, models.Ok, "the fix deleted the key before the campaign returned; the observer saw the delete after the return, which proves nothing: no ghost"},
	{"legal-ghost-compacted-key-gone-before-it-led", models.CheckGhost, models.Ok, "the compaction error's key went with its lease before the older key: it never led"},
}

func readTestdata(t testing.TB, name string) *history.History { return handwritten.Read(t, name) }

func findCheck(r models.Result, check string) (models.CheckResult, bool) {
	for _, c := range r.Checks {
		if c.Check == check {
			return c, true
		}
	}
	return models.CheckResult{}, false
}

func check(t testing.TB, h *history.History, opts models.Options) models.Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	res, err := Check(context.Background(), h, opts)
	require.NoError(t, err)
	return res
}

func TestHandWrittenHistories(t *testing.T) {
	for _, tc := range handWritten {
		t.Run(tc.file+"/"+tc.check, func(t *testing.T) {
			res := check(t, readTestdata(t, tc.file), models.Options{})
			c, ok := findCheck(res, tc.check)
			require.True(t, ok, "check %s not run; got %+v", tc.check, res.Checks)
			assert.Equal(t, tc.verdict, c.Verdict, "%s: %s (account: %s)", tc.file, tc.why, c.Account)
			switch tc.verdict {
			case models.Ok:
				assert.False(t, c.Fails)
				assert.Empty(t, c.Account)
			case models.Violation, models.UnsafeWithoutFencing, models.KnownIssue:
				assert.NotEmpty(t, c.Evidence, "a finding names its operations")
				assert.NotEmpty(t, c.Account)
				assert.NotZero(t, c.At)
				assert.NotEmpty(t, c.Findings, "a finding is listed")
			}
			if c.Verdict != c.Recorded {
				assert.Equal(t, models.Violation, c.Recorded, "classification only explains violations")
			}
			if c.Verdict != c.Recorded && c.Porcupine != nil {
				assert.NotEmpty(t, c.RecordedAccount, "the check's own account is kept")
				assert.NotEmpty(t, c.Withdrawn, "an explained porcupine violation names what it withdrew")
			}
			if strings.HasPrefix(tc.file, "legal") {
				for _, other := range res.Checks {
					assert.Contains(t, []models.Verdict{models.Ok, models.Empty}, other.Verdict, "%s %s: %s", other.Check, other.Name, other.Account)
				}
				assert.Equal(t, models.Ok, res.Verdict)
				assert.Equal(t, models.ExitOk, res.ExitCode)
			}
		})
	}
}

// The exit codes the issue behind the classification layer asks for, and
// those of the recorded real histories, as `etcdchaos check` gives them.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		file   string
		code   int
		strict int
	}{
		{"illegal-truth-two-leaders-self-resign", models.ExitViolation, models.ExitViolation},
		{"illegal-lease-early-expiry-no-stall-v3.7.3", models.ExitViolation, models.ExitViolation},
		{"illegal-lease-ttl-9000-no-stall-v3.4.0", models.ExitViolation, models.ExitViolation},
		{"illegal-truth-resign-retry-grpc", models.ExitViolation, models.ExitViolation},
		{"gap-truth-19597-and-undecided", models.ExitUnknown, models.ExitViolation},
		{"illegal-truth-phantom-campaign-unknown-version", models.ExitViolation, models.ExitViolation},
		{"known-truth-phantom-campaign", models.ExitOk, models.ExitViolation},
		{"known-truth-resign-retry", models.ExitOk, models.ExitViolation},
		{"known-election-campaign-after-revoke-fault", models.ExitOk, models.ExitViolation},
		{"known-lease-early-expiry-15247-v3.5.12", models.ExitOk, models.ExitViolation},
		{"known-lease-early-expiry-etcdchaos-1-v3.7.3", models.ExitOk, models.ExitViolation},
		{"known-lease-ttl-17506-v3.5.13", models.ExitOk, models.ExitViolation},
		{"known-lease-ttl-stale-leader-v3.7.3", models.ExitOk, models.ExitViolation},
		{"known-lease-ttl-promote-etcdchaos-4-recorded-v3.7.4", models.ExitOk, models.ExitViolation},
		{"unsafe-unfenced-pause", models.ExitOk, models.ExitViolation},
		{"known-lock-stale-unlock-22082", models.ExitOk, models.ExitViolation},
		{"known-lock-stale-unlock-etcdchaos-3-grpc", models.ExitOk, models.ExitViolation},
		{"illegal-lock-stale-unlock-fixed", models.ExitViolation, models.ExitViolation},
		{"known-ghost-compacted-campaign-21128", models.ExitOk, models.ExitViolation},
		{"illegal-ghost-compacted-campaign-fixed", models.ExitViolation, models.ExitViolation},
	} {
		t.Run(tc.file, func(t *testing.T) {
			h := readTestdata(t, tc.file)
			res := check(t, h, models.Options{})
			assert.Equal(t, tc.code, res.ExitCode, "%s: %s", res.Verdict, accounts(res))
			strict := check(t, h, models.Options{Strict: true})
			assert.Equal(t, tc.strict, strict.ExitCode, "strict: %s", accounts(strict))
		})
	}
}

func accounts(res models.Result) string {
	var b strings.Builder
	for _, c := range res.Checks {
		if c.Verdict != models.Ok && c.Verdict != models.Empty {
			b.WriteString("\n  " + c.Check + " " + c.Name + ": " + string(c.Verdict) + ": " + c.Account)
		}
	}
	return b.String()
}

// A known finding never hides an undecided claim: unknown ranks above a
// known issue, and the undecided count stays in the account.
func TestKnownDoesNotHideUndecided(t *testing.T) {
	res := check(t, readTestdata(t, "gap-truth-19597-and-undecided"), models.Options{})
	assert.Equal(t, models.Unknown, res.Verdict)
	var undecided int
	for _, c := range res.Checks {
		undecided += c.Undecided
	}
	assert.Equal(t, 1, undecided)
	require.Len(t, res.KnownIssues, 1)
	assert.Equal(t, "19597", res.KnownIssues[0].Issue.ID)
}

// The recorded real histories are known on their versions and nothing else:
// on a release with the fix the same finding is a violation, and so it is
// on a version no entry covers.
func TestRecordedLeaseBugs(t *testing.T) {
	for _, tc := range []struct {
		file, issue string
		also        []string // other versions on which it is the same bug
		otherwise   []string // versions on which the same history is a violation
	}{
		{"known-lease-early-expiry-15247-v3.5.12", "15247", []string{"3.4.30"}, []string{"3.5.13", "3.5.15"}},
		{"known-lease-early-expiry-etcdchaos-1-v3.7.3", "etcdchaos-1", []string{"3.7.4", "3.5.16", "3.6.17"}, []string{"3.5.15", "garbage"}},
		{"known-lease-early-expiry-stale-leader-v3.7.3", "etcdchaos-1", []string{"3.7.4"}, []string{"3.5.14", ""}},
		{"known-lease-ttl-17506-v3.5.13", "17506", []string{"3.5.12"}, []string{"3.5.14", "3.6.0"}},
		{"known-lease-ttl-stale-leader-v3.7.3", "etcdchaos-2", []string{"3.7.4", "3.5.15"}, []string{"unknown"}},
		{"known-lease-ttl-promote-etcdchaos-4-recorded-v3.7.4", "etcdchaos-4", []string{"3.5.14", "3.5.23", "3.6.17"}, []string{"3.4.40", "garbage"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			h := readTestdata(t, tc.file)
			res := check(t, h, models.Options{})
			require.NotEmpty(t, res.KnownIssues)
			for _, k := range res.KnownIssues {
				assert.Equal(t, tc.issue, k.Issue.ID)
			}
			recorded := h.Header.EtcdVersion
			for _, v := range tc.also {
				h.Header.EtcdVersion = v
				other := check(t, h, models.Options{})
				require.NotEmpty(t, other.KnownIssues, "on %q", v)
				assert.Equal(t, tc.issue, other.KnownIssues[0].Issue.ID, "on %q", v)
			}
			h.Header.EtcdVersion = recorded
			for _, v := range tc.otherwise {
				h.Header.EtcdVersion = v
				other := check(t, h, models.Options{})
				assert.Equal(t, models.ExitViolation, other.ExitCode, "on %q", v)
				assert.Empty(t, other.KnownIssues, "on %q", v)
			}
		})
	}
}

// Our own findings say they are ours: no upstream number, and a draft
// report to file.
func TestOwnFindingsAreNamedAsOurs(t *testing.T) {
	res := check(t, readTestdata(t, "known-lease-early-expiry-etcdchaos-1-v3.7.3"), models.Options{})
	require.NotEmpty(t, res.KnownIssues)
	i := res.KnownIssues[0].Issue
	assert.False(t, i.Upstream)
	assert.Equal(t, "docs/upstream/etcdchaos-1.md", i.Report)
	assert.Contains(t, i.Label(), "found by etcdchaos, not reported upstream")
	c, _ := findCheck(res, models.CheckLease)
	assert.True(t, strings.HasPrefix(c.Account, "etcd bug etcdchaos-1 (found by etcdchaos, not reported upstream)"), c.Account)
}

// Classification never rewrites what a check recorded: an explained
// violation keeps its recorded verdict and account, and the operations
// explained are exactly the known issue's claims.
func TestClassificationKeepsTheRecord(t *testing.T) {
	for _, tc := range []struct {
		file, recorded, issue string
		withdrawn             []int64
	}{
		{"known-election-campaign-after-revoke-fault", "with lease c8, which was already gone", "19597", []int64{2}},
		{"known-truth-resign-retry", "client 3 read the leader of e0", "22123", []int64{4}},
		{"known-lock-stale-unlock-22082", "client 2 was granted l0", "22082", []int64{5}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := check(t, readTestdata(t, tc.file), models.Options{})
			c, ok := findCheck(res, models.CheckElection)
			if !ok {
				c, ok = findCheck(res, models.CheckLock)
			}
			require.True(t, ok)
			assert.Equal(t, models.Violation, c.Recorded)
			assert.Contains(t, c.RecordedAccount, tc.recorded)
			assert.Equal(t, tc.withdrawn, c.Withdrawn, "the known issue's claims and nothing else")
			assert.Contains(t, c.Account, "known etcd issue "+tc.issue)
			require.Len(t, res.KnownIssues, 1, "one bug, counted once")
			assert.Equal(t, tc.issue, res.KnownIssues[0].Issue.ID)
		})
	}
}

// A violation the known finding does not explain stays a violation: the
// same 19597 history with a second, unrelated two-leaders moment later.
func TestKnownIssueExplainsOnlyItsOwnOperations(t *testing.T) {
	h := readTestdata(t, "known-truth-phantom-campaign")
	extra := []history.Event{
		{Type: history.TypeInvoke, Op: 20, Client: 7, F: history.FCampaign, Name: "e0", Time: 20_000_000_000, Value: &history.Value{Value: "x", Lease: 700}},
		{Type: history.TypeOk, Op: 20, Time: 20_010_000_000, Value: &history.Value{Key: "/x/election/e0/2bc", Rev: 30, Lease: 700}},
		{Type: history.TypeInvoke, Op: 21, Client: 8, F: history.FCampaign, Name: "e0", Time: 20_100_000_000, Value: &history.Value{Value: "y", Lease: 800}},
		{Type: history.TypeOk, Op: 21, Time: 20_110_000_000, Value: &history.Value{Key: "/x/election/e0/320", Rev: 31, Lease: 800}},
	}
	h.Events = append(h.Events, extra...)
	h.Header.ServerTruth = false // without truth: the second pair has nothing to explain it
	res := check(t, h, models.Options{})
	c, ok := findCheck(res, models.CheckElection)
	require.True(t, ok)
	assert.Equal(t, models.Violation, c.Verdict, c.Account)
	assert.Equal(t, models.ExitViolation, res.ExitCode)
}

func TestUnsafeWithoutFencingVerdicts(t *testing.T) {
	h := readTestdata(t, "unsafe-unfenced-pause")
	res := check(t, h, models.Options{})
	assert.Equal(t, models.UnsafeWithoutFencing, res.Verdict)
	assert.Equal(t, models.ExitOk, res.ExitCode, "explained hazard does not fail the run")
	assert.Equal(t, 3, res.Hazard.UnfencedWrites)
	assert.Positive(t, res.Hazard.Stale, "the figures agree with the finding")
	c, _ := findCheck(res, models.CheckUnfenced)
	assert.Contains(t, c.Account, "pause-client")

	strict := check(t, h, models.Options{Strict: true})
	c, _ = findCheck(strict, models.CheckUnfenced)
	assert.True(t, c.Fails)
	assert.Equal(t, models.ExitViolation, strict.ExitCode)

	unexplained := check(t, readTestdata(t, "illegal-unfenced-unexplained"), models.Options{})
	assert.Equal(t, models.Violation, unexplained.Verdict)
	assert.Equal(t, models.ExitViolation, unexplained.ExitCode)
	assert.Zero(t, unexplained.Hazard.Stale)
}

func TestFencedHazardCounts(t *testing.T) {
	res := check(t, readTestdata(t, "legal-fenced-writes"), models.Options{})
	assert.Equal(t, models.Hazard{FencedWrites: 6, FencedRejected: 1}, res.Hazard)
}

func TestEmptyAndExitCodes(t *testing.T) {
	h := &history.History{Header: history.Header{Format: history.Format}}
	res := check(t, h, models.Options{})
	assert.Equal(t, models.Empty, res.Verdict)
	assert.Empty(t, res.Checks)
	assert.Equal(t, models.ExitUnknown, res.ExitCode, "nothing checked is not ok")

	// Only failed fenced writes: the fenced check has nothing to look at.
	res = check(t, readTestdata(t, "legal-lock-unlock-waiter"), models.Options{})
	_, ok := findCheck(res, models.CheckUnfenced)
	assert.False(t, ok, "no unfenced writes, no unfenced check")
}

func TestCombineOrder(t *testing.T) {
	c := func(v models.Verdict, fails bool) models.CheckResult {
		return models.CheckResult{Verdict: v, Fails: fails}
	}
	for _, tc := range []struct {
		checks  []models.CheckResult
		verdict models.Verdict
		code    int
	}{
		{[]models.CheckResult{c(models.Ok, false), c(models.Violation, true), c(models.Unknown, true)}, models.Violation, models.ExitViolation},
		{[]models.CheckResult{c(models.KnownIssue, false), c(models.Unknown, true)}, models.Unknown, models.ExitUnknown},
		{[]models.CheckResult{c(models.KnownIssue, true), c(models.Unknown, true)}, models.KnownIssue, models.ExitViolation},
		{[]models.CheckResult{c(models.UnsafeWithoutFencing, false), c(models.KnownIssue, false)}, models.KnownIssue, models.ExitOk},
		{[]models.CheckResult{c(models.Ok, false), c(models.Empty, false)}, models.Ok, models.ExitOk},
		{[]models.CheckResult{c(models.Empty, false)}, models.Empty, models.ExitUnknown},
	} {
		v, code := Combine(tc.checks)
		assert.Equal(t, tc.verdict, v)
		assert.Equal(t, tc.code, code)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Check(ctx, readTestdata(t, "legal-lock-simple"), models.Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestEveryTestdataFileIsInTheTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(handwritten.Dir(), "*.jsonl"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, tc := range handWritten {
		seen[tc.file] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		assert.True(t, seen[name], "%s is in no table", name)
	}
}

// Porcupine may single out either side of one conflict. Whichever it
// names, classification finds the mechanism among the operations the
// violation involves, so a history is classified the same every time.
func TestMechanismWhicheverSideIsRefused(t *testing.T) {
	h := readTestdata(t, "known-election-campaign-after-revoke-fault")
	c := &classifier{h: h, ops: h.Operations(), known: map[string]map[int64]*models.IssueRef{}}
	for _, refused := range []int64{1, 2} {
		r := models.CheckResult{Check: models.CheckElection, Name: "e0", Recorded: models.Violation, Evidence: []int64{1, 2},
			Porcupine: &models.PorcupineRun{Refused: refused, Refusal: "held"}}
		f, issue, claims, ok := c.mechanismIn(r, map[int64]*models.IssueRef{})
		require.True(t, ok, "refused op %d", refused)
		assert.Equal(t, "19597", issue.ID)
		assert.Equal(t, []int64{2}, claims, "the waiter's campaign, whichever op was refused")
		assert.Equal(t, int64(2), f.Op)
	}
}

// The same for the documented hazard: whether porcupine refused the stale
// unfenced write or the write of the client that held the lock by then,
// the stale write is found among the operations the violation involves.
func TestHazardWhicheverSideIsRefused(t *testing.T) {
	h := readTestdata(t, "unsafe-unfenced-pause")
	c := &classifier{h: h, ops: h.Operations(), known: map[string]map[int64]*models.IssueRef{}}
	for _, refused := range []int64{5, 4} {
		r := models.CheckResult{Check: models.CheckUnfenced, Name: "l0", Recorded: models.Violation, Evidence: []int64{5, 4},
			Porcupine: &models.PorcupineRun{Refused: refused, Refusal: "not-owner"}}
		w, x, ok := c.explainedWrite(r)
		require.True(t, ok, "refused op %d", refused)
		assert.Equal(t, int64(5), w.ID, "the paused client's write, whichever op was refused")
		assert.NotEmpty(t, x.Account)
	}
	r := models.CheckResult{Check: models.CheckUnfenced, Name: "l0", Recorded: models.Violation, Evidence: []int64{4},
		Porcupine: &models.PorcupineRun{Refused: 4, Refusal: "not-owner"}}
	_, _, ok := c.explainedWrite(r)
	assert.False(t, ok, "the owner's own write is no stale write")
}
