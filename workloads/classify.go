package workloads

import (
	"errors"

	"github.com/etcdchaos/etcdchaos/history"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/status"
)

// classify maps an operation's error to its outcome. fail is only for errors
// that prove the operation had no effect: a false guard (reported by the
// caller), TryLock finding the lock held, a proclaim by a non-leader, or a
// request rejected because its lease does not exist (a txn that writes with
// a missing lease does nothing). Everything else — timeouts,
// cancellations, unavailable members, lost connections, unknown errors —
// is info.
func classify(err error) history.Outcome {
	switch {
	case err == nil:
		return history.Ok
	case errors.Is(err, ErrLocked), errors.Is(err, ErrNotLeader), leaseNotFound(err):
		return history.Fail
	default:
		return history.Info
	}
}

// leaseNotFound reports whether err is etcd's "requested lease not found",
// directly or as the message of a service that passed it on.
func leaseNotFound(err error) bool {
	if errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if st, ok := status.FromError(e); ok && st.Message() == rpctypes.ErrLeaseNotFound.Error() {
			return true
		}
	}
	return false
}
