package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// An OAuth error says what is wrong in one sentence: fosite's generic
// description ("The request could not be authorized…", "Client
// authentication failed (e.g., …)") is not put before it.
func TestErrorDescriptionsAreOneSentence(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cases := []struct {
		name, user, pass string
		form             url.Values
		want             string
	}{
		{"wrong secret", "svc", "wrong", url.Values{"grant_type": {"client_credentials"}},
			"Client authentication failed (unknown client, wrong credentials, or a method the client is not configured for)."},
		{"scope not allowed", "svc", f.secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}},
			`The client is not allowed to request scope "admin".`},
	}
	for _, tc := range cases {
		resp, m := f.post("/oauth2/token", tc.form, tc.user, tc.pass)
		if resp.StatusCode < 400 || m["error_description"] != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.name, resp.StatusCode, m["error_description"], tc.want)
		}
	}
}

// A revoked refresh token is not called "already used": only a rotated one
// is.
func TestRefreshErrorsSayWhatHappened(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("dora", "correct horse battery")
	tok := f.login("dora", "correct horse battery")
	if resp, m := f.post("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"public-app"}}, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %v", resp.StatusCode, m)
	}
	status, m := f.refresh(tok.RefreshToken)
	if desc, _ := m["error_description"].(string); status != http.StatusBadRequest || !strings.Contains(desc, "revoked") || strings.Contains(desc, "already used") {
		t.Errorf("refresh of a revoked token: %d %v", status, m)
	}
	tok = f.login("dora", "correct horse battery")
	if status, m := f.refresh(tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, m)
	}
	status, m = f.refresh(tok.RefreshToken)
	if desc, _ := m["error_description"].(string); status != http.StatusBadRequest || !strings.Contains(desc, "already used") {
		t.Errorf("reuse of a rotated token: %d %v", status, m)
	}
}

// userinfo releases the e-mail address only to a token granted the email
// scope (OpenID Connect Core §5.4).
func TestUserinfoEmailNeedsEmailScope(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("erin", "correct horse battery")
	for _, tc := range []struct {
		scope     string
		wantEmail bool
	}{{"profile", false}, {"profile email", true}} {
		tok, err := f.publicApp(strings.Fields(tc.scope)...).PasswordCredentialsToken(f.ctx(), "erin", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		status, m := f.userinfo(tok.AccessToken)
		if status != http.StatusOK || (m["email"] != nil) != tc.wantEmail || m["preferred_username"] != "erin" {
			t.Errorf("scope %q: %d %v, want email: %v", tc.scope, status, m, tc.wantEmail)
		}
	}
}

// The Work API's 404 for an unknown user names the route to create it, with
// the surface's prefix.
func TestWorkapiReauthNotFoundNamesTheRoute(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	status, m := f.workapi(http.MethodPost, "/users/reauth", f.apt("nobody", nil))
	if msg, _ := m["message"].(string); status != http.StatusNotFound || !strings.Contains(msg, "POST /workapi/users.") {
		t.Errorf("reauth of an unknown user: %d %v", status, m)
	}
}
