package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// RunConformance runs the storage contract against stores made by open, one
// fresh store per subtest. Every backend's test is a call to it.
func RunConformance(t *testing.T, open func(t *testing.T) *storage.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"Ping", testPing},
		{"AccessTokenRoundTrip", testAccessTokenRoundTrip},
		{"RefreshTokenRoundTrip", testRefreshTokenRoundTrip},
		{"NilSession", testNilSession},
		{"FormSanitized", testFormSanitized},
		{"NotFound", testNotFound},
		{"DeleteBySignature", testDeleteBySignature},
		{"DuplicateSignature", testDuplicateSignature},
		{"ConcurrentAccessInserts", testConcurrentAccessInserts},
		{"InvalidInput", testInvalidInput},
		{"CaseSensitiveKeys", testCaseSensitiveKeys},
		{"InactiveRefreshToken", testInactiveRefreshToken},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"ConcurrentRotation", testConcurrentRotation},
		{"RefreshFamily", testRefreshFamily},
		{"RotateAndCreate", testRotateAndCreate},
		{"RevokeByRequestID", testRevokeByRequestID},
		{"RevokeSubject", testRevokeSubject},
		{"TimeZones", testTimeZones},
		{"ExtremeTimes", testExtremeTimes},
		{"SubMicrosecondTimes", testSubMicrosecondTimes},
		{"UseOnce", testUseOnce},
		{"UseOnceConcurrent", testUseOnceConcurrent},
		{"Transactions", testTransactions},
		{"NestedTransactions", testNestedTransactions},
		{"Purge", testPurge},
		{"AuthorizeCodeUnsupported", testAuthorizeCodeUnsupported},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserFindByLogin", testUserFindByLogin},
		{"UserUniqueNorms", testUserUniqueNorms},
		{"UserArbitraryID", testUserArbitraryID},
		{"UserCaseSensitiveColumns", testUserCaseSensitiveColumns},
		{"UserUpdates", testUserUpdates},
		{"UserInvalidInput", testUserInvalidInput},
		{"RevokeSubjectExcept", testRevokeSubjectExcept},
		{"LoginLockout", testLoginLockout},
		{"LoginLockoutConcurrent", testLoginLockoutConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// base is the suite's "now": fixed, so that failures reproduce.
var base = time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)

// sig is a token signature as the server computes it: SHA-256 hex.
func sig(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// grant is the parameters of a test request; zero fields get defaults.
type grant struct {
	id, client, subject string
	requestedAt         time.Time
	accessExp           time.Time
	refreshExp          time.Time
}

func newRequest(g grant) *fosite.Request {
	if g.client == "" {
		g.client = "client-1"
	}
	if g.subject == "" {
		g.subject = "user-1"
	}
	if g.requestedAt.IsZero() {
		g.requestedAt = base
	}
	if g.accessExp.IsZero() {
		g.accessExp = base.Add(time.Hour)
	}
	if g.refreshExp.IsZero() {
		g.refreshExp = base.Add(30 * 24 * time.Hour)
	}
	sess := &session{
		Subject:  g.subject,
		Username: "alice",
		Extra:    map[string]string{"realm": "main", "kid": "k1"},
	}
	sess.SetExpiresAt(fosite.AccessToken, g.accessExp)
	sess.SetExpiresAt(fosite.RefreshToken, g.refreshExp)
	return &fosite.Request{
		ID:                g.id,
		RequestedAt:       g.requestedAt,
		Client:            &fosite.DefaultClient{ID: g.client},
		RequestedScope:    fosite.Arguments{"openid", "offline_access", "read:things"},
		GrantedScope:      fosite.Arguments{"openid", "offline_access"},
		RequestedAudience: fosite.Arguments{"https://api.example.com", "urn:latchkey:realm:main"},
		GrantedAudience:   fosite.Arguments{"https://api.example.com"},
		Form: url.Values{
			"grant_type": {"password"},
			"username":   {"alice"},
			"scope":      {"openid offline_access read:things"},
		},
		Session: sess,
	}
}

func createAccess(t *testing.T, s *storage.Store, ctx context.Context, signature string, r fosite.Requester) {
	t.Helper()
	if err := s.CreateAccessTokenSession(ctx, signature, r); err != nil {
		t.Fatalf("CreateAccessTokenSession: %v", err)
	}
}

func createRefresh(t *testing.T, s *storage.Store, ctx context.Context, signature, accessSignature string, r fosite.Requester) {
	t.Helper()
	if err := s.CreateRefreshTokenSession(ctx, signature, accessSignature, r); err != nil {
		t.Fatalf("CreateRefreshTokenSession: %v", err)
	}
}

// wantAccess fails unless the access token signature is stored.
func wantAccess(t *testing.T, s *storage.Store, signature string) fosite.Requester {
	t.Helper()
	r, err := s.GetAccessTokenSession(t.Context(), signature, &session{})
	if err != nil {
		t.Fatalf("GetAccessTokenSession: %v, want found", err)
	}
	return r
}

// wantNoAccess fails unless the access token signature is missing.
func wantNoAccess(t *testing.T, s *storage.Store, signature string) {
	t.Helper()
	r, err := s.GetAccessTokenSession(t.Context(), signature, &session{})
	if !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("GetAccessTokenSession = %v, %v; want fosite.ErrNotFound", r, err)
	}
}

