package storagetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// testBrowserSignIn is the storage of browser sign-in, on one store: each
// part names its rows after itself.
func testBrowserSignIn(t *testing.T, s *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *storage.Store)
	}{
		{"AuthorizeCodes", testAuthorizeCodes},
		{"LoginRequests", testLoginRequests},
		{"BrowserSessions", testBrowserSessions},
		{"BrowserSessionAMR", testBrowserSessionAMR},
		{"BrowserPurge", testBrowserPurge},
		{"Consents", testConsents},
		{"SessionGrants", testSessionGrants},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// Pending login requests and browser sessions: round trips by the hash of
// the browser's value, a request finished exactly once (under concurrency,
// never after its expiry), sessions touched and ended.

func testLoginRequests(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := &storage.LoginRequest{IDHash: sig("req"), CSRFHash: sig("csrf"), ClientID: "spa",
		Form: "client_id=spa&state=x", CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute)}
	if err := s.CreateLoginRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetLoginRequest(ctx, sig("req"))
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, base.Truncate(time.Microsecond))
	checkTime(t, "ExpiresAt", got.ExpiresAt, r.ExpiresAt.Truncate(time.Microsecond))
	got.CreatedAt, got.ExpiresAt = r.CreatedAt.Truncate(time.Microsecond), r.ExpiresAt.Truncate(time.Microsecond)
	want := *r
	want.CreatedAt, want.ExpiresAt = got.CreatedAt, got.ExpiresAt
	if *got != want {
		t.Fatalf("GetLoginRequest = %+v, want %+v", got, want)
	}
	_, err = s.GetLoginRequest(ctx, sig("REQ"))
	wantErrIs(t, "an unknown request", err, storage.ErrNotFound)
	wantErrIs(t, "the same id twice", s.CreateLoginRequest(ctx, r), storage.ErrAlreadyExists)

	// Finished exactly once, even by concurrent posts.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.FinishLoginRequest(ctx, sig("req"), base)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrAlreadyUsed) && !storage.IsRetryable(err):
			t.Errorf("FinishLoginRequest: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent finishes succeeded, want 1", won)
	}
	if got, _ := s.GetLoginRequest(ctx, sig("req")); got == nil || !got.Done {
		t.Fatalf("finished request = %+v, want done", got)
	}
	// An expired request cannot be finished; an unknown one neither.
	r2 := *r
	r2.IDHash = sig("req-2")
	if err := s.CreateLoginRequest(ctx, &r2); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "finishing an expired request", s.FinishLoginRequest(ctx, sig("req-2"), r2.ExpiresAt), storage.ErrAlreadyUsed)
	wantErrIs(t, "finishing an unknown request", s.FinishLoginRequest(ctx, sig("nope"), base), storage.ErrAlreadyUsed)
}

