// Package faults is the nemesis: named scenarios, seeded fault schedules and
// the injectors that apply them to a harness cluster and its clients. Every
// fault is recorded in the history as it starts and ends, and every fault is
// healed, at its end and unconditionally when the nemesis stops.
package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdchaos/etcdchaos/history"
)

// healTimeout bounds healing, which runs even after the run's context ended.
const healTimeout = 30 * time.Second

// Nemesis applies a schedule to an environment and records each fault.
type Nemesis struct {
	env      *Env
	rec      *history.Recorder
	schedule Schedule
	logf     func(format string, args ...any)

	mu     sync.Mutex
	active *activeFault
	counts map[string]int
}

type activeFault struct {
	inj  *injection
	name string
}

// NewNemesis prepares a nemesis; logf receives one line per fault (may be nil).
func NewNemesis(env *Env, rec *history.Recorder, sch Schedule, logf func(string, ...any)) *Nemesis {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Nemesis{env: env, rec: rec, schedule: sch, logf: logf, counts: map[string]int{}}
}

// Run executes the schedule until it is done or ctx ends. Whatever happens,
// the fault in progress is healed before Run returns. Failures to inject a
// fault are logged and the schedule goes on; a failure to heal is returned.
func (n *Nemesis) Run(ctx context.Context) error {
	start := time.Now()
	for _, st := range n.schedule {
		if !sleepUntil(ctx, start.Add(st.At)) {
			break
		}
		if err := n.step(ctx, st); err != nil {
			return err
		}
	}
	return n.HealAll()
}

// step applies one fault, waits for its duration and heals it.
func (n *Nemesis) step(ctx context.Context, st Step) error {
	injector, ok := injectors[st.Injector]
	if !ok {
		n.logf("nemesis: %s skipped: no such injector", st.Injector)
		return nil
	}
	inj, err := injector.inject(ctx, n.env, st.Choice)
	if errors.Is(err, errNotApplicable) {
		n.logf("nemesis: %s skipped: not applicable", st.Injector)
		return nil
	}
	if err != nil {
		n.logf("nemesis: %s not started: %v", st.Injector, err)
		return nil
	}
	inj.event.Fault = injector.kind.Name
	ev := inj.event
	ev.Phase = history.PhaseStart
	if _, err := n.rec.Fault(ev); err != nil {
		return fmt.Errorf("record fault %s: %w", st.Injector, err)
	}
	n.setActive(&activeFault{inj: inj, name: st.Injector + ": " + ev.Detail})
	if err := inj.apply(ctx); err != nil {
		n.logf("nemesis: %s failed: %v", st.Injector, err)
		if injector.kind.OneShot {
			// Nothing to heal, and no end: nothing says it took effect.
			n.setActive(nil)
			return nil
		}
		return n.HealAll()
	}
	n.logf("nemesis: %s: %s", st.Injector, ev.Detail)
	n.mu.Lock()
	n.counts[st.Injector]++
	n.mu.Unlock()
	if injector.kind.OneShot {
		// It took effect by now: the end says so to the checkers.
		n.setActive(nil)
		if _, err := n.rec.Fault(endOf(ev)); err != nil {
			return fmt.Errorf("record fault %s: %w", st.Injector, err)
		}
		return nil
	}
	sleepUntil(ctx, time.Now().Add(st.For))
	return n.HealAll()
}

// endOf is the end event of a fault that started with ev: its kind and
// targets, which pair it with its start, and nothing only the start says.
func endOf(ev history.FaultEvent) history.FaultEvent {
	return history.FaultEvent{Fault: ev.Fault, Phase: history.PhaseEnd, Member: ev.Member, Target: ev.Target, Lease: ev.Lease}
}

// HealAll heals the fault in progress, if any, and records its end. It is
// safe to call at any time and more than once; it runs with its own timeout
// even if the run's context has ended.
func (n *Nemesis) HealAll() error {
	n.mu.Lock()
	a := n.active
	n.active = nil
	n.mu.Unlock()
	if a == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), healTimeout)
	defer cancel()
	var err error
	if a.inj.heal != nil {
		err = a.inj.heal(ctx)
	}
	if _, rerr := n.rec.Fault(endOf(a.inj.event)); rerr != nil && !errors.Is(rerr, history.ErrClosed) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("heal %s: %w", a.name, err)
	}
	return nil
}

// Active describes the fault in progress ("" when the cluster is healthy).
func (n *Nemesis) Active() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.active == nil {
		return ""
	}
	return n.active.name
}

// Applied returns how many faults of each injector were applied.
func (n *Nemesis) Applied() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]int, len(n.counts))
	for k, v := range n.counts {
		out[k] = v
	}
	return out
}

func (n *Nemesis) setActive(a *activeFault) {
	n.mu.Lock()
	n.active = a
	n.mu.Unlock()
}

// sleepUntil waits until t or ctx ends; it reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
