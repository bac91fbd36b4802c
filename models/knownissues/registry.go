package knownissues

import "github.com/etcdchaos/etcdchaos/models"

// registry holds every registered bug. The versions of the fixed lease bugs
// are from etcd's CHANGELOG-3.4 and -3.5; every 3.6 release and later has
// those fixes.
var registry = []Issue{
	{
		IssueRef: models.IssueRef{ID: "19597", Upstream: true,
			Title: "Campaign returns success after the campaigner's lease expired while it waited",
			URL:   "https://github.com/etcd-io/etcd/issues/19597",
			Mechanism: "the campaign's own key was deleted by its lease's death (a revoke or an expiry, which deleted every key of the lease at once) " +
				"before the campaign returned, while an older key still existed, and its own client did not release that key: " +
				"Campaign waits only for the older keys to go and never checks that its own key is still there"},
		State: "open", Since: "3.0.0", InConcurrency: true, shows: campaignOutlivedItsLease,
	},
	{
		IssueRef: models.IssueRef{ID: "22123", Upstream: true,
			Title: "a failed Resign forgets the leadership, so a retried Resign returns nil while the key stays",
			URL:   "https://github.com/etcd-io/etcd/issues/22123",
			Mechanism: "on the concurrency backend, a resign returned ok after an earlier resign of the same key by the same client did not succeed, " +
				"and the key still existed after it returned: concurrency.Election.Resign clears its leadership on an error, so the retry returns nil " +
				"without a request (the v3election service resumes from the request's key on every call, so the grpc backend cannot do this)"},
		State: "open", Since: "3.0.0", InConcurrency: true, shows: resignRetryForgotLeadership,
	},
	{
		IssueRef: models.IssueRef{ID: "22082", Upstream: true,
			Title:     "a stale Mutex.Unlock retry deletes a newer lock of the same session",
			URL:       "https://github.com/etcd-io/etcd/issues/22082",
			Mechanism: "on the concurrency backend, " + staleUnlockMechanism + ": concurrency.Mutex.Unlock deletes its key by name alone"},
		State: "open", Since: "3.0.0", InConcurrency: true, shows: unlockRetryDeletedNewerLock("concurrency"),
	},
	{
		IssueRef: models.IssueRef{ID: "21128", Upstream: true,
			Title: "a Campaign that fails with a compaction error leaves its key, which leads with nobody acting as leader",
			URL:   "https://github.com/etcd-io/etcd/issues/21128",
			Mechanism: "a campaign returned etcd's compaction error, which only its wait for the older keys returns (the watch it resumed or opened " +
				"from the revision it read was refused), and its key stayed with its live lease and became the oldest: concurrency.Election.Campaign " +
				"forgets its key on any error but its context's end, and only then resigns (the v3election service runs the same code)"},
		State: "open", Since: "3.0.0", InConcurrency: true, shows: campaignCompactionLeftKey,
	},
	{
		IssueRef: models.IssueRef{ID: "15247", Upstream: true,
			Title:     "a stalled old leader revokes leases that the new leader keeps alive (fixed by PR 16822, in 3.5 by PR 17425)",
			URL:       "https://github.com/etcd-io/etcd/issues/15247",
			Mechanism: staleLeaderMechanism},
		State: "fixed", Since: "3.0.0", Fixed: []string{"3.4.31", "3.5.13"}, shows: staleLeaderRevoked,
	},
	{
		IssueRef: models.IssueRef{ID: "17506", Upstream: true,
			Title: "LeaseTimeToLive returns a TTL near 9.2e9 s during a leader change",
			URL:   "https://github.com/etcd-io/etcd/issues/17506",
			Mechanism: "a LeaseTimeToLive answer of 9223372036 s, the remaining time of an expiry at math.MaxInt64 ns that a lessor which is not " +
				"primary gives every lease, while a fault that can move leadership was under way or had just healed"},
		State: "fixed", Since: "3.0.0", Fixed: []string{"3.4.32", "3.5.14"}, shows: nonPrimaryLessorTTL,
	},
	// The structure dates from etcd PR 4408 (3.0.0): Revoke deletes the
	// keys outside the lessor's lock, then removes the lease. Upstream the
	// issue was closed in 2023 as not reproduced; PR 21389 (closed, not
	// merged) refuses a renewal once Revoke has begun, but not Lookup,
	// which answers LeaseTimeToLive.
	{
		IssueRef: models.IssueRef{ID: "14758", Upstream: true,
			Title: "a lease being revoked stays alive while its keys are deleted: a renewal between the deletions and the lease's removal answers a positive TTL for a lease whose keys are gone",
			URL:   "https://github.com/etcd-io/etcd/issues/14758",
			Mechanism: "a LeaseTimeToLive answer found the lease alive (a TTL above 0) but listed only a tail of its extra keys in key order " +
				"(every key from some index on, or none), while a revoke of the lease that certainly completed was in flight " +
				"(the lease check refuses the answer for its missing keys, and, when its member had applied the revoke by then, for finding the lease alive after its keys were gone): " +
				"lessor.Revoke deletes a lease's keys one by one in key order before it removes the lease from the lessor's map, " +
				"and meanwhile the lessor answers for the lease, and renews it, as alive"},
		State: "open", Since: "3.0.0", shows: halfRevokedLease,
	},
	// Found by etcdchaos (scenario stale-leader) and proven etcd's with a
	// patched build (harness/etcdpatches); not reported upstream. On 3.5.13
	// to 3.5.15 the same mechanism is a regression of 15247. 3.4.34 got the
	// same change; this entry names only the lines tried.
	{
		IssueRef: models.IssueRef{ID: "etcdchaos-1",
			Title:     "a stale leader revokes leases again: since etcd PR 18428, ensureLeadership skips its check while the raft loop ticks, as it does at once when a stalled leader continues",
			URL:       "https://github.com/etcd-io/etcd/pull/18428",
			Report:    "docs/upstream/etcdchaos-1.md",
			Mechanism: staleLeaderMechanism},
		State: "open", Since: "3.5.16", shows: staleLeaderRevoked,
	},
	// Found by etcdchaos (scenarios stale-leader and member-pause, then
	// disk-stall: a leader whose disk stalled answers the same way) and
	// proven etcd's with a patched build; not reported upstream. PR 17642,
	// the fix of 17506, does not cover a leader that has not yet learned
	// it was deposed.
	{
		IssueRef: models.IssueRef{ID: "etcdchaos-2",
			Title:  "LeaseTimeToLive answered by a leader continued after a stall, before it learns of the newer term, reads its own stale lessor: TTLs below -1, for leases the new leader keeps alive or has revoked, directly and through followers",
			Report: "docs/upstream/etcdchaos-2.md",
			Mechanism: "a LeaseTimeToLive answer below -1 (an expiry the answering lessor counted seconds ago, which a primary lessor would have revoked) " +
				"for a request in flight when a member stalled as leader (paused, or its disk stalled) continued (sent to it, or forwarded to it by a follower), " +
				"or sent to that member within an election timeout after it continued, or, if its disk stalled, while it stalled"},
		State: "open", Since: "3.0.0", shows: staleLessorTTL,
	},
	// Found by etcdchaos (scenario stale-unlock on the grpc backend); not
	// reported upstream. The v3lock service's Unlock takes only the key, so
	// no client can fence it; the client-side fix is 22082's.
	{
		IssueRef: models.IssueRef{ID: "etcdchaos-3",
			Title:     "the v3lock service's Unlock deletes by key alone: a retried Unlock deletes a newer lock of the same lease",
			Report:    "docs/upstream/etcdchaos-3.md",
			Mechanism: "on the grpc backend, " + staleUnlockMechanism + ": the v3lock service's Unlock is a plain delete of the key it is given"},
		State: "open", Since: "3.2.0", ClientFix: 22082, shows: unlockRetryDeletedNewerLock("grpc"),
	},
	// Found by etcdchaos (scenario lease-race) and proven etcd's with a
	// patched build; not reported upstream. The check PR 17642 added (in
	// 3.4.32 and 3.5.14) catches a demotion during the lookup, not a
	// promotion; this entry names only the lines tried.
	{
		IssueRef: models.IssueRef{ID: "etcdchaos-4",
			Title:  "LeaseTimeToLive still returns 9223372036 s on a new leader: it reads the remaining time before its lessor is promoted and checks Demoted() after, which PR 17642's check does not catch",
			Report: "docs/upstream/etcdchaos-4.md",
			Mechanism: "a LeaseTimeToLive answer of 9223372036 s (the expiry forever that a lessor not yet promoted gives every lease), " +
				"on a release with 17506's fix, for a request in flight while a move-leader that completed handed leadership to its target, " +
				"or sent within an election timeout after the move returned: the new leader answers as soon as raft made it leader, " +
				"reads the remaining time before it has applied its term's first entry and called lessor.Promote, " +
				"and checks Demoted() after Promote ran"},
		State: "open", Since: "3.5.14", shows: promotedLessorTTL,
	},
}

// staleUnlockMechanism is the mechanism of 22082 and etcdchaos-3.
const staleUnlockMechanism = "a lock key held by its client (its lock returned ok at create revision R2) was deleted, " +
	"after the client retried an unlock of an earlier hold of the same key (R1 < R2) whose first attempt did not succeed, " +
	"while the key's lease lived on and nothing else could have deleted it (the client's own unlock of R2 came later, " +
	"no other client's release was in flight)"

// staleLeaderMechanism is the mechanism of 15247 and of its return,
// etcdchaos-1.
const staleLeaderMechanism = "a lease's keys were deleted by an expiry before the TTL a keep-alive renewed it for ran out; " +
	"that renewal was made after the member that was leader stalled (its process paused, or its disk stalled), and the deletion came after that member continued, " +
	"within the time the revokes it queued take to apply: the old leader, continued, revoked a lease the new leader kept alive"
