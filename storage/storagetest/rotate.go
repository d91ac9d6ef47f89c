package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// RotateAndCreate: a refresh's rotation and its new pair in one step,
// group-committed.

// testRotateAndCreate: a refresh's rotation and new pair in one step; of
// concurrent rotations of one token (group-committed, some in one batch) exactly one wins, and only the winner's pair is stored.
func testRotateAndCreate(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	g := newRequest(grant{id: "rc"})
	createAccess(t, s, ctx, sig("rc-a0"), g)
	createRefresh(t, s, ctx, sig("rc-r0"), sig("rc-a0"), g)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RotateAndCreate(ctx, "rc", sig("rc-r0"), sig(fmt.Sprint("rc-a", i+1)), sig(fmt.Sprint("rc-r", i+1)), g, "")
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("rotations %d and %d both won", won, i)
		case err == nil:
			won = i
		default:
			wantErrIs(t, "a losing rotation", err, fosite.ErrInactiveToken)
		}
	}
	if won < 0 {
		t.Fatal("no rotation won")
	}
	wantRefresh(t, s, sig("rc-r0"), "inactive")
	wantAccess(t, s, sig("rc-a0")) // the previous access token stays until its exp
	for i := range n {
		if i == won {
			wantAccess(t, s, sig(fmt.Sprint("rc-a", i+1)))
			wantRefresh(t, s, sig(fmt.Sprint("rc-r", i+1)), "active")
			continue
		}
		wantNoAccess(t, s, sig(fmt.Sprint("rc-a", i+1)))
		_, err := s.GetRefreshTokenSession(ctx, sig(fmt.Sprint("rc-r", i+1)), nil)
		wantErrIs(t, "a loser's refresh token", err, fosite.ErrNotFound)
	}
	wantErrIs(t, "rotating an unknown token", s.RotateAndCreate(ctx, "rc", sig("nope"), sig("x1"), sig("x2"), g, ""), fosite.ErrInactiveToken)
}

// testRotateVersusDeactivation: a deactivation (SetUserStatus, then
// RevokeSubject, in one transaction, as accounts.SetStatus does) racing a
// refresh of the user's token. Whichever commits first, no new token of
// the user may be left active: either the rotation sees the user
// deactivated and writes nothing, or the revocation sees its new pair.
func testRotateVersusDeactivation(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const n = 50
	rotated, refused := 0, 0
	for i := range n {
		uid := fmt.Sprintf("usr_race%02d", i)
		createUser(t, s, newUser(uid, "rl_race", uid, ""))
		id := "race-" + uid
		g := newRequest(grant{id: id, subject: uid})
		createAccess(t, s, ctx, sig(id+"-a0"), g)
		createRefresh(t, s, ctx, sig(id+"-r0"), sig(id+"-a0"), g)

		// Offset the two by -180µs to +180µs in 15µs steps, so that both
		// orders and the overlaps between them are seen (on SQLite the
		// rotation queues for the group committer; on MySQL the window
		// where a revocation misses the new pair is a few statements
		// wide). A sleep is too coarse for this: each waits by spinning.
		offset := time.Duration(i%25-12) * 15 * time.Microsecond
		var rotDelay, deactDelay time.Duration
		if offset > 0 {
			deactDelay = offset
		} else {
			rotDelay = -offset
		}
		var rotErr, deactErr error
		start := make(chan struct{})
		var at time.Time
		wait := func(d time.Duration) {
			<-start
			for time.Since(at) < d {
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			wait(rotDelay)
			rotErr = s.RotateAndCreate(ctx, id, sig(id+"-r0"), sig(id+"-a1"), sig(id+"-r1"), g, uid)
		})
		wg.Go(func() {
			wait(deactDelay)
			deactErr = s.InTx(ctx, func(ctx context.Context) error {
				if err := s.SetUserStatus(ctx, "rl_race", uid, "deactivated", base); err != nil {
					return err
				}
				return s.RevokeSubject(ctx, uid)
			})
		})
		at = time.Now()
		close(start)
		wg.Wait()
		if deactErr != nil {
			t.Fatalf("iteration %d: deactivation: %v", i, deactErr)
		}
		switch {
		case rotErr == nil:
			rotated++
		case errors.Is(rotErr, storage.ErrUserInactive), errors.Is(rotErr, fosite.ErrInactiveToken):
			refused++ // the revocation also ended the presented token
		default:
			t.Fatalf("iteration %d: rotation: %v, want nil, ErrUserInactive or ErrInactiveToken", i, rotErr)
		}
		if _, err := s.GetAccessTokenSession(ctx, sig(id+"-a1"), nil); err == nil {
			t.Fatalf("iteration %d (rotation error %v): the new access token is active after the deactivation", i, rotErr)
		}
		if got := refreshState(t, s, sig(id+"-r1")); got == "active" {
			t.Fatalf("iteration %d (rotation error %v): the new refresh token is active after the deactivation", i, rotErr)
		}
		wantNoAccess(t, s, sig(id+"-a0"))
		wantRefresh(t, s, sig(id+"-r0"), "inactive")
	}
	t.Logf("%d rotations committed before the deactivation, %d refused after it", rotated, refused)
}