// refreshState reports "active", "inactive" or "missing".
func refreshState(t *testing.T, s *storage.Store, signature string) string {
	t.Helper()
	r, err := s.GetRefreshTokenSession(t.Context(), signature, &session{})
	switch {
	case err == nil:
		return "active"
	case errors.Is(err, fosite.ErrInactiveToken):
		if r == nil {
			t.Fatalf("GetRefreshTokenSession of an inactive token returned no request")
		}
		return "inactive"
	case errors.Is(err, fosite.ErrNotFound):
		return "missing"
	}
	t.Fatalf("GetRefreshTokenSession: %v", err)
	return ""
}

func wantRefresh(t *testing.T, s *storage.Store, signature, want string) {
	t.Helper()
	if got := refreshState(t, s, signature); got != want {
		t.Fatalf("refresh token %.8s… is %s, want %s", signature, got, want)
	}
}

func wantErrIs(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// checkRequest compares a rebuilt request with the one stored.
func checkRequest(t *testing.T, got fosite.Requester, want *fosite.Request, tokenType fosite.TokenType) {
	t.Helper()
	if got == nil {
		t.Fatal("no request")
	}
	if got.GetID() != want.ID {
		t.Errorf("ID = %q, want %q", got.GetID(), want.ID)
	}
	checkTime(t, "RequestedAt", got.GetRequestedAt(), want.RequestedAt)
	if got.GetClient() == nil || got.GetClient().GetID() != want.Client.GetID() {
		t.Errorf("client = %v, want id %q", got.GetClient(), want.Client.GetID())
	}
	for _, f := range []struct {
		name      string
		got, want fosite.Arguments
	}{
		{"RequestedScope", got.GetRequestedScopes(), want.RequestedScope},
		{"GrantedScope", got.GetGrantedScopes(), want.GrantedScope},
		{"RequestedAudience", got.GetRequestedAudience(), want.RequestedAudience},
		{"GrantedAudience", got.GetGrantedAudience(), want.GrantedAudience},
	} {
		if !slices.Equal(f.got, f.want) {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if got.GetRequestForm().Encode() != want.Form.Encode() {
		t.Errorf("Form = %q, want %q", got.GetRequestForm().Encode(), want.Form.Encode())
	}
	gs, ok := got.GetSession().(*session)
	if !ok {
		t.Fatalf("session is %T, want *session", got.GetSession())
	}
	ws := want.Session.(*session)
	if gs.Subject != ws.Subject || gs.Username != ws.Username {
		t.Errorf("session subject/username = %q/%q, want %q/%q", gs.Subject, gs.Username, ws.Subject, ws.Username)
	}
	if !maps.Equal(gs.Extra, ws.Extra) {
		t.Errorf("session extra = %v, want %v", gs.Extra, ws.Extra)
	}
	if !gs.GetExpiresAt(tokenType).Equal(ws.GetExpiresAt(tokenType)) {
		t.Errorf("session expiry = %v, want %v", gs.GetExpiresAt(tokenType), ws.GetExpiresAt(tokenType))
	}
}

// checkTime wants got to be the instant want, in UTC (or both zero).
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func testPing(t *testing.T, s *storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testAccessTokenRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newRequest(grant{id: "req-1", subject: "user-42"})
	createAccess(t, s, ctx, sig("at-1"), want)
	got, err := s.GetAccessTokenSession(ctx, sig("at-1"), &session{})
	if err != nil {
		t.Fatalf("GetAccessTokenSession: %v", err)
	}
	checkRequest(t, got, want, fosite.AccessToken)
}

func testRefreshTokenRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newRequest(grant{id: "req-1", subject: "user-42"})
	createRefresh(t, s, ctx, sig("rt-1"), sig("at-1"), want)
	got, err := s.GetRefreshTokenSession(ctx, sig("rt-1"), &session{})
	if err != nil {
		t.Fatalf("GetRefreshTokenSession: %v", err)
	}
	checkRequest(t, got, want, fosite.RefreshToken)

	// An empty access signature (a refresh token issued alone) is allowed.
	createRefresh(t, s, ctx, sig("rt-2"), "", want)
	wantRefresh(t, s, sig("rt-2"), "active")
}

// testNilSession: fosite's revocation handler looks tokens up with a nil
// session; the request comes back without one.
func testNilSession(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("at"), r)
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)
	got, err := s.GetAccessTokenSession(ctx, sig("at"), nil)
	if err != nil || got.GetID() != "req-1" || got.GetSession() != nil {
		t.Fatalf("GetAccessTokenSession(nil session) = %+v, %v", got, err)
	}
	got, err = s.GetRefreshTokenSession(ctx, sig("rt"), nil)
	if err != nil || got.GetID() != "req-1" || got.GetSession() != nil {
		t.Fatalf("GetRefreshTokenSession(nil session) = %+v, %v", got, err)
	}
	if err := s.RevokeRefreshToken(ctx, "req-1"); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRefreshTokenSession(ctx, sig("rt"), nil)
	if !errors.Is(err, fosite.ErrInactiveToken) || got == nil || got.GetID() != "req-1" {
		t.Fatalf("GetRefreshTokenSession(inactive, nil session) = %+v, %v; want request and ErrInactiveToken", got, err)
	}
}

