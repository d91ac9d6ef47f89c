package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// testRevokedTokens: a revocation recorded for a token without a row is
// seen at once by another replica, is idempotent, touches no other
// signature, rolls back with its transaction, and is purged only after the
// token's expiry.
func testRevokedTokens(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	s2 := openReplica(t, s)
	revoked := func(store *storage.Store, name string) bool {
		t.Helper()
		ok, err := store.TokenRevoked(ctx, sig(name))
		if err != nil {
			t.Fatalf("TokenRevoked(%s): %v", name, err)
		}
		return ok
	}
	if revoked(s, "live") {
		t.Fatal("a token never revoked reads as revoked")
	}
	future, past := base.Add(time.Hour), base.Add(-time.Minute)
	if err := s.RevokeTokenID(ctx, sig("live"), future); err != nil {
		t.Fatal(err)
	}
	if !revoked(s, "live") || !revoked(s2, "live") {
		t.Fatal("a revocation is not seen by both replicas at once")
	}
	if err := s2.RevokeTokenID(ctx, sig("live"), future); err != nil {
		t.Fatalf("revoking twice: %v, want no error", err)
	}
	if revoked(s2, "other") || revoked(s, strings.ToUpper(sig("live"))) {
		t.Fatal("a revocation matched another signature")
	}

	// A revocation in a transaction that rolls back leaves nothing.
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.RevokeTokenID(ctx, sig("rolled back"), future); err != nil {
			return err
		}
		if ok, err := s.TokenRevoked(ctx, sig("rolled back")); err != nil || !ok {
			t.Errorf("inside its transaction the revocation reads %v, %v; want true", ok, err)
		}
		return boom
	})
	if !errors.Is(err, boom) || revoked(s2, "rolled back") {
		t.Fatalf("rolled-back revocation: err %v, still revoked %v", err, revoked(s2, "rolled back"))
	}

	for _, bad := range []string{"", strings.Repeat("a", 65)} {
		if err := s.RevokeTokenID(ctx, bad, future); !errors.Is(err, storage.ErrInvalidInput) {
			t.Errorf("RevokeTokenID(%d bytes) = %v, want ErrInvalidInput", len(bad), err)
		}
		if _, err := s.TokenRevoked(ctx, bad); !errors.Is(err, storage.ErrInvalidInput) {
			t.Errorf("TokenRevoked(%d bytes) = %v, want ErrInvalidInput", len(bad), err)
		}
	}

	// The purge drops a revocation once its token has expired, not before.
	if err := s.RevokeTokenID(ctx, sig("expired"), past); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeExpired(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	if revoked(s, "expired") || !revoked(s, "live") {
		t.Fatalf("after the purge: expired %v (want false), live %v (want true)", revoked(s, "expired"), revoked(s, "live"))
	}
}
