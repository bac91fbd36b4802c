// Package harness runs an etcd cluster inside the test process with a
// network layer that the harness controls: every member-to-member link can be
// cut (in both directions) or delayed on its own, and every client has its
// own link to its member that can be cut, paused or delayed.
//
// Layout of one member i:
//
//	clients --(client link, one TCP proxy per Client)-+
//	direct  --(front door, Endpoints()[i-1])----------+--> etcd client listener
//	peers   --(peer proxy, advertised peer URL)---------> etcd peer listener
//
// The real etcd listeners use private ports; every address that others see
// (advertised peer and client URLs, client links) belongs to a harness
// listener held for the cluster's lifetime, so a restarted member keeps its
// identity and URLs. Members are numbered 1..N, clients 1, 2, ...
//
// # Peer links
//
// rafthttp streams carry messages in the direction opposite to the dial, so
// blocking a member's port cannot cut one link alone. Instead each request
// reaching a member's peer proxy is attributed to its sender (rafthttp's
// X-Server-From header) and refused if the pair is cut; live requests are
// aborted when their pair is cut. Both directions of a pair pass through one
// of the two members' proxies, so a pair is cut both ways while all other
// pairs keep working. Lease keep-alives that a follower forwards to the
// leader carry no sender header: they are attributed to the member whose
// harness client granted the lease (a gRPC interceptor on every Client
// records LeaseGrant responses). Unattributed requests pass (see links.PeerProxy).
//
// # Modes
//
// Config.Mode chooses how members run. ModeEmbedded (the default) runs them
// inside this process. ModeProcess runs each as an etcd process (Config.
// EtcdBin, see FindEtcd) behind the same peer and client links, logging to
// etcd.log in its data directory; it adds PauseMember (SIGSTOP/SIGCONT) and
// makes Kill a SIGKILL. Processes live in their own process group, get
// SIGKILL from the kernel if the harness dies (Linux), and are always
// reaped by Kill and Close. ModeExternal attaches to a cluster the harness
// did not start (Config.Endpoints): clients still get links of their own, so
// client faults work, while member faults return ErrNotSupported.
//
// # Network namespaces
//
// With Config.Network NetworkNetns (ModeProcess, root only) there are no
// peer proxies: each member process runs in a network namespace of its own
// (named ecx<random>-mN), listens and advertises on its address in a private
// /24, and reaches the others through veth pairs on a bridge in a hub
// namespace (ecx<random>-hub). Partition and CutLink add prohibit routes in
// both members' namespaces; Heal removes them. The harness adds nothing to
// its own namespace: front doors and client links dial members from a
// thread switched into the member's namespace, so client faults work as
// usual. Link latency returns ErrNotSupported and LinkBytes stays 0. Close
// deletes every namespace, also after a failed Start.
//
// # Stallable disks
//
// With Config.StallableDisks (ModeProcess, Linux, FUSE) each member's data
// directory is a FUSE mount served by the harness (internal/diskstall) over
// a backing directory beside it. StallDisk holds the member's writes,
// fsyncs and file creations until UnstallDisk, Heal, Kill or Close, while
// its network and its reads go on. Close moves the data back in place of
// the mount; a run killed before Close leaves a dead mount that the next
// Start unmounts with the run's data directory.
//
// # Known limits
//
//   - Leases granted by other clients (e.g. Dial) are not attributed, so
//     their forwarded keep-alives cross partitions; so do forwarded
//     LeaseTimeToLive queries.
//   - Members run with unsafe-no-fsync: a killed member loses nothing because
//     the process (and its page cache) survives, not because of fsync.
//     Members with stallable disks do fsync, so that a stall bites where a
//     real disk's does; the harness answers those fsyncs without a flush.
package harness
