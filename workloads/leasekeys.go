package workloads

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdchaos/etcdchaos/history"
)

// A lease can carry extra keys (Config.LeaseKeys) beside its lock and
// campaign keys. etcd's lessor revokes a lease by deleting its keys one by
// one, in key order, and only then forgets the lease: the more keys, the
// longer a renewal or a TimeToLive meets the lease alive with its keys half
// gone (etcd issue 14758). A TimeToLive that lists the keys shows it.

// attachBatch is how many extra keys one txn puts: below etcd's default
// limit of operations per txn (--max-txn-ops, 128).
const attachBatch = 100

// MaxLeaseKeys bounds Config.LeaseKeys.
const MaxLeaseKeys = 10000

// LeaseKeysRoot is the prefix of every lease's extra keys: beside the
// workloads' key root (KeyRoot), not under it, so that the observer, which
// watches the root, is not sent thousands of events per revoke. Server
// truth needs only a lease's lock and campaign keys, which its death
// deletes at the same revision as the extra ones.
func (cfg Config) LeaseKeysRoot() string { return cfg.Prefix + "-lease-keys/" }

// leaseKeyPrefix is the prefix of the extra keys of one lease of a client:
// each lease has keys of its own, so that a lease granted later never takes
// over an older lease's keys.
func (cfg Config) leaseKeyPrefix(client int, lease clientv3.LeaseID) string {
	return fmt.Sprintf("%sc%d/%x/k", cfg.LeaseKeysRoot(), client, int64(lease))
}

// leaseKey is the i-th extra key of a lease, zero-padded so that etcd's key
// order is index order.
func (cfg Config) leaseKey(client int, lease clientv3.LeaseID, i int) string {
	return fmt.Sprintf("%s%05d", cfg.leaseKeyPrefix(client, lease), i)
}

// attachKeys puts the lease's extra keys with it, a batch per txn,
// recorded as one attach operation: ok once every key is put, fail when
// etcd refused the first batch because the lease does not exist (nothing
// was put), info otherwise (some keys may have been put). It reports
// whether every key was put.
func (c *Client) attachKeys(ctx context.Context, l *clientLease) bool {
	n := c.w.cfg.LeaseKeys
	if n == 0 {
		return true
	}
	op, _, ok := c.begin(history.FAttach, "", &history.Value{Lease: int64(l.id), Keys: history.Int64(int64(n))})
	if !ok {
		return false
	}
	var last *clientv3.TxnResponse
	for from := 0; from < n; from += attachBatch {
		puts := make([]clientv3.Op, 0, attachBatch)
		for i := from; i < min(n, from+attachBatch); i++ {
			puts = append(puts, clientv3.OpPut(c.w.cfg.leaseKey(c.id, l.id, i), "", clientv3.WithLease(l.id)))
		}
		tctx, cancel := c.opCtx(ctx, false)
		resp, err := c.conn.Txn(tctx).Then(puts...).Commit()
		cancel()
		if err != nil {
			if from > 0 {
				c.record(op, history.Info, nil, fmt.Sprintf("after %d of %d keys: %v", from, n, err))
				return false
			}
			return c.complete(op, fmt.Errorf("attach %d keys: %w", n, err), nil) == history.Ok
		}
		last = resp
	}
	return c.complete(op, nil, &history.Value{Lease: int64(l.id), HeaderRev: last.Header.Revision}) == history.Ok
}

// ttlOptions are the options of a TimeToLive about a lease: with its keys
// when it carries extra ones.
func (c *Client) ttlOptions() []clientv3.LeaseOption {
	if c.w.cfg.LeaseKeys == 0 {
		return nil
	}
	return []clientv3.LeaseOption{clientv3.WithAttachedKeys()}
}

// listed records, on a TimeToLive answer that found lease l, how many of
// l's extra keys it listed and the lowest index among them.
func (c *Client) listed(l *clientLease, resp *clientv3.LeaseTimeToLiveResponse, out *history.Value) {
	if c.w.cfg.LeaseKeys == 0 || resp == nil || out == nil || out.GrantedTTL == 0 {
		return
	}
	prefix := c.w.cfg.leaseKeyPrefix(c.id, l.id)
	var count, lowest int64 = 0, -1
	for _, k := range resp.Keys {
		s, ok := strings.CutPrefix(string(k), prefix)
		if !ok {
			continue
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		count++
		if lowest < 0 || i < lowest {
			lowest = i
		}
	}
	out.Keys = history.Int64(count)
	out.KeysFrom = max(lowest, 0)
}
