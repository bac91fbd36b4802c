//go:build linux

// Command repro starts three etcd processes, keeps leases alive through a
// follower, pauses the leader (SIGSTOP) past the leases' TTL, continues it
// (SIGCONT), and reports (1) keys deleted although their lease had been
// renewed within its TTL, and (2) LeaseTimeToLive answers below -1.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

var (
	etcdBin = flag.String("etcd", "etcd", "etcd binary")
	dir     = flag.String("dir", "", "data and log directory (default: a new temporary one)")
	rounds  = flag.Int("rounds", 3, "leader pauses")
	leases  = flag.Int("leases", 40, "leases (one key each) per round")
	ttl     = flag.Int64("ttl", 2, "lease TTL, seconds")
	pause   = flag.Duration("pause", 7*time.Second, "how long the leader is stopped")
	hb      = flag.Int("heartbeat-interval", 100, "etcd --heartbeat-interval, ms")
	et      = flag.Int("election-timeout", 1000, "etcd --election-timeout, ms")
)

type member struct {
	name, client string
	cmd          *exec.Cmd
	id           uint64
}

func start(i int, base string) *member {
	name := fmt.Sprintf("m%d", i)
	m := &member{name: name, client: fmt.Sprintf("http://127.0.0.1:%d", 22379+10*i)}
	cluster := ""
	for j := 1; j <= 3; j++ {
		if j > 1 {
			cluster += ","
		}
		cluster += fmt.Sprintf("m%d=http://127.0.0.1:%d", j, 22380+10*j)
	}
	peer := fmt.Sprintf("http://127.0.0.1:%d", 22380+10*i)
	logf, err := os.Create(filepath.Join(base, name+".log"))
	if err != nil {
		log.Fatal(err)
	}
	m.cmd = exec.Command(*etcdBin, "--name", name, "--data-dir", filepath.Join(base, name),
		"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", cluster, "--initial-cluster-state", "new", "--log-level", "debug",
		fmt.Sprintf("--heartbeat-interval=%d", *hb), fmt.Sprintf("--election-timeout=%d", *et))
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	// The members die with this program, whatever ends it.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return m
}

