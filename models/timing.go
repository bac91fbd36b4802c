package models

import (
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// Timing is what a history says about the cluster's clocks, from which
// checks and classification derive their bounds.
type Timing struct {
	// LeaseTTL is the TTL clients grant their leases with.
	LeaseTTL time.Duration
	// ElectionTimeout is the members' election timeout: the header's, or
	// etcd's default when the history does not say.
	ElectionTimeout time.Duration
	// RequestTimeout is how long an etcd member lets a proposal it made
	// wait to be applied (etcd's ReqTimeout: 5 s plus two election
	// timeouts), such as a revoke of an expired lease.
	RequestTimeout time.Duration
}

// etcd's defaults, for histories that do not record their own.
const (
	defaultElectionTimeout = time.Second
	defaultLeaseTTL        = 2 * time.Second
)

// TimingOf reads a history header's timing.
func TimingOf(hd history.Header) Timing {
	t := Timing{LeaseTTL: time.Duration(hd.LeaseTTLMs) * time.Millisecond,
		ElectionTimeout: time.Duration(hd.ElectionTimeoutMs) * time.Millisecond}
	if t.LeaseTTL <= 0 {
		t.LeaseTTL = defaultLeaseTTL
	}
	if t.ElectionTimeout <= 0 {
		t.ElectionTimeout = defaultElectionTimeout
	}
	t.RequestTimeout = 5*time.Second + 2*t.ElectionTimeout
	return t
}
