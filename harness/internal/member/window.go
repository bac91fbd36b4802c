package member

import "google.golang.org/grpc"

// clientWindow is the flow-control window of every stream and connection
// of the harness's clients: large enough for the biggest answer a scenario
// asks for (a TimeToLive listing a thousand keys) in one go.
const clientWindow = 1 << 20

// StaticWindows are dial options that fix the clients' flow-control
// windows. With gRPC's default, a window sized by bandwidth-delay
// estimation, a client answers data with a window update and a ping that
// the other side acknowledges: about a fifth of the writes between the
// harness and etcd (each forwarded again by a proxy), for estimates that
// on loopback have nothing to find.
func StaticWindows() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithStaticStreamWindowSize(clientWindow),
		grpc.WithStaticConnWindowSize(clientWindow),
	}
}

// StaticServerWindows are the same fixed windows for an embedded member's
// gRPC server.
func StaticServerWindows() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.StaticStreamWindowSize(clientWindow),
		grpc.StaticConnWindowSize(clientWindow),
	}
}
