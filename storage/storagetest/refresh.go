package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// Refresh tokens: inactive tokens, fosite's rotation, and the primitives of
// reuse detection and the grace period.

func testInactiveRefreshToken(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newRequest(grant{id: "req-1", subject: "user-7"})
	createRefresh(t, s, ctx, sig("rt"), sig("at"), want)
	if err := s.RevokeRefreshToken(ctx, "req-1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRefreshTokenSession(ctx, sig("rt"), &session{})
	wantErrIs(t, "GetRefreshTokenSession of a revoked token", err, fosite.ErrInactiveToken)
	checkRequest(t, got, want, fosite.RefreshToken) // fosite's reuse detection needs the request too
}

func testRotateRefreshToken(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	x := newRequest(grant{id: "req-x"})
	y := newRequest(grant{id: "req-y"})
	createAccess(t, s, ctx, sig("at-x"), x)
	createRefresh(t, s, ctx, sig("rt-x"), sig("at-x"), x)
	createAccess(t, s, ctx, sig("at-y"), y)
	createRefresh(t, s, ctx, sig("rt-y"), sig("at-y"), y)

	if err := s.RotateRefreshToken(ctx, "req-x", sig("rt-x")); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	wantRefresh(t, s, sig("rt-x"), "inactive")
	wantAccess(t, s, sig("at-x")) // SPEC §3: the previous access token stays valid until its exp
	wantRefresh(t, s, sig("rt-y"), "active")
	wantAccess(t, s, sig("at-y"))

	wantErrIs(t, "second rotation", s.RotateRefreshToken(ctx, "req-x", sig("rt-x")), fosite.ErrInactiveToken)
	wantErrIs(t, "rotation of an unknown token", s.RotateRefreshToken(ctx, "req-z", sig("rt-z")), fosite.ErrInactiveToken)

	// fosite's refresh flow: rotate, then store the new pair under the same
	// request id, in one transaction.
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RotateRefreshToken(txCtx, "req-y", sig("rt-y")); err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, txCtx, sig("at-y2"), y)
	createRefresh(t, s, txCtx, sig("rt-y2"), sig("at-y2"), y)
	if err := s.Commit(txCtx); err != nil {
		t.Fatal(err)
	}
	wantRefresh(t, s, sig("rt-y"), "inactive")
	wantAccess(t, s, sig("at-y"))
	wantRefresh(t, s, sig("rt-y2"), "active")
	wantAccess(t, s, sig("at-y2"))
}

// testConcurrentRotation: fosite reads the refresh token outside the
// transaction, so the rotation itself must let exactly one of many
// concurrent refreshes of one token through.
func testConcurrentRotation(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)

	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(ctx context.Context) error {
				if err := s.RotateRefreshToken(ctx, "req-1", sig("rt")); err != nil {
					return err
				}
				if err := s.CreateAccessTokenSession(ctx, sig(fmt.Sprint("at-new-", i)), r); err != nil {
					return err
				}
				return s.CreateRefreshTokenSession(ctx, sig(fmt.Sprint("rt-new-", i)), sig(fmt.Sprint("at-new-", i)), r)
			})
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			wantRefresh(t, s, sig(fmt.Sprint("rt-new-", i)), "active")
		case errors.Is(err, fosite.ErrInactiveToken):
			wantRefresh(t, s, sig(fmt.Sprint("rt-new-", i)), "missing")
		default:
			t.Errorf("rotation %d: %v, want nil or ErrInactiveToken", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent rotations succeeded, want exactly 1", winners, n)
	}
}

// testRefreshFamily: the primitives the refresh handler's reuse detection
// and grace period stand on.
func testRefreshFamily(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	g, other := newRequest(grant{id: "fam"}), newRequest(grant{id: "other"})
	createAccess(t, s, ctx, sig("fam-a1"), g)
	createRefresh(t, s, ctx, sig("fam-r1"), sig("fam-a1"), g)
	createAccess(t, s, ctx, sig("other-a"), other)
	createRefresh(t, s, ctx, sig("other-r"), sig("other-a"), other)

	if at, err := s.RefreshTokenUsedAt(ctx, sig("fam-r1")); err != nil || !at.IsZero() {
		t.Fatalf("used_at of an unused token = %v, %v; want zero", at, err)
	}
	wantErrIs(t, "used_at of an unknown token", func() error { _, err := s.RefreshTokenUsedAt(ctx, sig("nope")); return err }(), fosite.ErrNotFound)
	wantErrIs(t, "a row lock outside a transaction", s.LockRefreshToken(ctx, sig("fam-r1")), storage.ErrNoTransaction)

	// Rotate r1 and store its successor pair, as the refresh handler does.
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.LockRefreshToken(ctx, sig("fam-r1")); err != nil {
			return err
		}
		if err := s.RotateRefreshToken(ctx, "fam", sig("fam-r1")); err != nil {
			return err
		}
		if err := s.CreateAccessTokenSession(ctx, sig("fam-a2"), g); err != nil {
			return err
		}
		return s.CreateRefreshTokenSession(ctx, sig("fam-r2"), sig("fam-a2"), g)
	})
	if err != nil {
		t.Fatal(err)
	}
	if at, err := s.RefreshTokenUsedAt(ctx, sig("fam-r1")); err != nil || at.IsZero() {
		t.Fatalf("used_at after rotation = %v, %v; want set", at, err)
	}

	// The grace path ends the live pair (r2 and a2), nothing older.
	n, err := s.RevokeLiveRefreshTokens(ctx, "fam")
	if err != nil || n != 1 {
		t.Fatalf("RevokeLiveRefreshTokens = %d, %v; want 1", n, err)
	}
	wantRefresh(t, s, sig("fam-r2"), "inactive")
	wantNoAccess(t, s, sig("fam-a2"))
	wantAccess(t, s, sig("fam-a1"))
	if n, err := s.RevokeLiveRefreshTokens(ctx, "fam"); err != nil || n != 0 {
		t.Fatalf("a second RevokeLiveRefreshTokens = %d, %v; want 0 (no live token left)", n, err)
	}

	// Reuse revokes the whole grant, and only it.
	if err := s.RevokeGrant(ctx, "fam"); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("fam-a1"))
	wantRefresh(t, s, sig("fam-r1"), "inactive")
	wantAccess(t, s, sig("other-a"))
	wantRefresh(t, s, sig("other-r"), "active")
}

