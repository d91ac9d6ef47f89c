package accounts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterBound(t *testing.T) {
	l := newLimiter(3)
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := l.acquire(t.Context(), time.Minute); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			l.release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 3 {
		t.Fatalf("peak concurrency %d, want 3", p)
	}
}

func TestLimiterTimeoutAndCancel(t *testing.T) {
	ctx := t.Context()
	l := newLimiter(1)
	if err := l.acquire(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.acquire(ctx, 0); !errors.Is(err, ErrBusy) {
		t.Fatalf("acquire without waiting on a full limiter = %v, want ErrBusy", err)
	}
	began := time.Now()
	if err := l.acquire(ctx, 30*time.Millisecond); !errors.Is(err, ErrBusy) || time.Since(began) < 30*time.Millisecond {
		t.Fatalf("acquire = %v after %v, want ErrBusy after the timeout", err, time.Since(began))
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := l.acquire(cctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context = %v", err)
	}
	// Nobody who gave up is left in the queue, holding a future slot.
	l.release()
	if err := l.acquire(ctx, 0); err != nil {
		t.Fatalf("the slot was not free after the waiters gave up: %v", err)
	}
	l.release()
	if l.inUse != 0 || len(l.waiters) != 0 {
		t.Fatalf("inUse %d, waiters %d; want 0, 0", l.inUse, len(l.waiters))
	}
}

func TestLimiterFIFO(t *testing.T) {
	ctx := t.Context()
	l := newLimiter(1)
	if err := l.acquire(ctx, 0); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 3)
	for i := range 3 {
		go func() {
			if err := l.acquire(ctx, time.Minute); err != nil {
				t.Error(err)
				return
			}
			order <- i
			l.release()
		}()
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == i+1 })
	}
	l.release()
	for want := range 3 {
		if got := <-order; got != want {
			t.Fatalf("waiter %d went in position %d", got, want)
		}
	}
}

// TestLimiterResize: a config reload changes the bound while slots are held
// and callers wait.
func TestLimiterResize(t *testing.T) {
	ctx := t.Context()
	l := newLimiter(2)
	for range 2 {
		if err := l.acquire(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Lowering: the two running finish; a newcomer waits until fewer than
	// the new bound run.
	l.setMax(1)
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx, time.Minute) }()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == 1 })
	l.release()
	select {
	case err := <-got:
		t.Fatalf("admitted (%v) with 1 running and a bound of 1", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Raising: waiters are let in at once.
	go func() { got <- l.acquire(ctx, time.Minute) }()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == 1 })
	l.setMax(2)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("raising the bound did not admit the waiter")
	}
	l.setMax(0)
	if l.max != 1 {
		t.Errorf("setMax(0) made the bound %d, want 1", l.max)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
