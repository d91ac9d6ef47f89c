package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// A database that does not answer must never make a valid token look
// inactive or a valid user look unauthenticated: introspection, userinfo
// and the Work API's /users/me answer 503 with Retry-After.
func TestStorageOutageIsUnavailableNotInactive(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", "correct horse battery")
	userToken := f.login("alice", "correct horse battery").AccessToken
	cc := f.ccToken()
	status, wa := f.workapi(http.MethodPost, "/users", f.apt("outage-user", nil))
	if status != http.StatusCreated {
		t.Fatalf("create Work API user: %d %v", status, wa)
	}
	workToken := wa["token"].(string)

	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, m := f.post("/oauth2/introspect", url.Values{"token": {cc}}, "svc", f.secret)
	if resp.StatusCode != http.StatusServiceUnavailable || m["active"] != nil || m["error"] != "temporarily_unavailable" {
		t.Errorf("introspect during an outage: %d %v, want 503 temporarily_unavailable", resp.StatusCode, m)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("introspect 503 without Retry-After")
	}
	req, _ := http.NewRequest(http.MethodGet, f.url("/oauth2/userinfo"), nil)
	req.Header.Set("Authorization", "Bearer "+userToken)
	resp, m = f.do(req)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("userinfo during an outage: %d %v (Retry-After %q), want 503", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
	req, _ = http.NewRequest(http.MethodGet, f.url("/workapi/users/me"), nil)
	req.Header.Set("Authorization", "Bearer "+workToken)
	resp, m = f.do(req)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/workapi/users/me during an outage: %d %v, want 503 with Retry-After", resp.StatusCode, m)
	}
	resp, m = f.post("/oauth2/revoke", url.Values{"token": {cc}}, "svc", f.secret)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("revoke during an outage: %d %v, want 503", resp.StatusCode, m)
	}
}

// Revoking a refresh token that was already rotated ends its grant, as the
// token endpoint's reuse detection would: the pair issued by the rotation
// dies too.
func TestRevokeRotatedRefreshTokenRevokesGrant(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("bob", "correct horse battery")
	first := f.login("bob", "correct horse battery")
	status, second := f.refresh(first.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, second)
	}
	resp, m := f.post("/oauth2/revoke", url.Values{"token": {first.RefreshToken}, "client_id": {"public-app"}}, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke the used refresh token: %d %v", resp.StatusCode, m)
	}
	if f.active(second["access_token"].(string)) {
		t.Error("the access token of the rotated pair is still active after revoking its grant")
	}
	if status, m := f.refresh(second["refresh_token"].(string)); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("refresh with the rotated pair's token after revocation: %d %v, want invalid_grant", status, m)
	}
}

// RFC 6749 §2.3: a client uses one authentication method per request. A
// valid client assertion with a bogus Basic header, or Basic with
// client_secret, is invalid_request.
func TestOneClientAuthenticationMethod(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	good := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-two-methods", nil))
	resp, m := f.post("/oauth2/token", f.assertionForm(good), "jwt-client", "bogus")
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_request" {
		t.Errorf("assertion + Basic: %d %v, want 400 invalid_request", resp.StatusCode, m)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_secret": {f.secret}}
	resp, m = f.post("/oauth2/token", form, "svc", f.secret)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_request" {
		t.Errorf("Basic + client_secret: %d %v, want 400 invalid_request", resp.StatusCode, m)
	}
	form = f.assertionForm(assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-two-methods-2", nil)))
	form.Set("client_secret", "x")
	resp, m = f.post("/oauth2/token", form, "", "")
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_request" {
		t.Errorf("assertion + client_secret: %d %v, want 400 invalid_request", resp.StatusCode, m)
	}
	// The refused request did not burn the assertion's jti.
	if resp, m := f.post("/oauth2/token", f.assertionForm(good), "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the assertion alone after the refusal: %d %v", resp.StatusCode, m)
	}
}