func testBrowserSessions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	b := &storage.BrowserSession{IDHash: sig("cookie"), SID: "sid-1", Realm: "rl_a", UserID: "usr_1", Username: "Ünïcode",
		AuthTime: base, LastSeen: base, ExpiresAt: base.Add(24 * time.Hour)}
	if err := s.CreateBrowserSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBrowserSession(ctx, sig("cookie"))
	if err != nil {
		t.Fatal(err)
	}
	if got.SID != "sid-1" || got.Realm != "rl_a" || got.UserID != "usr_1" || got.Username != "Ünïcode" || got.UserStatus != "" {
		t.Fatalf("GetBrowserSession = %+v", got)
	}
	checkTime(t, "AuthTime", got.AuthTime, base.Truncate(time.Microsecond))
	checkTime(t, "ExpiresAt", got.ExpiresAt, b.ExpiresAt.Truncate(time.Microsecond))
	// With its user: the user's status comes with the session, in one read.
	createUser(t, s, newUser("usr_b1", "rl_a", "bee", ""))
	b2 := *b
	b2.IDHash, b2.UserID = sig("cookie-2"), "usr_b1"
	if err := s.CreateBrowserSession(ctx, &b2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBrowserSession(ctx, sig("cookie-2")); err != nil || got.UserStatus != "active" {
		t.Fatalf("session of an active user: %+v, %v", got, err)
	}
	if err := s.SetUserStatus(ctx, "rl_a", "usr_b1", "deactivated", base); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetBrowserSession(ctx, sig("cookie-2")); got == nil || got.UserStatus != "deactivated" {
		t.Fatalf("session of a deactivated user: %+v", got)
	}
	later := base.Add(time.Hour)
	if err := s.TouchBrowserSession(ctx, sig("cookie"), later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetBrowserSession(ctx, sig("cookie")); got == nil || !got.LastSeen.Equal(later.Truncate(time.Microsecond)) {
		t.Fatalf("after touch: %+v", got)
	}
	_, err = s.GetBrowserSession(ctx, sig("COOKIE"))
	wantErrIs(t, "an unknown session", err, storage.ErrNotFound)
	if err := s.DeleteBrowserSession(ctx, sig("cookie")); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetBrowserSession(ctx, sig("cookie"))
	wantErrIs(t, "a deleted session", err, storage.ErrNotFound)
	if err := s.DeleteBrowserSession(ctx, sig("cookie")); err != nil {
		t.Errorf("deleting a missing session: %v", err)
	}
}

// testBrowserSessionAMR: the authentication methods of a session (RFC
// 8176 values, space-separated) come back as written; none is "".
func testBrowserSessionAMR(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	newSession := func(name, amr string) *storage.BrowserSession {
		return &storage.BrowserSession{IDHash: sig("amr-" + name), SID: "sid-amr-" + name, Realm: "rl_a", UserID: "usr_amr",
			AuthTime: base, LastSeen: base, ExpiresAt: base.Add(time.Hour), AMR: amr}
	}
	longest := strings.Repeat("hwk ", 15) + "user" // 64 characters
	for name, amr := range map[string]string{"passkey": "hwk user", "password": "pwd", "none": "", "longest": longest} {
		if err := s.CreateBrowserSession(ctx, newSession(name, amr)); err != nil {
			t.Fatalf("CreateBrowserSession(amr %q): %v", amr, err)
		}
		got, err := s.GetBrowserSession(ctx, sig("amr-"+name))
		if err != nil || got.AMR != amr {
			t.Fatalf("GetBrowserSession(%s) = %+v, %v; want amr %q", name, got, err, amr)
		}
	}
	wantErrIs(t, "an amr too long", s.CreateBrowserSession(ctx, newSession("too-long", longest+" ")), storage.ErrInvalidInput)
	wantErrIs(t, "an amr of bad UTF-8", s.CreateBrowserSession(ctx, newSession("bad", "pwd \xff")), storage.ErrInvalidInput)
}

// testBrowserPurge: expired pending requests and sessions are purged, live
// ones kept.
func testBrowserPurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for name, exp := range map[string]time.Time{"old": base.Add(-time.Second), "new": base.Add(time.Hour)} {
		if err := s.CreateLoginRequest(ctx, &storage.LoginRequest{IDHash: sig("req-" + name), CSRFHash: sig("c"), ClientID: "spa", CreatedAt: base, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateBrowserSession(ctx, &storage.BrowserSession{IDHash: sig("sess-" + name), SID: name, Realm: "rl_a", UserID: "usr_1", AuthTime: base, LastSeen: base, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PurgeExpired(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetLoginRequest(ctx, sig("req-old"))
	wantErrIs(t, "an expired request after purge", err, storage.ErrNotFound)
	_, err = s.GetBrowserSession(ctx, sig("sess-old"))
	wantErrIs(t, "an expired session after purge", err, storage.ErrNotFound)
	if _, err := s.GetLoginRequest(ctx, sig("req-new")); err != nil {
		t.Errorf("a live request after purge: %v", err)
	}
	if _, err := s.GetBrowserSession(ctx, sig("sess-new")); err != nil {
		t.Errorf("a live session after purge: %v", err)
	}
}

// testConsents: a decision per user and client, replaced by the next one.
func testConsents(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, "rl_a", "usr_1", "web")
	wantErrIs(t, "no consent yet", err, storage.ErrNotFound)
	if err := s.SaveConsent(ctx, "rl_a", "usr_1", "web", []string{"openid", "profile"}, base); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConsent(ctx, "rl_a", "usr_1", "Web", []string{"openid"}, base); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConsent(ctx, "rl_a", "usr_1", "web")
	if err != nil || strings.Join(got, " ") != "openid profile" {
		t.Fatalf("GetConsent = %v, %v", got, err)
	}
	if err := s.SaveConsent(ctx, "rl_a", "usr_1", "web", []string{"openid", "profile", "email"}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetConsent(ctx, "rl_a", "usr_1", "web"); strings.Join(got, " ") != "openid profile email" {
		t.Fatalf("after the second decision: %v", got)
	}
	if got, _ := s.GetConsent(ctx, "rl_a", "usr_1", "Web"); strings.Join(got, " ") != "openid" {
		t.Fatalf("client ids are case-sensitive: %v", got)
	}
	if err := s.DeleteConsents(ctx, "rl_a", "usr_1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetConsent(ctx, "rl_a", "usr_1", "web")
	wantErrIs(t, "after DeleteConsents", err, storage.ErrNotFound)
}

// testSessionGrants: the grants of a browser session, recorded once each,
// purged after their expiry.
func testSessionGrants(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, g := range []struct {
		sid, id string
		exp     time.Time
	}{{"s1", "g1", base.Add(time.Hour)}, {"s1", "g2", base.Add(-time.Second)}, {"s1", "g1", base.Add(time.Hour)}, {"s2", "g3", base.Add(time.Hour)}} {
		if err := s.AddSessionGrant(ctx, g.sid, g.id, g.exp); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SessionGrants(ctx, "s1")
	if err != nil || strings.Join(got, ",") != "g1,g2" {
		t.Fatalf("SessionGrants(s1) = %v, %v", got, err)
	}
	if _, err := s.PurgeExpired(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionGrants(ctx, "s1"); strings.Join(got, ",") != "g1" {
		t.Fatalf("after purge: %v", got)
	}
	if got, _ := s.SessionGrants(ctx, "none"); len(got) != 0 {
		t.Fatalf("SessionGrants(none) = %v", got)
	}
}
