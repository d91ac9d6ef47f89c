package storagetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Times: zones, the range of MySQL's DATETIME, microseconds; checked
// through the purge.

// expiryIs checks the stored expires_at of a token, through the purge: a row
// survives a purge of rows expired before its expiry, and goes with a purge
// a microsecond later. It deletes the row.
func expiryIs(t *testing.T, s *storage.Store, signature string, refresh bool, want time.Time) {
	t.Helper()
	ctx := t.Context()
	exists := func() bool {
		if refresh {
			return refreshState(t, s, signature) != "missing"
		}
		_, err := s.GetAccessTokenSession(ctx, signature, nil)
		return err == nil
	}
	if _, err := s.PurgeExpired(ctx, want, 100); err != nil {
		t.Fatal(err)
	}
	if !exists() {
		t.Fatalf("row %.8s… was purged as expired before %v: its expiry was stored earlier", signature, want)
	}
	if _, err := s.PurgeExpired(ctx, want.Add(time.Microsecond), 100); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Fatalf("row %.8s… survived a purge of rows expired before %v: its expiry was stored later", signature, want.Add(time.Microsecond))
	}
}

// testTimeZones writes times in zones other than UTC and wants the same
// instants back, in UTC, whatever the zone of the server or the process.
func testTimeZones(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	west := time.FixedZone("UTC-07", -7*3600)
	requested := time.Date(2031, 3, 4, 5, 6, 7, 123456000, east)
	accessExp := time.Date(2031, 3, 4, 1, 6, 7, 654321000, west)
	refreshExp := time.Date(2031, 4, 4, 23, 30, 0, 1000, east)
	r := newRequest(grant{id: "req-1", requestedAt: requested, accessExp: accessExp, refreshExp: refreshExp})
	createAccess(t, s, ctx, sig("at"), r)
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)

	got := wantAccess(t, s, sig("at"))
	checkTime(t, "access RequestedAt", got.GetRequestedAt(), requested)
	got, err := s.GetRefreshTokenSession(ctx, sig("rt"), &session{})
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "refresh RequestedAt", got.GetRequestedAt(), requested)

	expiryIs(t, s, sig("at"), false, accessExp)
	expiryIs(t, s, sig("rt"), true, refreshExp)

	// used_ids.expires_at likewise.
	exp := time.Date(2031, 3, 4, 5, 6, 7, 0, east)
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "jti-1", exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeExpired(ctx, exp, 100); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "UseOnce after a purge up to its expiry", s.UseOnce(ctx, storage.KindAPT, "env", "jti-1", exp), storage.ErrAlreadyUsed)
	if _, err := s.PurgeExpired(ctx, exp.Add(time.Microsecond), 100); err != nil {
		t.Fatal(err)
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "jti-1", exp); err != nil {
		t.Errorf("UseOnce after a purge past its expiry: %v", err)
	}
}

// testExtremeTimes: MySQL's DATETIME holds years 1000 to 9999 and refuses
// zero dates. The zero time is stored as NULL ("unset") and read back as the
// zero time; times outside the range are clamped to it, which keeps every
// comparison with the present as it was.
func testExtremeTimes(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	farFuture := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	nearEpoch := time.Unix(1, 0)
	minDB := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		requested time.Time
		want      time.Time
	}{
		{"far future", farFuture, farFuture},
		{"near the Unix epoch", nearEpoch, nearEpoch},
		{"year 1000", minDB, minDB},
		{"zero", time.Time{}, time.Time{}},
		{"just after the zero time", time.Time{}.Add(time.Second), minDB},
		{"after year 9999", time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), farFuture},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(grant{id: "req-" + tc.name})
			r.RequestedAt = tc.requested
			createAccess(t, s, ctx, sig(tc.name), r)
			checkTime(t, "RequestedAt", wantAccess(t, s, sig(tc.name)).GetRequestedAt(), tc.want)
		})
	}

	// Expiries: far future is kept, near-zero ones are expired, none (zero)
	// is never purged.
	for name, exp := range map[string]time.Time{
		"exp far future": farFuture,
		"exp near epoch": nearEpoch,
		"exp year 1":     time.Time{}.Add(time.Second),
	} {
		r := newRequest(grant{id: name, accessExp: exp, refreshExp: exp})
		createAccess(t, s, ctx, sig(name), r)
		createRefresh(t, s, ctx, sig(name), "", r)
		if err := s.UseOnce(ctx, storage.KindServiceToken, "svc", name, exp); err != nil {
			t.Fatalf("UseOnce(%s): %v", name, err)
		}
	}
	noExp := newRequest(grant{id: "no-exp"})
	noExp.Session.(*session).ExpiresAt = nil
	createAccess(t, s, ctx, sig("no-exp"), noExp)
	createRefresh(t, s, ctx, sig("no-exp"), "", noExp)

	n, err := s.PurgeExpired(ctx, base, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("purged %d rows, want 6 (near-epoch and year-1 expiries in three tables)", n)
	}
	for _, name := range []string{"exp far future", "no-exp"} {
		wantAccess(t, s, sig(name))
		wantRefresh(t, s, sig(name), "active")
	}
	for _, name := range []string{"exp near epoch", "exp year 1"} {
		wantNoAccess(t, s, sig(name))
		wantRefresh(t, s, sig(name), "missing")
	}
	if _, err := s.PurgeExpired(ctx, farFuture, 10); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("no-exp"))
	wantRefresh(t, s, sig("no-exp"), "active")
}

// testSubMicrosecondTimes: both backends keep microseconds and truncate the
// rest, the same way.
func testSubMicrosecondTimes(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	at := time.Date(2031, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	r := newRequest(grant{id: "req-1", requestedAt: at, accessExp: at})
	createAccess(t, s, ctx, sig("at"), r)
	checkTime(t, "RequestedAt", wantAccess(t, s, sig("at")).GetRequestedAt(), at.Truncate(time.Microsecond))
	expiryIs(t, s, sig("at"), false, at.Truncate(time.Microsecond))
}