func testFormSanitized(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	secrets := []string{"password", "client_secret", "assertion", "client_assertion", "refresh_token"}
	for _, k := range secrets {
		r.Form.Set(k, "secret-"+k)
	}
	createAccess(t, s, ctx, sig("at"), r)
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)
	for _, got := range []fosite.Requester{
		wantAccess(t, s, sig("at")),
		func() fosite.Requester { r, _ := s.GetRefreshTokenSession(ctx, sig("rt"), &session{}); return r }(),
	} {
		form := got.GetRequestForm()
		for _, k := range secrets {
			if form.Has(k) {
				t.Errorf("form field %q was stored", k)
			}
		}
		for _, k := range []string{"grant_type", "username", "scope"} {
			if form.Get(k) != r.Form.Get(k) {
				t.Errorf("form field %q = %q, want %q", k, form.Get(k), r.Form.Get(k))
			}
		}
	}
	if !r.Form.Has("password") {
		t.Error("the caller's form was modified")
	}
}

func testNotFound(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r, err := s.GetAccessTokenSession(ctx, sig("nope"), &session{})
	wantErrIs(t, "GetAccessTokenSession", err, fosite.ErrNotFound)
	if r != nil {
		t.Errorf("request %v returned with not found", r)
	}
	r, err = s.GetRefreshTokenSession(ctx, sig("nope"), &session{})
	wantErrIs(t, "GetRefreshTokenSession", err, fosite.ErrNotFound)
	if r != nil {
		t.Errorf("request %v returned with not found", r)
	}
	// Revoking what does not exist is not an error.
	for name, err := range map[string]error{
		"RevokeAccessToken":  s.RevokeAccessToken(ctx, "nope"),
		"RevokeRefreshToken": s.RevokeRefreshToken(ctx, "nope"),
		"RevokeSubject":      s.RevokeSubject(ctx, "nope"),
	} {
		if err != nil {
			t.Errorf("%s(unknown): %v", name, err)
		}
	}
}