// argon2id client secrets are checked under the process's bound on slow
// hashes, and so are unknown client ids (against a dummy of the same cost):
// with one hash at a time and no queue, a burst of wrong secrets — or of
// unknown ids — is partly answered 503, not all hashed at once.
func TestArgon2ClientSecretsAreBounded(t *testing.T) {
	short := "short-secret-1"
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		y = strings.Replace(y, "realms:\n", "passwords: {max_concurrent_hashes: 1, queue_timeout: 1ms}\nrealms:\n", 1)
		return strings.Replace(y, "clients:\n", "clients:\n  - id: slow\n    realm: rl_test\n    secret_hash: "+hashOf(t, short)+
			"\n    auth_method: client_secret_basic\n    grant_types: [client_credentials]\n    scopes: [read]\n", 1)
	}})
	if resp, m := f.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "slow", short); resp.StatusCode != http.StatusOK {
		t.Fatalf("the argon2id client: %d %v", resp.StatusCode, m)
	}
	for _, id := range []string{"slow", "no-such-client"} {
		codes := burst(t, 16, func() int {
			resp, _ := f.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "wrong-secret")
			return resp.StatusCode
		})
		if codes[http.StatusServiceUnavailable] == 0 || codes[http.StatusUnauthorized] == 0 || len(codes) != 2 {
			t.Errorf("client %q: 16 parallel wrong secrets answered %v, want some 401 and some 503", id, codes)
		}
	}
}

// burst runs fn n times at once and counts the statuses.
func burst(t *testing.T, n int, fn func() int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	codes := map[int]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := fn()
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// gin trusts every proxy by default, so X-Forwarded-For could forge the
// access log's address; only trusted_proxies may set it.
func TestForwardedForTrustsOnlyConfiguredProxies(t *testing.T) {
	for _, tc := range []struct {
		name, edit string
		want       string
	}{
		{"no trusted proxy", "", "127.0.0.1"},
		{"loopback trusted", "trusted_proxies: [127.0.0.1]\n", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			f := newFixture(t, fixtureOpts{log: &log, edit: func(y string) string { return tc.edit + y }})
			req, _ := http.NewRequest(http.MethodGet, f.url("/healthz"), nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			if resp, _ := f.do(req); resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %d", resp.StatusCode)
			}
			remote := ""
			for _, line := range strings.Split(log.String(), "\n") {
				var rec map[string]any
				if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["route"] == "/healthz" {
					remote, _ = rec["remote"].(string)
				}
			}
			if remote != tc.want {
				t.Errorf("access log remote = %q, want %q", remote, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The router is built per snapshot: a reload that moves a surface's prefix
// or switches it on applies to the next request, without a restart.
func TestReloadMovesAndEnablesSurfaces(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		return y + "compat:\n  workapi: {enabled: false}\n"
	}})
	if status, _ := f.workapi(http.MethodPost, "/users", f.apt("reload-1", nil)); status != http.StatusNotFound {
		t.Fatalf("disabled surface: %d, want 404", status)
	}
	reload := func(compat string) {
		t.Helper()
		yaml := strings.Replace(f.yaml, "compat:\n  workapi: {enabled: false}\n", "compat:\n  workapi: "+compat+"\n", 1)
		snap, err := config.Parse("test.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		if err := f.srv.Reload(snap); err != nil {
			t.Fatal(err)
		}
	}
	reload("{enabled: true}")
	if status, m := f.workapi(http.MethodPost, "/users", f.apt("reload-1", nil)); status != http.StatusCreated {
		t.Fatalf("surface enabled by reload: %d %v, want 201", status, m)
	}
	reload("{enabled: true, prefix: /wa2}")
	req, _ := http.NewRequest(http.MethodPost, f.url("/wa2/users"), nil)
	req.Header.Set("Authorization", "Bearer "+f.apt("reload-2", nil))
	if resp, m := f.do(req); resp.StatusCode != http.StatusCreated {
		t.Fatalf("surface moved by reload: %d %v, want 201", resp.StatusCode, m)
	}
	if status, _ := f.workapi(http.MethodPost, "/users", f.apt("reload-3", nil)); status != http.StatusNotFound {
		t.Errorf("old prefix after the move: %d, want 404", status)
	}
}

// An APT whose arbitrary_id has surrounding white space or a control
// character is refused as an invalid APT (401), never a 500.
func TestWorkapiRefusesUnstorableArbitraryIDs(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, id := range []string{" alice", "alice ", "al\x00ice", "al\nice"} {
		status, m := f.workapi(http.MethodPost, "/users", f.apt(id, nil))
		if status != http.StatusUnauthorized || m["error"] != "invalid_apt" {
			t.Errorf("arbitrary_id %q: %d %v, want 401 invalid_apt", id, status, m)
		}
	}
	if n := f.userCount(); n != 0 {
		t.Errorf("%d users created", n)
	}
}
