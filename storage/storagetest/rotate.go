package storagetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// RotateAndCreate: a refresh's rotation and its new pair in one step,
// group-committed on SQLite.

// testRotateAndCreate: a refresh's rotation and new pair in one step; of
// concurrent rotations of one token (group-committed on SQLite, some in one
// batch) exactly one wins, and only the winner's pair is stored.
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
			errs[i] = s.RotateAndCreate(ctx, "rc", sig("rc-r0"), sig(fmt.Sprint("rc-a", i+1)), sig(fmt.Sprint("rc-r", i+1)), g)
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
	wantErrIs(t, "rotating an unknown token", s.RotateAndCreate(ctx, "rc", sig("nope"), sig("x1"), sig("x2"), g), fosite.ErrInactiveToken)
}