func testDeleteBySignature(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("at-1"), r)
	createAccess(t, s, ctx, sig("at-2"), r)
	createRefresh(t, s, ctx, sig("rt-1"), sig("at-1"), r)
	createRefresh(t, s, ctx, sig("rt-2"), sig("at-2"), r)
	if err := s.DeleteAccessTokenSession(ctx, sig("at-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRefreshTokenSession(ctx, sig("rt-1")); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-1"))
	wantAccess(t, s, sig("at-2"))
	wantRefresh(t, s, sig("rt-1"), "missing")
	wantRefresh(t, s, sig("rt-2"), "active")
	if err := s.DeleteAccessTokenSession(ctx, sig("at-1")); err != nil {
		t.Errorf("deleting a missing access token: %v", err)
	}
	if err := s.DeleteRefreshTokenSession(ctx, sig("rt-1")); err != nil {
		t.Errorf("deleting a missing refresh token: %v", err)
	}
}

func testDuplicateSignature(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("dup"), r)
	wantErrIs(t, "second CreateAccessTokenSession", s.CreateAccessTokenSession(ctx, sig("dup"), r), storage.ErrAlreadyExists)
	createRefresh(t, s, ctx, sig("dup"), sig("dup"), r) // another table: fine
	wantErrIs(t, "second CreateRefreshTokenSession", s.CreateRefreshTokenSession(ctx, sig("dup"), "", r), storage.ErrAlreadyExists)
}

func testInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	long := strings.Repeat("a", 65)
	wantErrIs(t, "long access signature", s.CreateAccessTokenSession(ctx, long, r), storage.ErrInvalidInput)
	wantErrIs(t, "empty access signature", s.CreateAccessTokenSession(ctx, "", r), storage.ErrInvalidInput)
	wantErrIs(t, "long refresh signature", s.CreateRefreshTokenSession(ctx, long, "", r), storage.ErrInvalidInput)
	wantErrIs(t, "long access signature of a refresh token", s.CreateRefreshTokenSession(ctx, sig("rt"), long, r), storage.ErrInvalidInput)
}

// testCaseSensitiveKeys catches a case-insensitive collation on a key
// column: "utk_aB" and "utk_Ab" are different ids.
func testCaseSensitiveKeys(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	lower, upper := sig("x"), strings.ToUpper(sig("x"))
	createAccess(t, s, ctx, lower, newRequest(grant{id: "req-a", subject: "alice"}))
	createAccess(t, s, ctx, upper, newRequest(grant{id: "req-A", subject: "Alice"}))
	if got := wantAccess(t, s, upper); got.GetID() != "req-A" {
		t.Errorf("lookup by upper-case signature found %q", got.GetID())
	}
	if err := s.RevokeAccessToken(ctx, "req-A"); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, lower)
	wantNoAccess(t, s, upper)

	createRefresh(t, s, ctx, sig("rt-a"), "", newRequest(grant{id: "req-b", subject: "bob"}))
	createRefresh(t, s, ctx, sig("rt-B"), "", newRequest(grant{id: "req-B", subject: "Bob"}))
	if err := s.RevokeSubject(ctx, "Bob"); err != nil {
		t.Fatal(err)
	}
	wantRefresh(t, s, sig("rt-a"), "active")
	wantRefresh(t, s, sig("rt-B"), "inactive")

	exp := base.Add(time.Hour)
	for _, id := range []string{"utk_aB", "utk_Ab", "UTK_AB"} {
		if err := s.UseOnce(ctx, storage.KindAPT, "env-1", id, exp); err != nil {
			t.Errorf("UseOnce(%q): %v", id, err)
		}
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "ENV-1", "utk_aB", exp); err != nil {
		t.Errorf("UseOnce with an issuer differing in case: %v", err)
	}
}

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

func testRevokeByRequestID(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	a := newRequest(grant{id: "req-a"})
	b := newRequest(grant{id: "req-b"})
	createAccess(t, s, ctx, sig("at-a1"), a)
	createAccess(t, s, ctx, sig("at-a2"), a)
	createRefresh(t, s, ctx, sig("rt-a1"), sig("at-a1"), a)
	createRefresh(t, s, ctx, sig("rt-a2"), sig("at-a2"), a)
	createAccess(t, s, ctx, sig("at-b"), b)
	createRefresh(t, s, ctx, sig("rt-b"), sig("at-b"), b)

	if err := s.RevokeRefreshToken(ctx, "req-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, "req-a"); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-a1"))
	wantNoAccess(t, s, sig("at-a2"))
	wantRefresh(t, s, sig("rt-a1"), "inactive") // kept for reuse detection
	wantRefresh(t, s, sig("rt-a2"), "inactive")
	wantAccess(t, s, sig("at-b"))
	wantRefresh(t, s, sig("rt-b"), "active")
}

