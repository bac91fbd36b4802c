package harness

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"github.com/etcdchaos/etcdchaos/harness/internal/netns"
)

// network carries the traffic between a cluster's members and from the
// harness to them. It gives each member the peer URL it advertises, dials
// the members' listeners, and cuts, delays and heals the links between
// members, keeping the cluster's link table up to date.
type network interface {
	// addMember prepares member i's peer side; peerAddr gives the address
	// of the member's real peer listener while it runs. It returns the peer
	// URL that member i advertises.
	addMember(i int, peerAddr func() (string, error)) (peerURL string, err error)
	// serve starts carrying peer traffic once every member's ID is known
	// (ids maps member IDs to member numbers).
	serve(ids map[uint64]int)
	// dialer reaches member i's listeners.
	dialer(i int) links.DialFunc
	// partition, cutLink and setLatency change the links between members
	// (see Cluster.Partition, CutLink and SetLinkLatency).
	partition(groups [][]int) error
	cutLink(a, b int) error
	setLatency(from, to int, d time.Duration) error
	// heal restores every link between members and removes every latency.
	heal() error
	// stopped ends member i's live peer traffic once it is stopped.
	stopped(i int)
	// close releases everything the network holds.
	close() error
}

// proxyNetwork (NetworkProxy) routes each member's peer traffic through a
// peer proxy that enforces the link table.
type proxyNetwork struct {
	table  *links.Table
	leases *links.Leases
	peers  []*links.PeerProxy // peers[i-1] is member i's
}

func (n *proxyNetwork) addMember(i int, peerAddr func() (string, error)) (string, error) {
	p, err := links.NewPeerProxy(i, n.table, n.leases, peerAddr)
	if err != nil {
		return "", err
	}
	n.peers = append(n.peers, p)
	return p.URL(), nil
}

func (n *proxyNetwork) serve(ids map[uint64]int) {
	for _, p := range n.peers {
		p.SetSenders(ids)
		p.Serve()
	}
}

func (n *proxyNetwork) dialer(int) links.DialFunc { return links.DialTCP }

func (n *proxyNetwork) partition(groups [][]int) error { return n.table.Partition(groups) }
func (n *proxyNetwork) cutLink(a, b int) error         { return n.table.SetCut(a, b, true) }

func (n *proxyNetwork) setLatency(from, to int, d time.Duration) error {
	return n.table.SetLatency(from, to, d)
}

func (n *proxyNetwork) heal() error {
	n.table.Heal()
	return nil
}

func (n *proxyNetwork) stopped(i int) {
	if i >= 1 && i <= len(n.peers) {
		n.peers[i-1].AbortAll()
	}
}

func (n *proxyNetwork) close() error {
	var errs []error
	for _, p := range n.peers {
		errs = append(errs, ignoreClosed(p.Close()))
	}
	return errors.Join(errs...)
}

// netnsNetwork (NetworkNetns) runs each member in a network namespace of its
// own and makes the namespaces' routes match the link table.
type netnsNetwork struct {
	table *links.Table
	ns    *netns.Net
}

func (n *netnsNetwork) addMember(i int, _ func() (string, error)) (string, error) {
	return "http://" + net.JoinHostPort(n.ns.Addr(i), netns.PeerPort), nil
}

func (n *netnsNetwork) serve(map[uint64]int)        {}
func (n *netnsNetwork) dialer(i int) links.DialFunc { return n.ns.Dialer(i) }

func (n *netnsNetwork) partition(groups [][]int) error {
	if err := n.table.Partition(groups); err != nil {
		return err
	}
	return n.syncRoutes()
}

func (n *netnsNetwork) cutLink(a, b int) error {
	if err := n.table.SetCut(a, b, true); err != nil {
		return err
	}
	return n.syncRoutes()
}

func (n *netnsNetwork) setLatency(int, int, time.Duration) error {
	return fmt.Errorf("%w (network %s)", ErrNotSupported, NetworkNetns)
}

func (n *netnsNetwork) heal() error {
	n.table.Heal()
	return n.syncRoutes()
}

// syncRoutes makes the namespaces' routes match the cut links.
func (n *netnsNetwork) syncRoutes() error { return n.ns.Sync(n.table.CutLinks()) }

func (n *netnsNetwork) stopped(int)  {}
func (n *netnsNetwork) close() error { return n.ns.Close() }
