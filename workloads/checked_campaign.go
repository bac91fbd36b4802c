package workloads

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrCampaignKeyGone means Campaign returned, but the campaigner's key was
// already gone: it never led.
var ErrCampaignKeyGone = errors.New("campaign returned but its key is gone")

// CheckedCampaign wraps an Elector with the fix for etcd issue 19597
// (Campaign returns success after the campaigner's lease expired while it
// waited): after Campaign returns, a linearizable read must find the
// campaigner's key with the campaign's create revision, or the campaign
// fails with ErrCampaignKeyGone. A key that still exists after every older
// key was deleted is the oldest, so a campaign that passes the read led.
// Running the same seeds with and without it shows that a phantom
// leadership is etcd's, not the harness's.
func CheckedCampaign(base ElectorFactory) ElectorFactory {
	return func(cli *clientv3.Client) Elector { return &checkedElector{Elector: base(cli), cli: cli} }
}

type checkedElector struct {
	Elector
	cli *clientv3.Client
}

func (e *checkedElector) Campaign(ctx context.Context, name string, lease Lease, value string) (Leadership, error) {
	l, err := e.Elector.Campaign(ctx, name, lease, value)
	if err != nil {
		return l, err
	}
	resp, err := e.cli.Get(ctx, l.Key)
	switch {
	case err != nil:
		return Leadership{}, fmt.Errorf("checked campaign %s: read %s: %w", name, l.Key, err)
	case len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.Rev:
		return Leadership{}, fmt.Errorf("checked campaign %s: %s: %w", name, l.Key, ErrCampaignKeyGone)
	}
	return l, nil
}

// Close closes the base Elector.
func (e *checkedElector) Close() error { return closeBase(e.Elector) }
