package accounts

import (
	"context"
	"errors"
	"sync"
	"time"
)

// limiter bounds the argon2id computations running at once: each costs
// passwords.argon2id.memory for tens of milliseconds, so unbounded
// concurrency is an out-of-memory waiting to happen (DESIGN §4). Callers
// beyond the bound queue in arrival order for a limited time.
//
// The bound can change while callers hold and wait for slots (a config
// reload): raising it lets waiters in at once; lowering it lets the running
// computations finish and admits no one until fewer than the new bound run.
type limiter struct {
	mu      sync.Mutex
	max     int
	inUse   int
	waiters []*waiter // FIFO
}

type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // under mu
}

func newLimiter(max int) *limiter { return &limiter{max: max} }

// acquire takes a slot, waiting up to timeout (0: not at all) for one. It
// returns ErrBusy when the wait ran out, or ctx's error when ctx ended
// first. A nil return must be paired with release.
func (l *limiter) acquire(ctx context.Context, timeout time.Duration) error {
	l.mu.Lock()
	if l.inUse < l.max && len(l.waiters) == 0 {
		l.inUse++
		l.mu.Unlock()
		return nil
	}
	if timeout <= 0 {
		l.mu.Unlock()
		return ErrBusy
	}
	w := &waiter{ready: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		// Granted while giving up. A slot that came just in time is used; a
		// caller whose context ended hands it on.
		if errors.Is(err, ErrBusy) {
			return nil
		}
		l.inUse--
		l.grantLocked()
		return err
	}
	for i, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			break
		}
	}
	return err
}

// release gives a slot back and lets the next waiter in.
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse--
	l.grantLocked()
}

// setMax changes the bound (at least 1).
func (l *limiter) setMax(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max(n, 1)
	l.grantLocked()
}

func (l *limiter) grantLocked() {
	for l.inUse < l.max && len(l.waiters) > 0 {
		w := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		w.granted = true
		l.inUse++
		close(w.ready)
	}
}