// testRotateAndCreateUserStatus: with a user id, a rotation checks the
// user's status in its own transaction; a user who is missing or not
// active gets ErrUserInactive and nothing is written — the presented token
// stays as it was. Concurrent rotations of different users' tokens
// (group-committed on SQLite, so some share a batch) each get their own
// user's outcome; a client token ("" user) is not checked.
func testRotateAndCreateUserStatus(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_On", "rl_rot", "on", ""))
	createUser(t, s, newUser("usr_Off", "rl_rot", "off", ""))
	if err := s.SetUserStatus(ctx, "rl_rot", "usr_Off", "deactivated", base); err != nil {
		t.Fatal(err)
	}
	// A status the store does not know is not active either.
	createUser(t, s, newUser("usr_Odd", "rl_rot", "odd", ""))
	if err := s.SetUserStatus(ctx, "rl_rot", "usr_Odd", "pending", base); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user   string
		wantOK bool
	}{
		{"usr_On", true},
		{"usr_Off", false},
		{"usr_Odd", false},
		{"usr_on", false}, // ids compare byte for byte: no such user
		{"usr_missing", false},
		{"", true}, // a client's token: no user to check
	}
	const copies = 4 // several rotations per user, so that a batch mixes outcomes
	type rot struct {
		user   string
		wantOK bool
		id     string
		err    error
	}
	var rots []*rot
	for _, c := range cases {
		for k := range copies {
			id := fmt.Sprintf("st-%s-%d", c.user, k)
			g := newRequest(grant{id: id, subject: c.user})
			createAccess(t, s, ctx, sig(id+"-a0"), g)
			createRefresh(t, s, ctx, sig(id+"-r0"), sig(id+"-a0"), g)
			rots = append(rots, &rot{user: c.user, wantOK: c.wantOK, id: id})
		}
	}
	var wg sync.WaitGroup
	for _, r := range rots {
		wg.Go(func() {
			g := newRequest(grant{id: r.id, subject: r.user})
			r.err = s.RotateAndCreate(ctx, r.id, sig(r.id+"-r0"), sig(r.id+"-a1"), sig(r.id+"-r1"), g, r.user)
		})
	}
	wg.Wait()
	for _, r := range rots {
		if r.wantOK {
			if r.err != nil {
				t.Errorf("rotation for user %q: %v", r.user, r.err)
				continue
			}
			wantRefresh(t, s, sig(r.id+"-r0"), "inactive")
			wantAccess(t, s, sig(r.id+"-a1"))
			wantRefresh(t, s, sig(r.id+"-r1"), "active")
			continue
		}
		if !errors.Is(r.err, storage.ErrUserInactive) {
			t.Errorf("rotation for user %q: error %v, want ErrUserInactive", r.user, r.err)
			continue
		}
		wantRefresh(t, s, sig(r.id+"-r0"), "active") // nothing written
		wantNoAccess(t, s, sig(r.id+"-a1"))
		wantRefresh(t, s, sig(r.id+"-r1"), "missing")
	}

	// Inside the caller's transaction, too, and the user is checked before
	// the token: a deactivated user's used token is ErrUserInactive.
	id := "st-usr_Off-0"
	err := s.InTx(ctx, func(ctx context.Context) error {
		return s.RotateAndCreate(ctx, id, sig(id+"-r0"), sig(id+"-a2"), sig(id+"-r2"), newRequest(grant{id: id, subject: "usr_Off"}), "usr_Off")
	})
	wantErrIs(t, "rotation in a transaction for a deactivated user", err, storage.ErrUserInactive)
	wantRefresh(t, s, sig(id+"-r0"), "active")
	id = "st-usr_On-0"
	err = s.InTx(ctx, func(ctx context.Context) error {
		return s.RotateAndCreate(ctx, id, sig(id+"-r1"), sig(id+"-a2"), sig(id+"-r2"), newRequest(grant{id: id, subject: "usr_On"}), "usr_On")
	})
	if err != nil {
		t.Fatalf("rotation in a transaction for an active user: %v", err)
	}
	wantRefresh(t, s, sig(id+"-r2"), "active")
	if err := s.SetUserStatus(ctx, "rl_rot", "usr_On", "deactivated", base); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "rotation of a used token for a deactivated user",
		s.RotateAndCreate(ctx, id, sig(id+"-r0"), sig(id+"-a3"), sig(id+"-r3"), newRequest(grant{id: id, subject: "usr_On"}), "usr_On"),
		storage.ErrUserInactive)

	wantErrIs(t, "a user id longer than the column",
		s.RotateAndCreate(ctx, id, sig(id+"-r2"), sig(id+"-a4"), sig(id+"-r4"), newRequest(grant{id: id}), "usr_"+strings.Repeat("x", 61)),
		storage.ErrInvalidInput)
	wantErrIs(t, "a user id of invalid UTF-8",
		s.RotateAndCreate(ctx, id, sig(id+"-r2"), sig(id+"-a4"), sig(id+"-r4"), newRequest(grant{id: id}), "usr_\xff"),
		storage.ErrInvalidInput)
	wantRefresh(t, s, sig(id+"-r2"), "active")
}