func client(ep string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// leader returns the index of the member every running member names leader.
func leader(ms []*member, cs []*clientv3.Client) int {
	for {
		lead, ok := uint64(0), true
		for i, c := range cs {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Status(ctx, ms[i].client)
			cancel()
			if err != nil || st.Leader == 0 || (lead != 0 && st.Leader != lead) {
				ok = false
				break
			}
			lead, ms[i].id = st.Leader, st.Header.MemberId
		}
		if ok {
			for i, m := range ms {
				if m.id == lead {
					return i
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func main() {
	flag.Parse()
	base := *dir
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "repro-"); err != nil {
			log.Fatal(err)
		}
	}
	var ms []*member
	for i := 1; i <= 3; i++ {
		ms = append(ms, start(i, base))
	}
	defer func() {
		for _, m := range ms {
			m.cmd.Process.Signal(syscall.SIGCONT)
			m.cmd.Process.Kill()
			m.cmd.Wait()
		}
	}()
	var cs []*clientv3.Client
	for _, m := range ms {
		cs = append(cs, client(m.client))
	}
	fmt.Printf("etcd %s, data and logs in %s\n", *etcdBin, base)
	totalEarly, totalStaleDirect, totalStaleFwd := 0, 0, 0
	for r := 1; r <= *rounds; r++ {
		l := leader(ms, cs)
		f := (l + 1) % 3 // the follower every client of this round talks to
		lc, fc := cs[l], cs[f]
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		validUntil := map[string]time.Time{} // key -> earliest expiry its last renewal promised
		ids := make([]clientv3.LeaseID, *leases)
		for i := range ids {
			g, err := fc.Grant(ctx, *ttl)
			if err != nil {
				log.Fatal(err)
			}
			ids[i] = g.ID
			k := fmt.Sprintf("/repro/%d/%x", r, g.ID)
			now := time.Now()
			if _, err := fc.Put(ctx, k, "v", clientv3.WithLease(g.ID)); err != nil {
				log.Fatal(err)
			}
			validUntil[k] = now.Add(time.Duration(*ttl) * time.Second)
		}
		// Keep every lease alive through the follower every 500 ms, each
		// renewal bounded by 400 ms (a renewal the follower forwards to the
		// stopped leader fails, and the next one reaches the new leader).
		for _, id := range ids {
			k := fmt.Sprintf("/repro/%d/%x", r, id)
			go func() {
				for ctx.Err() == nil {
					t := time.Now()
					kctx, kcancel := context.WithTimeout(ctx, 400*time.Millisecond)
					resp, err := fc.KeepAliveOnce(kctx, id)
					kcancel()
					if err == nil && resp.TTL > 0 {
						mu.Lock()
						if u := t.Add(time.Duration(resp.TTL) * time.Second); u.After(validUntil[k]) {
							validUntil[k] = u
						}
						mu.Unlock()
					}
					time.Sleep(time.Until(t.Add(500 * time.Millisecond)))
				}
			}()
		}
		// Deleted keys whose last renewal promised more time.
		early := 0
		wch := fc.Watch(ctx, fmt.Sprintf("/repro/%d/", r), clientv3.WithPrefix())
		go func() {
			for wr := range wch {
				for _, ev := range wr.Events {
					if ev.Type != clientv3.EventTypeDelete {
						continue
					}
					now := time.Now()
					mu.Lock()
					u := validUntil[string(ev.Kv.Key)]
					if u.After(now) {
						early++
						if early <= 2 {
							fmt.Printf("  early expiry: %s deleted at revision %d, %v before its renewed lease could expire\n",
								ev.Kv.Key, ev.Kv.ModRevision, u.Sub(now).Round(time.Millisecond))
						}
					}
					mu.Unlock()
				}
			}
		}()
		time.Sleep(3 * time.Second) // steady state
		var resumed time.Time
		staleDirect, staleFwd := 0, 0
		var pwg sync.WaitGroup
		probe := func(c *clientv3.Client, via string, id clientv3.LeaseID, counter *int) {
			defer pwg.Done()
			pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
			defer pcancel()
			resp, err := c.TimeToLive(pctx, id)
			if err == nil && resp.TTL < -1 {
				mu.Lock()
				*counter++
				if *counter <= 2 {
					fmt.Printf("  TimeToLive(%x) via %s = %d (granted %d), answered %v after SIGCONT\n",
						int64(id), via, resp.TTL, resp.GrantedTTL, time.Since(resumed).Round(time.Millisecond))
				}
				mu.Unlock()
			}
		}
		fmt.Printf("round %d: SIGSTOP leader %s for %v; leases kept alive through follower %s\n", r, ms[l].name, *pause, ms[f].name)
		ms[l].cmd.Process.Signal(syscall.SIGSTOP)
		stop := time.Now()
		// TimeToLive asked of the stopped leader directly, and through the
		// follower before it elects a new leader (it forwards to the old one).
		for _, id := range ids {
			pwg.Add(2)
			go probe(lc, ms[l].name+" (the stopped leader)", id, &staleDirect)
			go probe(fc, ms[f].name+" (a follower)", id, &staleFwd)
		}
		time.Sleep(time.Until(stop.Add(*pause)))
		mu.Lock()
		resumed = time.Now()
		mu.Unlock()
		ms[l].cmd.Process.Signal(syscall.SIGCONT)
		fmt.Printf("round %d: SIGCONT %s\n", r, ms[l].name)
		pwg.Wait()
		time.Sleep(8 * time.Second) // pending revokes wait up to the request timeout
		left := int64(-1)
		if g, err := fc.Get(ctx, fmt.Sprintf("/repro/%d/", r), clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil {
			left = g.Count
		}
		cancel()
		mu.Lock()
		fmt.Printf("round %d: early expiries %d; TimeToLive < -1: %d direct, %d forwarded; keys left %d of %d\n", r, early, staleDirect, staleFwd, left, *leases)
		totalEarly, totalStaleDirect, totalStaleFwd = totalEarly+early, totalStaleDirect+staleDirect, totalStaleFwd+staleFwd
		mu.Unlock()
	}
	fmt.Printf("total over %d rounds: early expiries %d; TimeToLive < -1: %d direct, %d forwarded\n",
		*rounds, totalEarly, totalStaleDirect, totalStaleFwd)
}
