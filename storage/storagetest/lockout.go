package storagetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// The lockout primitive (SPEC §3), run by RunConformance on every backend.

// lockoutState reads the slots taken for (realm, login) at now.
func lockoutState(t *testing.T, s *storage.Store, login string, max int, now time.Time) (int, time.Time) {
	t.Helper()
	n, until, err := s.LoginFailures(t.Context(), "rl_a", login, max, now)
	if err != nil {
		t.Fatalf("LoginFailures: %v", err)
	}
	return n, until
}

func reserve(t *testing.T, s *storage.Store, login string, max int, window time.Duration, now time.Time) bool {
	t.Helper()
	ok, err := s.ReserveLoginAttempt(t.Context(), "rl_a", login, max, window, now)
	if err != nil {
		t.Fatalf("ReserveLoginAttempt: %v", err)
	}
	return ok
}

// testLoginLockout: the lockout primitive, step by step (SPEC §3).
func testLoginLockout(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const max, window = 3, 15 * time.Minute
	t0 := base

	// Three slots within the window, then locked; refused attempts neither
	// count nor extend the lock.
	for i := range max {
		if !reserve(t, s, "sally", max, window, t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("reservation %d refused", i+1)
		}
	}
	lockedAt := t0.Add(2 * time.Minute) // the failure that set the lock
	if n, until := lockoutState(t, s, "sally", max, lockedAt); n != max || !until.Equal(lockedAt.Add(window)) {
		t.Fatalf("after %d failures: %d slots, locked until %v; want %d, %v", max, n, until, max, lockedAt.Add(window))
	}
	for _, at := range []time.Duration{3 * time.Minute, 10 * time.Minute, 2*time.Minute + window - time.Microsecond} {
		if reserve(t, s, "sally", max, window, t0.Add(at)) {
			t.Fatalf("reservation at +%v while locked succeeded", at)
		}
	}
	if _, until := lockoutState(t, s, "sally", max, lockedAt); !until.Equal(lockedAt.Add(window)) {
		t.Fatalf("refused attempts moved the lock to %v", until)
	}
	// Other logins and realms are not affected; logins compare byte for byte.
	if !reserve(t, s, "Sally", max, window, t0.Add(3*time.Minute)) {
		t.Error("another login is locked too")
	}
	if ok, err := s.ReserveLoginAttempt(ctx, "rl_b", "sally", max, window, t0.Add(3*time.Minute)); err != nil || !ok {
		t.Errorf("another realm's login is locked too: %v %v", ok, err)
	}
	// The lock ends a window after the failure that set it: a new count.
	end := lockedAt.Add(window)
	if !reserve(t, s, "sally", max, window, end) {
		t.Fatal("reservation when the lock ended was refused")
	}
	if n, until := lockoutState(t, s, "sally", max, end); n != 1 || !until.IsZero() {
		t.Fatalf("after the lock: %d slots, locked until %v; want 1, none", n, until)
	}

	// A counting window that passes without a lock starts again.
	t1 := end.Add(time.Hour)
	for i := range max - 1 {
		reserve(t, s, "bob", max, window, t1.Add(time.Duration(i)*time.Minute))
	}
	if !reserve(t, s, "bob", max, window, t1.Add(window)) {
		t.Fatal("reservation after the counting window was refused")
	}
	if n, _ := lockoutState(t, s, "bob", max, t1.Add(window)); n != 1 {
		t.Fatalf("after the counting window: %d slots, want 1 (a new count)", n)
	}

	// Release gives one slot back; Clear frees them all.
	t2 := t1.Add(time.Hour)
	for range max {
		reserve(t, s, "carol", max, window, t2)
	}
	if reserve(t, s, "carol", max, window, t2) {
		t.Fatal("not locked after max reservations")
	}
	if err := s.ReleaseLoginAttempt(ctx, "rl_a", "carol"); err != nil {
		t.Fatal(err)
	}
	if !reserve(t, s, "carol", max, window, t2) {
		t.Fatal("a released slot could not be taken again")
	}
	if reserve(t, s, "carol", max, window, t2) {
		t.Fatal("more slots than the maximum after a release")
	}
	if err := s.ClearLoginAttempts(ctx, "rl_a", "carol"); err != nil {
		t.Fatal(err)
	}
	if n, _ := lockoutState(t, s, "carol", max, t2); n != 0 {
		t.Fatalf("%d slots after Clear", n)
	}
	if !reserve(t, s, "carol", max, window, t2) {
		t.Fatal("reservation after Clear refused")
	}
	for name, err := range map[string]error{
		"Release of nothing": s.ReleaseLoginAttempt(ctx, "rl_a", "nobody"),
		"Clear of nothing":   s.ClearLoginAttempts(ctx, "rl_a", "nobody"),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// max 1: the first failure locks.
	if !reserve(t, s, "dave", 1, window, t2) || reserve(t, s, "dave", 1, window, t2.Add(time.Minute)) {
		t.Fatal("max 1: want the first reservation only")
	}

	// Purge removes stale rows only.
	n, err := s.PurgeLoginAttempts(ctx, t2.Add(window), 2)
	if err != nil {
		t.Fatal(err)
	}
	// sally, Sally and bob of rl_a and sally of rl_b expired before
	// t2+window; carol and dave expire at it.
	if n != 4 {
		t.Errorf("PurgeLoginAttempts deleted %d rows, want 4", n)
	}
	if c, _ := lockoutState(t, s, "carol", max, t2); c != 1 {
		t.Errorf("the purge removed a live row: carol has %d slots", c)
	}

	for name, err := range map[string]error{
		"empty login": func() error { _, err := s.ReserveLoginAttempt(ctx, "rl_a", "", max, window, t0); return err }(),
		"long login": func() error {
			_, err := s.ReserveLoginAttempt(ctx, "rl_a", strings.Repeat("x", 256), max, window, t0)
			return err
		}(),
		"max 0":    func() error { _, err := s.ReserveLoginAttempt(ctx, "rl_a", "x", 0, window, t0); return err }(),
		"window 0": func() error { _, err := s.ReserveLoginAttempt(ctx, "rl_a", "x", max, 0, t0); return err }(),
	} {
		wantErrIs(t, name, err, storage.ErrInvalidInput)
	}
}

// testLoginLockoutConcurrent: parallel reservations, as from several
// replicas, never take more than the maximum.
func testLoginLockoutConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const n, max = 20, 5
	for round, login := range []string{"fresh", "stale"} {
		if login == "stale" {
			// A locked row whose lock has ended: every attempt sees it stale.
			for range max {
				reserve(t, s, login, max, time.Minute, base.Add(-time.Hour))
			}
		}
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = s.ReserveLoginAttempt(ctx, "rl_a", login, max, time.Minute, base)
			})
		}
		wg.Wait()
		got := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("round %d: reservation %d: %v", round, i, errs[i])
			}
			if results[i] {
				got++
			}
		}
		if got != max {
			t.Errorf("%s: %d of %d concurrent reservations succeeded, want exactly %d", login, got, n, max)
		}
		if c, _ := lockoutState(t, s, login, max, base); c != max {
			t.Errorf("%s: %d slots stored, want %d", login, c, max)
		}
	}

	// Reservations meeting successful logins and the purge on the same
	// rows: no error (no deadlock, on InnoDB) reaches the caller.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 60 {
		login := fmt.Sprint("mixed-", i%3)
		wg.Go(func() {
			var err error
			switch i % 6 {
			case 0:
				err = s.ClearLoginAttempts(ctx, "rl_a", login)
			case 1:
				if i == 1 { // one purger, as one replica runs
					_, err = s.PurgeLoginAttempts(ctx, base.Add(time.Hour), 10)
				}
			case 2:
				err = s.ReleaseLoginAttempt(ctx, "rl_a", login)
			default:
				_, err = s.ReserveLoginAttempt(ctx, "rl_a", login, max, time.Minute, base)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("mixed lockout operations: %v", err)
	}
}
