package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/harness/internal/links"
	"golang.org/x/sys/unix"
)

// Net is the network of a cluster whose members run in namespaces: one
// network namespace per member, each with a veth pair to a bridge in a hub namespace, all
// created by the harness and addressed from a private /24. Nothing is added
// to the harness's own namespace. Cut links are prohibit routes inside the
// members' namespaces, on both sides.
type Net struct {
	prefix string // namespace name prefix, unique per cluster
	subnet string // "10.a.b." of the cluster's /24
	n      int

	mu      sync.Mutex
	created []string        // namespaces to delete on close
	cut     map[[2]int]bool // pairs a<b with routes in place
}

// network names this network in errors, as the harness's Config.Network
// does.
const network = "network netns"

// nsCmdTimeout bounds each ip command.
const nsCmdTimeout = 10 * time.Second

// New creates the namespaces, bridge and veth pairs of an n-member
// cluster. On error everything created is deleted again.
func New(n int) (*Net, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%s: needs root (CAP_NET_ADMIN) to create network namespaces", network)
	}
	var rnd [5]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("%s: random suffix: %w", network, err)
	}
	nn := &Net{
		prefix: "ecx" + hex.EncodeToString(rnd[:3]),
		subnet: fmt.Sprintf("10.%d.%d.", rnd[3], rnd[4]),
		n:      n,
		cut:    map[[2]int]bool{},
	}
	if err := nn.setup(); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", network, err), nn.Close())
	}
	return nn, nil
}

// Prefix starts the name of every namespace of this network.
func (nn *Net) Prefix() string { return nn.prefix }

func (nn *Net) hub() string         { return nn.prefix + "-hub" }
func (nn *Net) ns(i int) string     { return fmt.Sprintf("%s-m%d", nn.prefix, i) }
func (nn *Net) Addr(i int) string   { return fmt.Sprintf("%s%d", nn.subnet, 10+i) }
func (nn *Net) nsPath(i int) string { return filepath.Join("/var/run/netns", nn.ns(i)) }

// Probe creates and deletes a namespace called name: it fails if this
// process cannot create network namespaces.
func Probe(name string) error {
	if err := runIP("netns", "add", name); err != nil {
		return err
	}
	return runIP("netns", "delete", name)
}

func (nn *Net) setup() error {
	if err := nn.addNs(nn.hub()); err != nil {
		return err
	}
	hub := nn.hub()
	cmds := [][]string{
		{"-n", hub, "link", "set", "lo", "up"},
		{"-n", hub, "link", "add", "br0", "type", "bridge"},
		{"-n", hub, "link", "set", "br0", "up"},
	}
	if err := runIPs(cmds); err != nil {
		return err
	}
	for i := 1; i <= nn.n; i++ {
		if err := nn.addMember(i); err != nil {
			return err
		}
	}
	return nil
}

// addMember creates member i's namespace and connects it to the bridge.
func (nn *Net) addMember(i int) error {
	ns, hub, veth := nn.ns(i), nn.hub(), fmt.Sprintf("v%d", i)
	if err := nn.addNs(ns); err != nil {
		return err
	}
	return runIPs([][]string{
		{"-n", hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", hub, "link", "set", veth, "master", "br0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", nn.Addr(i) + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	})
}

func (nn *Net) addNs(name string) error {
	if err := runIP("netns", "add", name); err != nil {
		return err
	}
	nn.mu.Lock()
	nn.created = append(nn.created, name)
	nn.mu.Unlock()
	return nil
}

// Close deletes every namespace the network created. It is idempotent.
func (nn *Net) Close() error {
	nn.mu.Lock()
	names := nn.created
	nn.created = nil
	nn.mu.Unlock()
	var errs []error
	for i := len(names) - 1; i >= 0; i-- {
		errs = append(errs, runIP("netns", "delete", names[i]))
	}
	return errors.Join(errs...)
}

// Sync makes the prohibit routes match the cut links (pairs a<b): a cut
// pair has a route to the other's address in both members' namespaces.
func (nn *Net) Sync(cut [][2]int) error {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	want := map[[2]int]bool{}
	for _, p := range cut {
		want[p] = true
	}
	var errs []error
	for p := range nn.cut {
		if !want[p] {
			errs = append(errs, nn.route("del", p))
			delete(nn.cut, p)
		}
	}
	for p := range want {
		if !nn.cut[p] {
			if err := nn.route("add", p); err != nil {
				errs = append(errs, err)
				continue
			}
			nn.cut[p] = true
		}
	}
	return errors.Join(errs...)
}

// route adds or deletes the prohibit routes of pair p on both sides.
func (nn *Net) route(op string, p [2]int) error {
	return runIPs([][]string{
		{"-n", nn.ns(p[0]), "route", op, "prohibit", nn.Addr(p[1]) + "/32"},
		{"-n", nn.ns(p[1]), "route", op, "prohibit", nn.Addr(p[0]) + "/32"},
	})
}

// Command returns the command that runs bin with args in member i's
// namespace. ip netns exec execs bin in place, so the process is bin
// itself and signals and the parent-death signal reach it.
func (nn *Net) Command(i int, bin string, args []string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nn.ns(i), bin}, args...)...)
}

// Dialer returns a dial function that creates its sockets in member i's
// namespace, so the harness reaches the member without any address in its
// own namespace.
func (nn *Net) Dialer(i int) links.DialFunc {
	path := nn.nsPath(i)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return dialInNs(ctx, path, addr)
	}
}

// dialInNs dials addr from a thread switched into the namespace at path,
// then switches the thread back. The thread must survive: the kernel sends
// a member its parent-death signal when the thread that forked it exits,
// and any thread may have forked one. Only if switching back fails is the
// thread left locked, so that the runtime discards it rather than run other
// goroutines in the wrong namespace.
func dialInNs(ctx context.Context, path, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		c, restored, err := dialSwitched(ctx, path, addr)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// dialSwitched runs on a locked thread: it enters the namespace at path,
// dials, and returns to the thread's own namespace (restored reports
// whether the thread is back in it).
func dialSwitched(ctx context.Context, path, addr string) (c net.Conn, restored bool, err error) {
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, fmt.Errorf("open own netns: %w", err)
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return nil, true, fmt.Errorf("open netns: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("setns %s: %w", path, err)
	}
	var d net.Dialer
	c, err = d.DialContext(ctx, "tcp", addr)
	restored = unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil
	return c, restored, err
}

func runIPs(cmds [][]string) error {
	for _, args := range cmds {
		if err := runIP(args...); err != nil {
			return err
		}
	}
	return nil
}

// runIP runs ip with args and returns its error output as the error.
func runIP(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), nsCmdTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