func testRevokeSubject(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, g := range []grant{
		{id: "req-1", subject: "alice"},
		{id: "req-2", subject: "alice"},
		{id: "req-3", subject: "bob"},
	} {
		r := newRequest(g)
		createAccess(t, s, ctx, sig("at-"+g.id), r)
		createRefresh(t, s, ctx, sig("rt-"+g.id), sig("at-"+g.id), r)
	}
	if err := s.RevokeSubject(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"req-1", "req-2"} {
		wantNoAccess(t, s, sig("at-"+id))
		wantRefresh(t, s, sig("rt-"+id), "inactive")
	}
	wantAccess(t, s, sig("at-req-3"))
	wantRefresh(t, s, sig("rt-req-3"), "active")
}

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

func testUseOnce(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	exp := base.Add(5 * time.Minute)
	if err := s.UseOnce(ctx, storage.KindClientAssertion, "client-1", "jti-1", exp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := s.UseOnce(ctx, storage.KindClientAssertion, "client-1", "jti-1", exp)
	wantErrIs(t, "second use", err, storage.ErrAlreadyUsed)
	for _, tc := range []struct{ kind, issuer, id string }{
		{storage.KindClientAssertion, "client-2", "jti-1"}, // another issuer
		{storage.KindAPT, "client-1", "jti-1"},             // another kind
		{storage.KindClientAssertion, "", "jti-1"},         // no issuer
		{storage.KindClientAssertion, "client-1", "jti-2"},
	} {
		if err := s.UseOnce(ctx, tc.kind, tc.issuer, tc.id, exp); err != nil {
			t.Errorf("UseOnce(%q, %q, %q): %v", tc.kind, tc.issuer, tc.id, err)
		}
	}

	// Limits are characters, checked before the database.
	maxID := strings.Repeat("é", 255)
	if err := s.UseOnce(ctx, storage.KindAPT, "env", maxID, exp); err != nil {
		t.Errorf("UseOnce of a 255-character id: %v", err)
	}
	wantErrIs(t, "id of the same 255 characters", s.UseOnce(ctx, storage.KindAPT, "env", maxID, exp), storage.ErrAlreadyUsed)
	for name, err := range map[string]error{
		"256-character id":     s.UseOnce(ctx, storage.KindAPT, "env", strings.Repeat("a", 256), exp),
		"256-character issuer": s.UseOnce(ctx, storage.KindAPT, strings.Repeat("a", 256), "x", exp),
		"33-character kind":    s.UseOnce(ctx, strings.Repeat("k", 33), "env", "x", exp),
		"empty id":             s.UseOnce(ctx, storage.KindAPT, "env", "", exp),
		"empty kind":           s.UseOnce(ctx, "", "env", "x", exp),
		"zero expiry":          s.UseOnce(ctx, storage.KindAPT, "env", "x", time.Time{}),
		"invalid UTF-8":        s.UseOnce(ctx, storage.KindAPT, "env", "\xff", exp),
	} {
		wantErrIs(t, name, err, storage.ErrInvalidInput)
	}
}

func testUseOnceConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.UseOnce(ctx, storage.KindAPT, "env-1", "jti-race", base.Add(time.Minute))
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("use %d: %v, want nil or ErrAlreadyUsed", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", winners, n)
	}
}

