package storagetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// The conformance suite: RunConformance, which lists every test of the
// storage contract, and the helpers its files share (requests, signatures,
// state checks). The tests live in one file per concern.

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
		{"RevokeGrantFromUsedToken", testRevokeGrantFromUsedToken},
		{"RotateAndCreate", testRotateAndCreate},
		{"RotationsAcrossReplicas", testRotationsAcrossReplicas},
		{"RotateAndCreateUserStatus", testRotateAndCreateUserStatus},
		{"RotateVersusDeactivation", testRotateVersusDeactivation},
		{"LockActiveUser", testLockActiveUser},
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
		{"BrowserSignIn", testBrowserSignIn},
		{"ClosedStore", testClosedStore},
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
		{"SignupTokens", testSignupTokens},
		{"CredentialsAndCodes", testCredentialsAndCodes},
		{"Passkeys", testPasskeys},
		{"InstanceSecrets", testInstanceSecrets},
		{"CeremonyPeek", testCeremonyPeek},
		{"RevokedTokens", testRevokedTokens},
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