// testRevokeGrantFromUsedToken: reuse detection. A used (rotated) refresh
// token still gives its request, with ErrInactiveToken, so the caller
// learns the grant id; RevokeGrant then ends every token of that grant
// whatever its state — live, used or already revoked — and nothing of
// another grant. Used tokens keep their used_at.
func testRevokeGrantFromUsedToken(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	g, other := newRequest(grant{id: "reuse"}), newRequest(grant{id: "reuse-other"})
	createAccess(t, s, ctx, sig("reuse-a0"), g)
	createRefresh(t, s, ctx, sig("reuse-r0"), sig("reuse-a0"), g)
	createAccess(t, s, ctx, sig("reuse-other-a"), other)
	createRefresh(t, s, ctx, sig("reuse-other-r"), sig("reuse-other-a"), other)
	// r0 → r1 → r2, the handler's way; r2 is the live one.
	for i := range 2 {
		old, a, r := sig(fmt.Sprint("reuse-r", i)), sig(fmt.Sprint("reuse-a", i+1)), sig(fmt.Sprint("reuse-r", i+1))
		if err := s.RotateAndCreate(ctx, "reuse", old, a, r, g, ""); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	// A stray refresh token of the grant, revoked without being used.
	createRefresh(t, s, ctx, sig("reuse-stray"), "", g)
	if _, err := s.RevokeLiveRefreshTokens(ctx, "reuse"); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateAndCreate(ctx, "reuse", sig("reuse-r2"), sig("reuse-a3"), sig("reuse-r3"), g, ""); err == nil {
		t.Fatal("rotated a revoked token")
	}
	createAccess(t, s, ctx, sig("reuse-a3"), g)
	createRefresh(t, s, ctx, sig("reuse-r3"), sig("reuse-a3"), g) // live again

	// The used r0 is presented again.
	got, err := s.GetRefreshTokenSession(ctx, sig("reuse-r0"), &session{})
	wantErrIs(t, "GetRefreshTokenSession of a used token", err, fosite.ErrInactiveToken)
	checkRequest(t, got, g, fosite.RefreshToken)
	if err := s.RevokeGrant(ctx, got.GetID()); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	for i := range 4 {
		wantNoAccess(t, s, sig(fmt.Sprint("reuse-a", i)))
		wantRefresh(t, s, sig(fmt.Sprint("reuse-r", i)), "inactive") // kept for reuse detection
	}
	wantRefresh(t, s, sig("reuse-stray"), "inactive")
	for i, used := range []bool{true, true, false, false} {
		at, err := s.RefreshTokenUsedAt(ctx, sig(fmt.Sprint("reuse-r", i)))
		if err != nil || at.IsZero() == used {
			t.Errorf("used_at of r%d after RevokeGrant = %v, %v; want set %v", i, at, err, used)
		}
	}
	wantAccess(t, s, sig("reuse-other-a"))
	wantRefresh(t, s, sig("reuse-other-r"), "active")

	// Revoking a revoked grant again, or an unknown one, is not an error.
	if err := s.RevokeGrant(ctx, "reuse"); err != nil {
		t.Errorf("second RevokeGrant: %v", err)
	}
	if err := s.RevokeGrant(ctx, "nope"); err != nil {
		t.Errorf("RevokeGrant of an unknown grant: %v", err)
	}
	// In the caller's transaction, it joins it: rolled back, nothing ends.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.RevokeGrant(ctx, "reuse-other"); err != nil {
			return err
		}
		return boom
	})
	wantErrIs(t, "RevokeGrant in a rolled-back transaction", err, boom)
	wantAccess(t, s, sig("reuse-other-a"))
	wantRefresh(t, s, sig("reuse-other-r"), "active")
}
