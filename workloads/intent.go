package workloads

import (
	"math/rand/v2"
	"time"
)

// Intent is what a client decided, from its seeded random source, to do in
// one cycle: one lock, critical section and unlock; one campaign, term and
// resign; or one leader read. A seed reproduces every client's sequence of
// intents whatever the cluster does; the operations recorded follow from the
// intents and the outcomes (a failed lock skips its critical section).
type Intent struct {
	// Name indexes the cycle's lock or election name (l<Name>, e<Name>).
	Name int
	// Try makes the lock a TryLock (when the Locker supports it).
	Try bool
	// Fenced says, for each write of the critical section, whether it is
	// fenced. Its length is also the number of proclaims of a term.
	Fenced []bool
	// Think is the pause before each operation of the cycle, in order; the
	// last is the hold before the unlock or resign.
	Think []time.Duration
}

// chooser draws a client's intents.
type chooser struct {
	rng *rand.Rand
	cfg Config
}

func newChooser(cfg Config, client int) *chooser {
	return &chooser{rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(client))), cfg: cfg}
}

// next draws one intent. It always draws the same amount of randomness, so
// that the sequence does not depend on the client's role or outcomes.
func (ch *chooser) next() Intent {
	cfg := ch.cfg
	in := Intent{Fenced: make([]bool, cfg.Writes), Think: make([]time.Duration, cfg.Writes+2)}
	in.Name = ch.rng.IntN(max(cfg.Names, 1))
	in.Try = ch.rng.Float64() < cfg.TryLock
	for i := range in.Fenced {
		in.Fenced[i] = ch.rng.Float64() >= cfg.Unfenced
	}
	for i := range in.Think {
		if cfg.MaxThink > 0 {
			in.Think[i] = time.Duration(ch.rng.Int64N(int64(cfg.MaxThink) + 1))
		}
	}
	if cfg.LongHold > 0 { // drawn only then, so that other configs keep their sequences
		long, extra := ch.rng.Float64() < cfg.LongHold, time.Duration(ch.rng.Int64N(int64(cfg.HoldFor/2)+1))
		if long {
			in.Think[len(in.Think)-1] = cfg.HoldFor + extra
		}
	}
	return in
}

// Plan returns the first n intents of the client with the given id (1-based)
// under cfg: exactly what that client draws in a run with the same config.
func Plan(cfg Config, client, n int) ([]Intent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ch := newChooser(cfg, client)
	out := make([]Intent, n)
	for i := range out {
		out[i] = ch.next()
	}
	return out, nil
}
