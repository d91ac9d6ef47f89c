package server_test

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"
)

// post sends a form with optional Basic credentials and decodes the JSON answer.
func (f *fixture) post(path string, form url.Values, user, pass string) (*http.Response, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx(), http.MethodPost, f.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) (*http.Response, map[string]any) {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			f.t.Fatalf("%s %s: status %d, body is not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	return resp, m
}

func (f *fixture) introspect(token, user, pass string) map[string]any {
	f.t.Helper()
	resp, m := f.post("/oauth2/introspect", url.Values{"token": {token}}, user, pass)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("introspect: status %d: %v", resp.StatusCode, m)
	}
	return m
}

func (f *fixture) ccToken(scopes ...string) string {
	f.t.Helper()
	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: f.secret, TokenURL: f.url("/oauth2/token"), Scopes: scopes}
	tok, err := cc.Token(f.ctx())
	if err != nil {
		f.t.Fatalf("client_credentials: %v", err)
	}
	return tok.AccessToken
}

// verifyJWT checks a JWT access token against the published JWKS, as a
// resource server would, and returns its header and claims.
func (f *fixture) verifyJWT(token string) (jose.Header, map[string]any) {
	f.t.Helper()
	resp, err := http.Get(f.url("/.well-known/jwks.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		f.t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		f.t.Fatalf("parse JWT: %v", err)
	}
	hdr := jws.Signatures[0].Protected
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		f.t.Fatalf("JWKS has %d keys for kid %q", len(keys), hdr.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		f.t.Fatalf("JWT does not verify against the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		f.t.Fatal(err)
	}
	return hdr, claims
}

func TestClientCredentialsFlow(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken("read")

	hdr, claims := f.verifyJWT(token)
	if hdr.KeyID != "k1" || hdr.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("header: kid %q typ %v; want k1, at+jwt", hdr.KeyID, hdr.ExtraHeaders["typ"])
	}
	if claims["iss"] != f.snap.Issuer || claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["scope"] != "read" {
		t.Errorf("claims: %v", claims)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.test" {
		t.Errorf("aud = %v; want [https://api.test]", claims["aud"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat < 599 || exp-iat > 600 {
		t.Errorf("lifetime exp-iat = %v; want the configured 10m", exp-iat)
	}
	if jti, _ := claims["jti"].(string); len(jti) < 20 {
		t.Errorf("jti = %q; want a random id", jti)
	}

	info := f.introspect(token, "svc", f.secret)
	if info["active"] != true || info["scope"] != "read" || info["client_id"] != "svc" || info["sub"] != "svc" {
		t.Fatalf("introspection of a fresh token: %v", info)
	}

	resp, _ := f.post("/oauth2/revoke", url.Values{"token": {token}}, "svc", f.secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
	info = f.introspect(token, "svc", f.secret)
	if len(info) != 1 || info["active"] != false {
		t.Fatalf("introspection after revocation = %v; want exactly {\"active\":false}", info)
	}
}

func TestDefaultScopesAndAudience(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	_, claims := f.verifyJWT(f.ccToken())
	if claims["scope"] != "read write" {
		t.Errorf("scope without a request = %q; want all of the client's scopes", claims["scope"])
	}
	// A client with no audience issues aud: [issuer].
	resp, m := f.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc-post"}, "client_secret": {f.postSecret}}, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("client_secret_post: %d %v", resp.StatusCode, m)
	}
	_, claims = f.verifyJWT(m["access_token"].(string))
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != f.snap.Issuer {
		t.Errorf("aud = %v; want [issuer]", claims["aud"])
	}
}

func TestOpaqueTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{format: "opaque"})
	token := f.ccToken("write")
	if !strings.HasPrefix(token, "lk_at_") || strings.Count(token, ".") != 0 {
		t.Fatalf("opaque token = %q; want lk_at_ and random", token)
	}
	if info := f.introspect(token, "svc", f.secret); info["active"] != true || info["scope"] != "write" {
		t.Fatalf("introspection: %v", info)
	}
}

func TestIntrospectionIsolation(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken()
	if info := f.introspect(token, "other", f.otherSecret); len(info) != 1 || info["active"] != false {
		t.Errorf("a client of another realm sees %v; want exactly {\"active\":false}", info)
	}
	resp, m := f.post("/oauth2/introspect", url.Values{"token": {token}, "client_id": {"svc-post"}, "client_secret": {f.postSecret}}, "", "")
	if resp.StatusCode != http.StatusOK || m["active"] != true {
		t.Errorf("a client of the same realm (client_secret_post) sees %d %v; want active", resp.StatusCode, m)
	}
}

func TestIntrospectionCallerErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken()
	tests := []struct {
		name   string
		form   url.Values
		header string
		status int
		code   string
	}{
		{"public client", url.Values{"token": {token}, "client_id": {"public-app"}}, "", 401, "invalid_client"},
		{"bearer caller", url.Values{"token": {token}}, "Bearer " + token, 401, "invalid_client"},
		{"no authentication", url.Values{"token": {token}}, "", 401, "invalid_client"},
		{"missing token", url.Values{"client_id": {"svc-post"}, "client_secret": {f.postSecret}}, "", 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.url("/oauth2/introspect"), strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, m := f.do(req)
			if resp.StatusCode != tc.status || m["error"] != tc.code {
				t.Fatalf("got %d %v; want %d %s", resp.StatusCode, m, tc.status, tc.code)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestRevokeOtherClientsTokenKeepsItActive(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken()
	resp, _ := f.post("/oauth2/revoke", url.Values{"token": {token}, "client_id": {"svc-post"}, "client_secret": {f.postSecret}}, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke by another client: %d", resp.StatusCode)
	}
	if info := f.introspect(token, "svc", f.secret); info["active"] != true {
		t.Fatalf("another client revoked svc's token: %v", info)
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		body       string
		user, pass string
		status     int
		code       string
	}{
		{"wrong secret", cc.Encode(), "svc", "wrong", 401, "invalid_client"},
		{"unknown client", cc.Encode(), "nobody", "x", 401, "invalid_client"},
		{"no client authentication", cc.Encode(), "", "", 401, "invalid_client"},
		{"basic client using post", with(cc, "client_id", "svc", "client_secret", "x").Encode(), "", "", 401, "invalid_client"},
		{"post client using basic", cc.Encode(), "svc-post", "x", 401, "invalid_client"},
		{"unsupported grant", "grant_type=urn%3Aexample%3Anope", "svc", f.secret, 400, "unsupported_grant_type"},
		{"authorization_code by a client without the grant", "grant_type=authorization_code&code=x", "svc", f.secret, 400, "unauthorized_client"},
		{"missing grant_type", "scope=read", "svc", f.secret, 400, "invalid_request"},
		{"disallowed scope", with(cc, "scope", "admin").Encode(), "svc", f.secret, 400, "invalid_scope"},
		{"disallowed audience", with(cc, "audience", "https://evil.test").Encode(), "svc", f.secret, 400, "invalid_target"},
		{"public client cannot use client_credentials", with(cc, "client_id", "public-app").Encode(), "", "", 400, "unauthorized_client"},
		{"malformed form body", "grant_type=%zz", "svc", f.secret, 400, "invalid_request"},
		{"oversized body", "grant_type=client_credentials&pad=" + strings.Repeat("a", 70<<10), "svc", f.secret, 413, "invalid_request"},
		{"malformed basic header", cc.Encode(), "", "", 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.url("/oauth2/token"), strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			if tc.name == "malformed basic header" {
				req.Header.Set("Authorization", "Basic !!!not-base64")
			}
			resp, m := f.do(req)
			if resp.StatusCode != tc.status || m["error"] != tc.code {
				t.Fatalf("got %d %v; want %d %s", resp.StatusCode, m, tc.status, tc.code)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a WWW-Authenticate challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// assertion builds a client assertion signed by key with the given alg header.
func assertion(t *testing.T, key crypto.Signer, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	hdr := map[jose.HeaderKey]any{"typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	return signJWT(t, key, alg, claims, hdr)
}

func TestOperationalRoutes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.ccToken()
	get := func(path string) (int, string) {
		resp, err := http.Get(f.url(path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	code, body := get("/metrics")
	for _, want := range []string{
		`latchkey_tokens_issued_total{grant_type="client_credentials"} 1`,
		`latchkey_http_requests_total{method="POST",route="/oauth2/token",status="200"} 1`,
		`latchkey_http_request_duration_seconds_bucket{method="POST",route="/oauth2/token"`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, body := get("/nope"); code != 404 || !strings.Contains(body, `"error":"not_found"`) {
		t.Errorf("unknown route: %d %s", code, body)
	}
	a, b := "", ""
	_, a = get("/.well-known/oauth-authorization-server")
	_, b = get("/.well-known/openid-configuration")
	var md map[string]any
	if err := json.Unmarshal([]byte(a), &md); err != nil || a != b {
		t.Fatalf("metadata differs between the two paths or is not JSON: %v", err)
	}
	if md["issuer"] != f.snap.Issuer || md["token_endpoint"] != f.url("/oauth2/token") {
		t.Errorf("metadata: %v", md)
	}
	if rt, _ := md["response_types_supported"].([]any); fmt.Sprint(rt) != "[code]" || md["authorization_endpoint"] != f.url("/oauth2/authorize") {
		t.Errorf("response_types_supported = %v, authorization_endpoint = %v", md["response_types_supported"], md["authorization_endpoint"])
	}
	if gt, _ := md["grant_types_supported"].([]any); fmt.Sprint(gt) != "[client_credentials password authorization_code refresh_token urn:ietf:params:oauth:grant-type:jwt-bearer]" {
		t.Errorf("grant_types_supported = %v; want only what works", md["grant_types_supported"])
	}
}

func TestClientCredentialsOnMariaDB(t *testing.T) {
	f := newFixture(t, fixtureOpts{mysql: true})
	token := f.ccToken("read")
	if info := f.introspect(token, "svc", f.secret); info["active"] != true {
		t.Fatalf("introspection: %v", info)
	}
	if resp, _ := f.post("/oauth2/revoke", url.Values{"token": {token}}, "svc", f.secret); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if info := f.introspect(token, "svc", f.secret); len(info) != 1 || info["active"] != false {
		t.Fatalf("after revocation: %v", info)
	}
	assertionTok := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("mysql-jti", nil))
	if resp, m := f.post("/oauth2/token", f.assertionForm(assertionTok), "", ""); resp.StatusCode != 200 {
		t.Fatalf("private_key_jwt: %d %v", resp.StatusCode, m)
	}
	if resp, _ := f.post("/oauth2/token", f.assertionForm(assertionTok), "", ""); resp.StatusCode != 401 {
		t.Fatalf("replayed assertion on MariaDB: %d", resp.StatusCode)
	}
}