// testLockActiveUser: RotateAndCreate's check for other transactions that
// issue a user's tokens. Inside a transaction it passes for an active user
// and holds off a deactivation until the transaction ends.
func testLockActiveUser(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_Lock", "rl_lock", "lock", ""))
	createUser(t, s, newUser("usr_Gone", "rl_lock", "gone", ""))
	if err := s.SetUserStatus(ctx, "rl_lock", "usr_Gone", "deactivated", base); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "LockActiveUser outside a transaction", s.LockActiveUser(ctx, "usr_Lock"), storage.ErrNoTransaction)
	for user, want := range map[string]error{
		"usr_Gone":                       storage.ErrUserInactive,
		"usr_lock":                       storage.ErrUserInactive, // byte for byte
		"usr_missing":                    storage.ErrUserInactive,
		"":                               storage.ErrUserInactive,
		"usr_" + strings.Repeat("x", 61): storage.ErrInvalidInput,
	} {
		err := s.InTx(ctx, func(ctx context.Context) error { return s.LockActiveUser(ctx, user) })
		wantErrIs(t, fmt.Sprintf("LockActiveUser(%q)", user), err, want)
	}

	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Rollback(txCtx)
	if err := s.LockActiveUser(txCtx, "usr_Lock"); err != nil {
		t.Fatalf("LockActiveUser of an active user: %v", err)
	}
	deactivated := make(chan error, 1)
	go func() {
		deactivated <- s.InTx(ctx, func(ctx context.Context) error {
			if err := s.SetUserStatus(ctx, "rl_lock", "usr_Lock", "deactivated", base); err != nil {
				return err
			}
			return s.RevokeSubject(ctx, "usr_Lock")
		})
	}()
	select {
	case err := <-deactivated:
		t.Fatalf("a deactivation finished (%v) while a transaction held the user's lock", err)
	case <-time.After(100 * time.Millisecond):
	}
	g := newRequest(grant{id: "lock", subject: "usr_Lock"})
	createAccess(t, s, txCtx, sig("lock-a"), g)
	createRefresh(t, s, txCtx, sig("lock-r"), sig("lock-a"), g)
	if err := s.Commit(txCtx); err != nil {
		t.Fatal(err)
	}
	if err := <-deactivated; err != nil {
		t.Fatalf("deactivation: %v", err)
	}
	wantNoAccess(t, s, sig("lock-a"))
	wantRefresh(t, s, sig("lock-r"), "inactive")
}

// testRotationsAcrossReplicas: many tokens rotated at once, each several
// times, from two replicas whose batches hold several rotations: every
// token has exactly one winning rotation, and every loser is refused as
// inactive — no batch fails on another's locks (a deadlock would surface
// here as some other error).
func testRotationsAcrossReplicas(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	s2 := openReplica(t, s)
	const tokens, tries = 12, 4
	for i := range tokens {
		g := newRequest(grant{id: fmt.Sprint("rep-", i)})
		createRefresh(t, s, ctx, sig(fmt.Sprint("rep-r", i)), sig(fmt.Sprint("rep-a", i)), g)
	}
	type attempt struct{ token, try int }
	var attempts []attempt
	for i := range tokens {
		for j := range tries {
			attempts = append(attempts, attempt{i, j})
		}
	}
	rand.Shuffle(len(attempts), func(a, b int) { attempts[a], attempts[b] = attempts[b], attempts[a] })
	errs := make([]error, len(attempts))
	var wg sync.WaitGroup
	for k, a := range attempts {
		store := s
		if k%2 == 1 {
			store = s2
		}
		wg.Go(func() {
			name := fmt.Sprint("rep-", a.token, "-", a.try)
			errs[k] = store.RotateAndCreate(ctx, fmt.Sprint("rep-", a.token), sig(fmt.Sprint("rep-r", a.token)),
				sig(name+"-a"), sig(name+"-r"), newRequest(grant{id: fmt.Sprint("rep-", a.token)}), "")
		})
	}
	wg.Wait()
	wins := make([]int, tokens)
	for k, err := range errs {
		switch {
		case err == nil:
			wins[attempts[k].token]++
		case !errors.Is(err, fosite.ErrInactiveToken):
			t.Errorf("rotation %v: %v, want success or ErrInactiveToken", attempts[k], err)
		}
	}
	for i, n := range wins {
		if n != 1 {
			t.Errorf("token %d: %d winning rotations, want exactly 1", i, n)
		}
	}
}
