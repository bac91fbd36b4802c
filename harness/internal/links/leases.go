package links

import (
	"context"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/lease/leasehttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
)

// Leases remembers which member each lease granted by a harness client
// belongs to: the member that client talks to, which is the member that
// forwards the lease's keep-alives to the leader.
type Leases struct {
	mu sync.Mutex
	m  map[int64]int
}

// NewLeases returns an empty table.
func NewLeases() *Leases { return &Leases{m: map[int64]int{}} }

func (t *Leases) record(id int64, member int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[id] = member
}

// Member returns the member of lease id, or 0 if the lease is unknown.
func (t *Leases) Member(id int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

// GrantInterceptor records the lease of every successful LeaseGrant made
// through a client connected to member.
func (t *Leases) GrantInterceptor(member int) grpc.UnaryClientInterceptor {
	return t.GrantInterceptorByPeer(func(string) int { return member })
}

// GrantInterceptorByPeer records the lease of every successful LeaseGrant
// of a client with several endpoints under the member its grant went to:
// memberAt names the member behind the address (host:port) the request was
// sent to ("" if gRPC did not say), 0 if none.
func (t *Leases) GrantInterceptorByPeer(memberAt func(addr string) int) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var to peer.Peer
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Peer(&to))...)
		if err == nil {
			addr := ""
			if to.Addr != nil {
				addr = to.Addr.String()
			}
			if resp, ok := reply.(*pb.LeaseGrantResponse); ok && resp.ID != 0 {
				if m := memberAt(addr); m != 0 {
					t.record(resp.ID, m)
				}
			}
		}
		return err
	}
}

// forwardedKeepAlive decodes the lease ID of a keep-alive that a follower
// forwards to the leader's peer URL. ok is false for other paths (including
// forwarded time-to-live queries, which any member may send about any lease)
// and for undecodable bodies.
func forwardedKeepAlive(path string, body []byte) (id int64, ok bool) {
	if path != leasehttp.LeasePrefix {
		return 0, false
	}
	var req pb.LeaseKeepAliveRequest
	if proto.Unmarshal(body, &req) != nil {
		return 0, false
	}
	return req.ID, true
}
