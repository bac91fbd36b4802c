package links

import (
	"errors"
	"io"
	"sync"
	"time"
)

// errLinkClosed is returned by reads on a link that was shut down.
var errLinkClosed = errors.New("link closed")

// gate blocks data while paused. The zero value is open.
type gate struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed on resume; valid while paused
}

func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused = true
		g.resume = make(chan struct{})
	}
}

func (g *gate) unpause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

// wait blocks while the gate is paused; it returns false if stop closed first.
func (g *gate) wait(stop <-chan struct{}) bool {
	g.mu.Lock()
	paused, resume := g.paused, g.resume
	g.mu.Unlock()
	if !paused {
		return true
	}
	select {
	case <-resume:
		return true
	case <-stop:
		return false
	}
}

type chunk struct {
	b   []byte
	due time.Time
	err error
}

// delayReader reads src ahead in a pump goroutine and hands each chunk out
// no earlier than delay() after it was read, in order, and only while every
// gate is open. It models a link with latency that can be paused without
// dropping bytes.
type delayReader struct {
	src   io.ReadCloser
	delay func() time.Duration
	gates []*gate
	// deliver, if set, is asked before each Read hands out n bytes; if it
	// refuses, the reader fails with errLinkClosed.
	deliver func(n int) bool
	ch      chan chunk
	stop    chan struct{}
	once    sync.Once
	cur     []byte
	err     error
}

// newDelayReader starts the pump goroutine, tracked by wg. deliver may be
// nil.
func newDelayReader(src io.ReadCloser, delay func() time.Duration, deliver func(int) bool, wg *sync.WaitGroup, gates ...*gate) *delayReader {
	r := &delayReader{
		src:     src,
		delay:   delay,
		gates:   gates,
		deliver: deliver,
		ch:      make(chan chunk, 64),
		stop:    make(chan struct{}),
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.pump()
	}()
	return r
}

func (r *delayReader) pump() {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.src.Read(buf)
		if n > 0 {
			c := chunk{b: append([]byte(nil), buf[:n]...), due: time.Now().Add(r.delay())}
			if !r.send(c) {
				return
			}
		}
		if err != nil {
			r.send(chunk{err: err})
			return
		}
	}
}

func (r *delayReader) send(c chunk) bool {
	select {
	case r.ch <- c:
		return true
	case <-r.stop:
		return false
	}
}

// Read implements io.Reader.
func (r *delayReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if err := r.next(); err != nil {
			return 0, err
		}
		if len(r.cur) == 0 {
			return 0, r.err
		}
	}
	if r.deliver != nil && !r.deliver(min(len(p), len(r.cur))) {
		r.cur, r.err = nil, errLinkClosed
		return 0, r.err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// next waits for the next chunk to become due and makes it current.
func (r *delayReader) next() error {
	var c chunk
	select {
	case c = <-r.ch:
	case <-r.stop:
		return errLinkClosed
	}
	if wait := time.Until(c.due); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.stop:
			t.Stop()
			return errLinkClosed
		}
	}
	for _, g := range r.gates {
		if !g.wait(r.stop) {
			return errLinkClosed
		}
	}
	r.cur, r.err = c.b, c.err
	return nil
}

// Close stops the pump and closes src. It is safe to call more than once.
func (r *delayReader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.stop)
		err = r.src.Close()
	})
	return err
}
