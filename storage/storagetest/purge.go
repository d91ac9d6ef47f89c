package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// The purge of expired rows, in batches.

func testPurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	past, future := base.Add(-time.Minute), base.Add(time.Hour)
	var expired, live []string
	for i := range 25 {
		name := fmt.Sprint("old-", i)
		r := newRequest(grant{id: name, accessExp: past, refreshExp: past})
		createAccess(t, s, ctx, sig(name), r)
		if i < 10 {
			createRefresh(t, s, ctx, sig(name), sig(name), r)
		}
		if i < 12 {
			if err := s.UseOnce(ctx, storage.KindAPT, "env", name, past); err != nil {
				t.Fatal(err)
			}
		}
		expired = append(expired, name)
	}
	for i := range 5 {
		name := fmt.Sprint("new-", i)
		r := newRequest(grant{id: name, accessExp: future, refreshExp: future})
		createAccess(t, s, ctx, sig(name), r)
		createRefresh(t, s, ctx, sig(name), sig(name), r)
		if err := s.UseOnce(ctx, storage.KindAPT, "env", name, future); err != nil {
			t.Fatal(err)
		}
		live = append(live, name)
	}
	// A used refresh token whose access token has expired stays until its
	// own expiry.
	used := newRequest(grant{id: "used", accessExp: past, refreshExp: future})
	createAccess(t, s, ctx, sig("used"), used)
	createRefresh(t, s, ctx, sig("used"), sig("used"), used)
	if err := s.RotateRefreshToken(ctx, "used", sig("used")); err != nil {
		t.Fatal(err)
	}

	n, err := s.PurgeExpired(ctx, base, 7) // a batch smaller than each table's count
	if err != nil {
		t.Fatal(err)
	}
	// +1: the used grant's expired access token (rotation leaves it to expire).
	if want := int64(25 + 10 + 12 + 1); n != want {
		t.Errorf("PurgeExpired deleted %d rows, want %d", n, want)
	}
	for _, name := range expired {
		wantNoAccess(t, s, sig(name))
		wantRefresh(t, s, sig(name), "missing")
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "old-0", future); err != nil {
		t.Errorf("a purged id is still recorded: %v", err)
	}
	for _, name := range live {
		wantAccess(t, s, sig(name))
		wantRefresh(t, s, sig(name), "active")
		wantErrIs(t, "UseOnce of a live id after the purge", s.UseOnce(ctx, storage.KindAPT, "env", name, future), storage.ErrAlreadyUsed)
	}
	wantRefresh(t, s, sig("used"), "inactive")

	n, err = s.PurgeExpired(ctx, base, 7)
	if err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0, nil", n, err)
	}
	// The default batch.
	n, err = s.PurgeExpired(ctx, future.Add(time.Second), 0)
	if err != nil || n != 5+5+5+1+1 {
		t.Errorf("PurgeExpired(batch 0) = %d, %v; want 17, nil", n, err)
	}
}