func testTransactions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})

	// Rolled back: the write was made in the transaction (visible inside,
	// invisible outside) and is gone afterwards.
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, txCtx, sig("rolled-back"), r)
	if err := s.UseOnce(txCtx, storage.KindAPT, "env", "jti-tx", base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccessTokenSession(txCtx, sig("rolled-back"), &session{}); err != nil {
		t.Errorf("the transaction does not see its own write: %v", err)
	}
	wantNoAccess(t, s, sig("rolled-back")) // uncommitted, so invisible outside
	if err := s.Rollback(txCtx); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("rolled-back"))
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "jti-tx", base); err != nil {
		t.Errorf("UseOnce after its rolled-back use: %v", err)
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Errorf("second Rollback: %v, want nil", err)
	}

	// Committed.
	txCtx, err = s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, txCtx, sig("committed"), r)
	createRefresh(t, s, txCtx, sig("committed"), sig("committed"), r)
	if err := s.Commit(txCtx); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("committed"))
	wantRefresh(t, s, sig("committed"), "active")
	if err := s.Commit(txCtx); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Errorf("Rollback after Commit: %v, want nil", err)
	}

	// InTx.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		createAccess(t, s, ctx, sig("intx-failed"), r)
		return boom
	})
	wantErrIs(t, "InTx", err, boom)
	wantNoAccess(t, s, sig("intx-failed"))
	if err := s.InTx(ctx, func(ctx context.Context) error {
		return s.CreateAccessTokenSession(ctx, sig("intx-ok"), r)
	}); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("intx-ok"))

	// A failed statement inside a transaction does not end it.
	if err := s.InTx(ctx, func(ctx context.Context) error {
		wantErrIs(t, "duplicate in tx", s.CreateAccessTokenSession(ctx, sig("intx-ok"), r), storage.ErrAlreadyExists)
		return s.CreateAccessTokenSession(ctx, sig("after-dup"), r)
	}); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("after-dup"))

	wantErrIs(t, "Commit without a transaction", s.Commit(ctx), storage.ErrNoTransaction)
	wantErrIs(t, "Rollback without a transaction", s.Rollback(ctx), storage.ErrNoTransaction)
}

func testNestedTransactions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})

	// fosite's MaybeBeginTx inside our own InTx joins it.
	err := s.InTx(ctx, func(ctx context.Context) error {
		inner, err := s.BeginTX(ctx)
		if err != nil {
			return err
		}
		createAccess(t, s, inner, sig("nested"), r)
		if err := s.Commit(inner); err != nil { // does nothing yet
			return err
		}
		wantNoAccess(t, s, sig("nested"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("nested"))

	// An inner rollback dooms the outer transaction.
	outer, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := s.BeginTX(outer)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, inner, sig("doomed"), r)
	if err := s.Rollback(inner); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "outer Commit after an inner Rollback", s.Commit(outer), storage.ErrTxRolledBack)
	wantNoAccess(t, s, sig("doomed"))

	// An error inside a nested InTx rolls the whole transaction back.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		createAccess(t, s, ctx, sig("outer"), r)
		return s.InTx(ctx, func(ctx context.Context) error {
			createAccess(t, s, ctx, sig("inner"), r)
			return boom
		})
	})
	wantErrIs(t, "nested InTx", err, boom)
	wantNoAccess(t, s, sig("outer"))
	wantNoAccess(t, s, sig("inner"))
}

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

func testAuthorizeCodeUnsupported(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	wantErrIs(t, "CreateAuthorizeCodeSession", s.CreateAuthorizeCodeSession(ctx, "code", newRequest(grant{id: "x"})), storage.ErrCodeFlowUnsupported)
	_, err := s.GetAuthorizeCodeSession(ctx, "code", &session{})
	wantErrIs(t, "GetAuthorizeCodeSession", err, fosite.ErrNotFound)
	wantErrIs(t, "InvalidateAuthorizeCodeSession", s.InvalidateAuthorizeCodeSession(ctx, "code"), fosite.ErrNotFound)
}

// testConcurrentAccessInserts: concurrent inserts outside a transaction are
// group-committed; every caller must still get its own row's outcome — all
// rows written, and a duplicate among them failing alone.
func testConcurrentAccessInserts(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createAccess(t, s, ctx, sig("taken"), newRequest(grant{id: "taken"}))
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("bulk-", i)
			if i == n/2 {
				name = "taken"
			}
			errs[i] = s.CreateAccessTokenSession(ctx, sig(name), newRequest(grant{id: name}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			wantErrIs(t, "the duplicate in a group commit", err, storage.ErrAlreadyExists)
			continue
		}
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		wantAccess(t, s, sig(fmt.Sprint("bulk-", i)))
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
