package core_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/grants"
	"github.com/latchkey/latchkey/handlers/oauth"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// The authorization code flow over real HTTP on loopback: the core's
// authorize operations behind a test page that signs a fixed user in, and
// the real token endpoint. Each attack of the flow is a test here.

const (
	spaRedirect = "http://127.0.0.1:5173/cb"
	webRedirect = "https://app.example.com/callback"
	webSecret   = "lk_test-secret-of-the-web-client-0123456789"
	verifier    = "dBjftJeZ4CK-pP1XqzLOy5rAuIoV5sbY0Tc2eNXtNLA1"
)

type flow struct {
	t      *testing.T
	core   *core.Core
	acc    *accounts.Service
	url    string
	userID string
	clock  atomic.Int64 // added to the real time, in seconds
	snap   *config.Snapshot
}

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newFlow(t *testing.T) *flow { return newFlowWith(t, nil) }

// flowSnapshot is the flow's config for issuer, changed by edit if set.
func flowSnapshot(tb testing.TB, issuer string, edit func(string) string) *config.Snapshot {
	tb.Helper()
	key, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		tb.Fatal(err)
	}
	pem, _ := config.EncodePrivateKeyPEM(key)
	yaml := fmt.Sprintf(`
issuer: %s
signing_keys:
  - {kid: k1, alg: ES256, pem: "%s"}
realms:
  - {id: rl_core, name: Core}
compat:
  loginid: {enabled: false}
clients:
  - id: spa
    realm: rl_core
    auth_method: none
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [%s]
    scopes: [openid, profile, email, offline_access]
  - id: spa2
    realm: rl_core
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [%s]
    scopes: [openid]
  - id: web
    realm: rl_core
    secret: %s
    auth_method: client_secret_basic
    grant_types: [authorization_code]
    redirect_uris: [%s, "https://app.example.com/other?tenant=a"]
    scopes: [openid, profile]
    require_pkce: false
  - id: backend
    realm: rl_core
    secret: %s
    auth_method: client_secret_basic
    grant_types: [client_credentials]
`, issuer, strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`), spaRedirect, spaRedirect, webSecret, webRedirect, webSecret)
	if edit != nil {
		yaml = edit(yaml)
	}
	snap, err := config.Parse("core.yaml", []byte(yaml), tb.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	return snap
}

// newFlowWith starts the flow on the config changed by edit.
func newFlowWith(t *testing.T, edit func(string) string) *flow {
	t.Helper()
	f := &flow{t: t}
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	snap := flowSnapshot(t, srv.URL, edit)
	var err error
	f.snap = snap
	store := storagetest.OpenSQLite(t)
	acc := accounts.New(store, accounts.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	acc.SetPolicy(snap.Passwords)
	now := func() time.Time { return time.Now().Add(time.Duration(f.clock.Load()) * time.Second) }
	f.core, err = core.New(snap, core.Deps{Store: store, Accounts: acc, Now: now}, grants.NewRefresh)
	if err != nil {
		t.Fatal(err)
	}
	u, err := acc.Create(t.Context(), snap.Realm("rl_core"), accounts.NewUser{Username: "carol", Email: "carol@example.com", FirstName: "Carol", LastName: "Jones"})
	if err != nil {
		t.Fatal(err)
	}
	f.userID = u.ID
	f.acc = acc
	oh, err := oauth.New(f.core, oauth.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	oh.Register(r)
	// The test's authorization page: any valid request is finished for
	// carol, signed in just now in browser session "sid-1".
	r.GET(core.AuthorizePath, func(c *gin.Context) {
		req, err := f.core.ParseAuthorize(c.Request.Context(), c.Request.URL.Query())
		if err == nil {
			var to string
			to, err = f.core.FinishAuthorize(c.Request.Context(), req, core.Authorization{UserID: f.userID, Username: "carol", AuthTime: now(), SessionID: "sid-1"})
			if err == nil {
				core.WriteAuthorizeRedirect(c.Writer, to)
				return
			}
		}
		if ae, ok := err.(*core.AuthorizeError); ok {
			if to := ae.RedirectURL(); to != "" {
				core.WriteAuthorizeRedirect(c.Writer, to)
				return
			}
			c.String(http.StatusBadRequest, "error page: %s: %s", ae.Code, ae.Description)
			return
		}
		c.String(http.StatusServiceUnavailable, "unavailable")
	})
	srv.Config.Handler = r
	return f
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize sends the browser's request and returns the status and the
// redirect (nil when there is none).
func (f *flow) authorize(params url.Values) (int, *url.URL, string) {
	f.t.Helper()
	resp, err := noFollow.Get(f.url + core.AuthorizePath + "?" + params.Encode())
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = url.Parse(l); err != nil {
			f.t.Fatal(err)
		}
	}
	return resp.StatusCode, loc, string(body)
}

func spaParams() url.Values {
	return url.Values{
		"client_id": {"spa"}, "response_type": {"code"}, "redirect_uri": {spaRedirect},
		"scope": {"openid profile email offline_access"}, "state": {"state-0123456789"}, "nonce": {"nonce-abcdefgh"},
		"code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"},
	}
}

// code runs a successful authorization and returns the code.
func (f *flow) code(params url.Values) string {
	f.t.Helper()
	status, loc, body := f.authorize(params)
	if status != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		f.t.Fatalf("authorize = %d %v %s, want a redirect with a code", status, loc, body)
	}
	return loc.Query().Get("code")
}

// token posts a token request; basic, when set, is the client's Basic
// credentials.
func (f *flow) token(form url.Values, basic ...string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.url+core.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, out
}

func exchange(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code}, "redirect_uri": {spaRedirect}, "code_verifier": {verifier}}
}

func wantTokenError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("%s = %d %v, want %d %s", what, status, body, wantStatus, wantCode)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	f := newFlow(t)
	status, loc, _ := f.authorize(spaParams())
	if status != http.StatusSeeOther {
		t.Fatalf("authorize = %d", status)
	}
	// RFC 9207: iss on the response; the state comes back exactly.
	if got := loc.Query(); got.Get("iss") != f.url || got.Get("state") != "state-0123456789" || !strings.HasPrefix(loc.String(), spaRedirect+"?") {
		t.Fatalf("redirect = %v", loc)
	}
	code := loc.Query().Get("code")
	if !strings.HasPrefix(code, core.AuthorizeCodePrefix) {
		t.Errorf("code %q lacks its prefix", code)
	}
	status, tok := f.token(exchange(code))
	if status != http.StatusOK {
		t.Fatalf("token = %d %v", status, tok)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, _ := tok[k].(string); s == "" {
			t.Errorf("token response lacks %s: %v", k, tok)
		}
	}
	if tok["scope"] != "openid profile email offline_access" {
		t.Errorf("scope = %v", tok["scope"])
	}
	p, err := f.core.Authenticate(t.Context(), tok["access_token"].(string))
	if err != nil || p.User == nil || p.User.ID != f.userID || p.Client.ID != "spa" {
		t.Fatalf("access token: %+v %v", p, err)
	}

	// The ID token: signed by the active key, for the client, with the
	// nonce, at_hash, auth_time, sid and the claims of the scopes.
	idt, err := jwt.ParseSigned(tok["id_token"].(string), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if idt.Headers[0].KeyID != "k1" {
		t.Errorf("kid = %q", idt.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := idt.Claims(f.snap.ActiveSigningKey().Key.Public(), &claims); err != nil {
		t.Fatalf("ID token signature: %v", err)
	}
	sum := sha256.Sum256([]byte(tok["access_token"].(string)))
	want := map[string]any{
		"iss": f.url, "sub": f.userID, "nonce": "nonce-abcdefgh", "sid": "sid-1", "azp": "spa",
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]), "preferred_username": "carol",
		"name": "Carol Jones", "given_name": "Carol", "family_name": "Jones", "email": "carol@example.com",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("ID token %s = %v, want %v", k, claims[k], v)
		}
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "spa" {
		t.Errorf("aud = %v", claims["aud"])
	}
	for _, k := range []string{"iat", "exp", "auth_time"} {
		if _, ok := claims[k].(float64); !ok {
			t.Errorf("ID token lacks %s", k)
		}
	}

	// The refresh token continues the same grant.
	status, ref := f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}})
	if status != http.StatusOK {
		t.Fatalf("refresh = %d %v", status, ref)
	}
}

// Look-alike and unregistered redirect URIs are never redirected to: the
// answer is an error page, whatever else is wrong with the request.
func TestAuthorizeRedirectURIAttacks(t *testing.T) {
	f := newFlow(t)
	cases := map[string]url.Values{}
	for name, uri := range map[string]string{
		"unregistered":   "https://evil.example.com/cb",
		"prefix":         spaRedirect + "/more",
		"suffix":         spaRedirect + "x",
		"trailing slash": spaRedirect + "/",
		"other port":     "http://127.0.0.1:5174/cb",
		"no port":        "http://127.0.0.1/cb",
		"localhost":      "http://localhost:5173/cb",
		"case of host":   "http://127.0.0.1:5173/CB",
		"dot dot":        "http://127.0.0.1:5173/cb/../cb",
		"encoded":        "http://127.0.0.1:5173/%63b",
		"query added":    spaRedirect + "?x=1",
		"fragment":       spaRedirect + "#x",
		"https variant":  "https://127.0.0.1:5173/cb",
	} {
		p := spaParams()
		p.Set("redirect_uri", uri)
		cases["spa "+name] = p
	}
	web := url.Values{"client_id": {"web"}, "response_type": {"code"}, "state": {"state-0123456789"}}
	for name, uri := range map[string]string{
		"case":                             "https://APP.example.com/callback",
		"missing query":                    "https://app.example.com/other",
		"other query":                      "https://app.example.com/other?tenant=b",
		"no redirect_uri (client has two)": "",
	} {
		p := url.Values{}
		for k, v := range web {
			p[k] = v
		}
		if uri != "" {
			p.Set("redirect_uri", uri)
		}
		cases["web "+name] = p
	}
	unknown := spaParams()
	unknown.Set("client_id", "nobody")
	cases["unknown client"] = unknown
	noClient := spaParams()
	noClient.Del("client_id")
	cases["no client_id"] = noClient
	notCode := spaParams()
	notCode.Set("client_id", "backend")
	cases["client without the grant"] = notCode
	twice := spaParams()
	twice.Add("redirect_uri", "https://evil.example.com/cb")
	cases["redirect_uri twice"] = twice
	// Even a request that is wrong in other ways gets no redirect.
	bad := spaParams()
	bad.Set("redirect_uri", "https://evil.example.com/cb")
	bad.Set("response_type", "token")
	bad.Del("code_challenge")
	cases["unregistered and otherwise bad"] = bad

	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			status, loc, body := f.authorize(p)
			if status != http.StatusBadRequest || loc != nil {
				t.Fatalf("authorize = %d, Location %v; want 400 and no redirect", status, loc)
			}
			if !strings.Contains(body, "error page") {
				t.Fatalf("body = %q", body)
			}
		})
	}
}

// Once client and redirect URI are good, errors redirect back with error,
// error_description, the exact state and iss.
func TestAuthorizeErrorsRedirect(t *testing.T) {
	f := newFlow(t)
	state := "st8 & = / é ?#x+%20"
	mod := func(fn func(url.Values)) url.Values {
		p := spaParams()
		p.Set("state", state)
		fn(p)
		return p
	}
	cases := []struct {
		name string
		p    url.Values
		code string
	}{
		{"PKCE missing", mod(func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }), "invalid_request"},
		{"PKCE plain", mod(func(p url.Values) { p.Set("code_challenge", verifier); p.Set("code_challenge_method", "plain") }), "invalid_request"},
		{"PKCE method missing", mod(func(p url.Values) { p.Del("code_challenge_method") }), "invalid_request"},
		{"PKCE challenge malformed", mod(func(p url.Values) { p.Set("code_challenge", "short") }), "invalid_request"},
		{"response_type token", mod(func(p url.Values) { p.Set("response_type", "token") }), "unsupported_response_type"},
		{"response_type missing", mod(func(p url.Values) { p.Del("response_type") }), "invalid_request"},
		{"scope not the client's", mod(func(p url.Values) { p.Set("scope", "openid admin") }), "invalid_scope"},
		{"request object", mod(func(p url.Values) { p.Set("request", "eyJ...") }), "request_not_supported"},
		{"request_uri", mod(func(p url.Values) { p.Set("request_uri", "https://evil.example.com/r") }), "request_uri_not_supported"},
		{"response_mode fragment", mod(func(p url.Values) { p.Set("response_mode", "fragment") }), "invalid_request"},
		{"bad prompt", mod(func(p url.Values) { p.Set("prompt", "none login") }), "invalid_request"},
		{"bad max_age", mod(func(p url.Values) { p.Set("max_age", "-1") }), "invalid_request"},
		{"nonce twice", mod(func(p url.Values) { p.Add("nonce", "other") }), "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, loc, body := f.authorize(tc.p)
			if status != http.StatusSeeOther || loc == nil {
				t.Fatalf("authorize = %d %s, want a redirect", status, body)
			}
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), spaRedirect+"?") || q.Get("error") != tc.code || q.Get("error_description") == "" || q.Get("code") != "" {
				t.Fatalf("redirect = %v, want error %s", loc, tc.code)
			}
			if q.Get("state") != state || q.Get("iss") != f.url {
				t.Fatalf("state = %q, iss = %q; want %q and %q", q.Get("state"), q.Get("iss"), state, f.url)
			}
		})
	}
}

// PKCE at the token endpoint: the verifier must be present, well formed
// and match; a failed attempt does not burn the code for its owner.
func TestCodePKCEAttacks(t *testing.T) {
	f := newFlow(t)
	code := f.code(spaParams())
	for name, v := range map[string]string{
		"missing":   "",
		"wrong":     "wrong-verifier-wrong-verifier-wrong-verifier-1",
		"short":     "abc",
		"plain":     challengeOf(verifier), // the challenge itself, as plain would accept
		"bad chars": strings.Repeat("a", 42) + "!",
	} {
		t.Run(name, func(t *testing.T) {
			form := exchange(code)
			if v == "" {
				form.Del("code_verifier")
			} else {
				form.Set("code_verifier", v)
			}
			status, body := f.token(form)
			wantTokenError(t, "exchange", status, body, http.StatusBadRequest, "invalid_grant")
		})
	}
	if status, body := f.token(exchange(code)); status != http.StatusOK {
		t.Fatalf("exchange with the right verifier after failed ones = %d %v", status, body)
	}

	// A confidential client without require_pkce may skip PKCE, but may
	// not send a verifier for a code that had no challenge.
	p := url.Values{"client_id": {"web"}, "response_type": {"code"}, "redirect_uri": {webRedirect}, "state": {"state-0123456789"}, "scope": {"openid"}}
	code = f.code(p)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	status, body := f.token(form, "web", webSecret)
	wantTokenError(t, "verifier without challenge", status, body, http.StatusBadRequest, "invalid_grant")
	form.Del("code_verifier")
	if status, body := f.token(form, "web", webSecret); status != http.StatusOK {
		t.Fatalf("confidential exchange without PKCE = %d %v", status, body)
	}
}

// A code presented again is invalid_grant and revokes what its first use
// issued (RFC 6749 §4.1.2).
func TestCodeReplayRevokes(t *testing.T) {
	f := newFlow(t)
	code := f.code(spaParams())
	status, first := f.token(exchange(code))
	if status != http.StatusOK {
		t.Fatalf("first exchange = %d %v", status, first)
	}
	status, body := f.token(exchange(code))
	wantTokenError(t, "second exchange", status, body, http.StatusBadRequest, "invalid_grant")
	if _, err := f.core.Authenticate(t.Context(), first["access_token"].(string)); err == nil {
		t.Error("the first exchange's access token is still active after the replay")
	}
	status, body = f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {first["refresh_token"].(string)}})
	wantTokenError(t, "refresh after the replay", status, body, http.StatusBadRequest, "invalid_grant")
}

// Concurrent exchanges of one code: exactly one wins, and the losers'
// reuse revokes its tokens too. None is a 500.
func TestCodeConcurrentExchange(t *testing.T) {
	f := newFlow(t)
	code := f.code(spaParams())
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]map[string]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], bodies[i] = f.token(exchange(code))
		}()
	}
	wg.Wait()
	won := -1
	for i, s := range statuses {
		switch {
		case s == http.StatusOK && won < 0:
			won = i
		case s == http.StatusOK:
			t.Fatalf("two exchanges of one code succeeded")
		case s != http.StatusBadRequest || bodies[i]["error"] != "invalid_grant":
			t.Errorf("loser %d = %d %v, want 400 invalid_grant", i, s, bodies[i])
		}
	}
	if won < 0 {
		t.Fatalf("no exchange succeeded: %v", statuses)
	}
	if _, err := f.core.Authenticate(t.Context(), bodies[won]["access_token"].(string)); err == nil {
		t.Error("the winner's access token survived the concurrent reuse")
	}
}

// A code is bound to its client and redirect URI, and lives 60 s.
func TestCodeBindings(t *testing.T) {
	f := newFlow(t)
	t.Run("another client", func(t *testing.T) {
		code := f.code(spaParams())
		form := exchange(code)
		form.Set("client_id", "spa2")
		status, body := f.token(form)
		wantTokenError(t, "exchange by spa2", status, body, http.StatusBadRequest, "invalid_grant")
		if status, body := f.token(exchange(code)); status != http.StatusOK {
			t.Fatalf("the owner's exchange after another client's attempt = %d %v", status, body)
		}
	})
	t.Run("another redirect_uri", func(t *testing.T) {
		code := f.code(spaParams())
		form := exchange(code)
		form.Set("redirect_uri", "http://127.0.0.1:5173/other")
		status, body := f.token(form)
		wantTokenError(t, "exchange", status, body, http.StatusBadRequest, "invalid_grant")
		form.Del("redirect_uri")
		status, body = f.token(form)
		wantTokenError(t, "exchange without redirect_uri", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("redirect_uri left out of both requests", func(t *testing.T) {
		p := spaParams()
		p.Set("client_id", "spa2")
		p.Set("scope", "openid")
		p.Del("redirect_uri")
		form := exchange(f.code(p))
		form.Set("client_id", "spa2")
		form.Del("redirect_uri")
		if status, body := f.token(form); status != http.StatusOK {
			t.Fatalf("exchange without redirect_uri = %d %v", status, body)
		}
	})
	t.Run("after 60 s", func(t *testing.T) {
		code := f.code(spaParams())
		f.clock.Store(61)
		defer f.clock.Store(0)
		status, body := f.token(exchange(code))
		wantTokenError(t, "exchange after 61 s", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("unknown and garbage codes", func(t *testing.T) {
		for _, c := range []string{"lk_ac_nope", "", strings.Repeat("x", 5000)} {
			status, body := f.token(exchange(c))
			if status != http.StatusBadRequest {
				t.Fatalf("code %.10q = %d %v, want 400", c, status, body)
			}
		}
	})
	t.Run("user deactivated after the code was issued", func(t *testing.T) {
		code := f.code(spaParams())
		if err := f.acc.SetStatus(t.Context(), "rl_core", f.userID, accounts.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.acc.SetStatus(t.Context(), "rl_core", f.userID, accounts.StatusActive) }()
		status, body := f.token(exchange(code))
		wantTokenError(t, "exchange for a deactivated user", status, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("a client without the grant", func(t *testing.T) {
		code := f.code(spaParams())
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spaRedirect}, "code_verifier": {verifier}}
		status, body := f.token(form, "backend", webSecret)
		wantTokenError(t, "exchange by backend", status, body, http.StatusBadRequest, "unauthorized_client")
	})
}

// A client's id_token_signed_response_alg picks the signing key of that
// alg (here not the active one) for its ID tokens; at_hash follows the alg.
func TestIDTokenSignedWithTheClientsAlg(t *testing.T) {
	rsaKey, err := config.GenerateKey(config.AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := config.EncodePrivateKeyPEM(rsaKey)
	f := newFlowWith(t, func(y string) string {
		y = strings.Replace(y, "signing_keys:\n", "signing_keys:\n  - {kid: r1, alg: RS256, pem: \""+strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", `\n`)+"\"}\n", 1)
		// r1 first would make it active: move k1 back in front.
		lines := strings.Split(y, "\n")
		for i, l := range lines {
			if strings.Contains(l, "kid: k1") {
				lines[i], lines[i-1] = lines[i-1], lines[i]
				break
			}
		}
		y = strings.Join(lines, "\n")
		return strings.Replace(y, "    scopes: [openid, profile, email, offline_access]\n", "    scopes: [openid, profile, email, offline_access]\n    id_token_signed_response_alg: RS256\n", 1)
	})
	if f.snap.ActiveSigningKey().KID != "k1" || f.snap.Client("spa").IDTokenSignedResponseAlg != config.AlgRS256 {
		t.Fatalf("config: active %s, spa alg %q", f.snap.ActiveSigningKey().KID, f.snap.Client("spa").IDTokenSignedResponseAlg)
	}
	status, tok := f.token(exchange(f.code(spaParams())))
	if status != http.StatusOK {
		t.Fatalf("token = %d %v", status, tok)
	}
	idt, err := jwt.ParseSigned(tok["id_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("ID token is not RS256: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(rsaKey.Public(), &claims); err != nil || idt.Headers[0].KeyID != "r1" {
		t.Fatalf("ID token: kid %q, %v", idt.Headers[0].KeyID, err)
	}
	// The access token is still signed by the active key.
	if _, err := jwt.ParseSigned(tok["access_token"].(string), []jose.SignatureAlgorithm{jose.ES256}); err != nil {
		t.Errorf("access token: %v", err)
	}
}
