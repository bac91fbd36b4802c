package workloads

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// reorderElector is the observe-reorder mutant: its Observe holds each
// value back until the next one arrives and delivers the two swapped (a
// value still held when the stream ends is delivered last). Everything else
// is the base's.
type reorderElector struct{ Elector }

func newReorderElector(_ *clientv3.Client, base Elector) Elector {
	return &reorderElector{Elector: base}
}

func (e *reorderElector) Observe(ctx context.Context, name string) (<-chan LeaderInfo, error) {
	in, err := e.Elector.Observe(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make(chan LeaderInfo)
	go func() {
		defer close(out)
		send := func(v LeaderInfo) bool {
			select {
			case out <- v:
				return true
			case <-ctx.Done():
				for range in { // let the base stream finish
				}
				return false
			}
		}
		var held *LeaderInfo
		for v := range in {
			if held == nil {
				held = &v
				continue
			}
			if !send(v) || !send(*held) {
				return
			}
			held = nil
		}
		if held != nil {
			send(*held)
		}
	}()
	return out, nil
}

// Close closes the base Elector.
func (e *reorderElector) Close() error { return closeBase(e.Elector) }
