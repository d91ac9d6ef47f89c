package server_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

// The LoginID surface on a real server: service tokens signed as LoginID's
// SDKs sign them, real HTTP on loopback, SQLite (and MariaDB when
// configured).

// allLoginIDScopes are the scopes of cred_a and of the OAuth client lid-admin.
var allLoginIDScopes = config.LoginIDScopes

type lidFixture struct {
	*fixture
	keyA, keyN, keyO *ecdsa.PrivateKey // cred_a, cred_narrow (users.retrieve only), cred_other (realm rl_other, without passkeys)
	adminSecret      string            // secret of lid-admin, a client_credentials client with every LoginID scope
}

// newLoginIDFixture is the server fixture with three API credentials, an
// OAuth client for the LoginID routes and the surface at /loginid; realm
// rl_test has passkeys (relying party localhost, origin
// http://localhost:8080), rl_other has none.
func newLoginIDFixture(t testing.TB, o fixtureOpts) *lidFixture {
	t.Helper()
	lf := &lidFixture{}
	if r := o.replicaOf; r != nil {
		panic("use (*lidFixture).replica")
	}
	lf.keyA, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lf.keyN, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lf.keyO, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lf.adminSecret = "lid-admin-secret-" + randomID() + randomID()
	pub := func(k *ecdsa.PrivateKey) string {
		b, _ := config.EncodePublicKeyPEM(&k.PublicKey)
		return onePEM(t, b)
	}
	o.edit = func(y string) string {
		// Passkeys in rl_test, with the relying party the software
		// authenticator of the passkey tests answers as; none in rl_other.
		y = strings.Replace(y, "  - {id: rl_test, name: Test, lockout: {max_failures: 3, window: 1m}}",
			"  - {id: rl_test, name: Test, lockout: {max_failures: 3, window: 1m}, passkeys: true}", 1)
		y = strings.Replace(y, "realms:\n", "webauthn: {rp_id: localhost, origins: [\"http://localhost:8080\"]}\nrealms:\n", 1)
		y = strings.Replace(y, "environments:\n", fmt.Sprintf(`  - id: lid-admin
    realm: rl_test
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: [client_credentials]
    scopes: [%s, credentials.force_add]
environments:
`, hashOf(t, lf.adminSecret), strings.Join(allLoginIDScopes, ", ")), 1)
		return y + fmt.Sprintf(`api_credentials:
  - {id: cred_a, realm: rl_test, client: app, public_keys: [{alg: ES256, pem: "%s"}], scopes: [%s]}
  - {id: cred_narrow, realm: rl_test, client: app, public_keys: [{alg: ES256, pem: "%s"}], scopes: [users.retrieve]}
  - {id: cred_other, realm: rl_other, client: other, public_keys: [{alg: ES256, pem: "%s"}], scopes: [users.retrieve, auth.login, auth.register, credentials.add, credentials.force, tx.create]}
compat:
  loginid: {enabled: true, prefix: /loginid}
`, pub(lf.keyA), strings.Join(allLoginIDScopes, ", "), pub(lf.keyN), pub(lf.keyO))
	}
	lf.fixture = newFixture(t, o)
	return lf
}

// replica starts a second server on lf's MySQL database with the same config.
func (lf *lidFixture) replica(t testing.TB) *lidFixture {
	r := *lf
	r.fixture = newFixture(t, fixtureOpts{replicaOf: lf.fixture})
	return &r
}

// st signs a service token of cred_a, as the SDKs do.
func (lf *lidFixture) st(scopes []string, o servicetoken.Options) string {
	lf.t.Helper()
	return lf.stOf("cred_a", lf.keyA, scopes, o)
}

func (lf *lidFixture) stOf(cred string, key *ecdsa.PrivateKey, scopes []string, o servicetoken.Options) string {
	lf.t.Helper()
	tok, err := servicetoken.Sign(cred, key, scopes, o)
	if err != nil {
		lf.t.Fatal(err)
	}
	return tok
}

// oauthToken is a client_credentials token of lid-admin with scopes.
func (lf *lidFixture) oauthToken(scopes ...string) string {
	lf.t.Helper()
	cc := clientcredentials.Config{ClientID: "lid-admin", ClientSecret: lf.adminSecret, TokenURL: lf.url("/oauth2/token"), Scopes: scopes}
	tok, err := cc.Token(lf.ctx())
	if err != nil {
		lf.t.Fatalf("client_credentials: %v", err)
	}
	return tok.AccessToken
}

type lidResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r lidResp) code() string { s, _ := r.body["code"].(string); return s }

func (r lidResp) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

// send calls a LoginID route; it is safe in goroutines (no t.Fatal).
func (lf *lidFixture) send(method, path, token string, body any, hdr ...string) (lidResp, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return lidResp{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, lf.url("/loginid"+path), rd)
	if err != nil {
		return lidResp{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return lidResp{}, err
	}
	defer resp.Body.Close()
	out := lidResp{status: resp.StatusCode, header: resp.Header}
	out.raw, _ = io.ReadAll(resp.Body)
	if len(out.raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(out.raw, &out.body); err != nil {
			return out, fmt.Errorf("%s %s: body is not JSON: %q", method, path, out.raw)
		}
	}
	return out, nil
}

// call is send for the test goroutine.
func (lf *lidFixture) call(method, path, token string, body any, hdr ...string) lidResp {
	lf.t.Helper()
	r, err := lf.send(method, path, token, body, hdr...)
	if err != nil {
		lf.t.Fatal(err)
	}
	return r
}

// mustCreate creates a user through the surface and returns its id.
func (lf *lidFixture) mustCreate(username, password string) string {
	lf.t.Helper()
	body := map[string]any{"username": username}
	if password != "" {
		body["password"] = password
	}
	r := lf.call("POST", "/manage/users", lf.st([]string{"users.create"}, servicetoken.Options{}), body)
	if r.status != 200 {
		lf.t.Fatalf("create %s: %v", username, r)
	}
	return r.body["id"].(string)
}

// seedRow is one row of the seed's endpoint/scope table.
type seedRow struct {
	method, path, scope string
	required            bool
}

// seedTable reads the seed's endpoint/scope table, kept verbatim in the
// surface's testdata.
func seedTable(t *testing.T) []seedRow {
	t.Helper()
	f, err := os.Open("../handlers/loginid/testdata/seed-scopes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []seedRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 3 {
			continue
		}
		ep, req, scope := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
		method, path, ok := strings.Cut(ep, " ")
		if !ok || (req != "Yes" && req != "Optional") {
			continue
		}
		rows = append(rows, seedRow{method, path, scope, req == "Yes"})
	}
	if len(rows) != 20 {
		t.Fatalf("the seed's table has %d rows, want 20", len(rows))
	}
	return rows
}

// Every route of the seed's table is guarded exactly as the table says:
// "Yes" is 401 without a token; a token without the scope, or with a scope
// beyond its credential's, is 403; a token with the scope passes — a
// service token or a client_credentials access token; a user's access
// token never does. The credentials.force row also takes the SDKs'
// credentials.force_add.
func TestLoginIDSeedTableGuards(t *testing.T) {
	lf := newLoginIDFixture(t, fixtureOpts{})
	lf.addUser("appuser", alicePassword)
	userToken := lf.login("appuser", alicePassword).AccessToken
	for _, row := range seedTable(t) {
		t.Run(row.method+" "+row.path, func(t *testing.T) {
			path := func() string {
				p := strings.ReplaceAll(row.path, "{type}", "short")
				if strings.Contains(p, "{user_id}") {
					p = strings.ReplaceAll(p, "{user_id}", lf.mustCreate("u"+strings.ToLower(randomID()[:10]), ""))
				}
				return p
			}
			others := slices.DeleteFunc(slices.Clone(allLoginIDScopes), func(s string) bool { return s == row.scope })
			passed := func(r lidResp) bool { return r.status != 401 && r.status != 403 && r.status != 404 && r.status != 405 }

			// No token.
			r := lf.call(row.method, path(), "", map[string]any{})
			switch {
			case row.required && (r.status != 401 || r.code() != "unauthorized"):
				t.Errorf("no token on a Yes route: %v, want 401 unauthorized", r)
			case !row.required && !passed(r):
				t.Errorf("no token on an Optional route: %v, want past the guard", r)
			}
			// A service token with every other scope.
			if r := lf.call(row.method, path(), lf.st(others, servicetoken.Options{}), map[string]any{}); r.status != 403 || r.code() != "operation_not_allowed" {
				t.Errorf("token without %s: %v, want 403 operation_not_allowed", row.scope, r)
			}
			// The scope, from a credential that does not have it.
			if row.scope != "users.retrieve" {
				if r := lf.call(row.method, path(), lf.stOf("cred_narrow", lf.keyN, []string{row.scope}, servicetoken.Options{}), map[string]any{}); r.status != 403 {
					t.Errorf("scope beyond the credential's: %v, want 403", r)
				}
			}
			// A bad token is never fine, not even on an Optional route.
			if r := lf.call(row.method, path(), lf.stOf("cred_a", lf.keyN, []string{row.scope}, servicetoken.Options{}), map[string]any{}); r.status != 401 {
				t.Errorf("token signed by another key: %v, want 401", r)
			}
			// With the scope: past the guard.
			r = lf.call(row.method, path(), lf.st([]string{row.scope}, servicetoken.Options{}), map[string]any{})
			if !passed(r) {
				t.Errorf("service token with %s: %v, want past the guard", row.scope, r)
			}
			if r.status >= 500 {
				t.Errorf("service token with %s: %v, want a 4xx for an empty body", row.scope, r)
			}
			if row.scope == "credentials.force" {
				if r := lf.call(row.method, path(), lf.st([]string{"credentials.force_add"}, servicetoken.Options{}), map[string]any{}); !passed(r) {
					t.Errorf("the SDKs' credentials.force_add: %v, want past the guard", r)
				}
				if r := lf.call(row.method, path(), lf.oauthToken("credentials.force_add"), map[string]any{}); !passed(r) {
					t.Errorf("access token with credentials.force_add: %v, want past the guard", r)
				}
			}
			// OAuth access tokens.
			if r := lf.call(row.method, path(), lf.oauthToken(row.scope), map[string]any{}); !passed(r) {
				t.Errorf("client_credentials token with %s: %v, want past the guard", row.scope, r)
			}
			if r := lf.call(row.method, path(), lf.oauthToken(others...), map[string]any{}); r.status != 403 {
				t.Errorf("client_credentials token without %s: %v, want 403", row.scope, r)
			}
			if r := lf.call(row.method, path(), userToken, map[string]any{}); r.status != 401 {
				t.Errorf("a user's access token: %v, want 401", r)
			}
			if r := lf.call(row.method, path(), "lk_at_"+randomID(), map[string]any{}); r.status != 401 {
				t.Errorf("an unknown access token: %v, want 401", r)
			}
		})
	}
}

// Each rule of the service-token check, broken by exactly one token.
func TestLoginIDServiceTokenRules(t *testing.T) {
	lf := newLoginIDFixture(t, fixtureOpts{})
	aliceID := lf.mustCreate("alice", "")
	retrieve := []string{"users.retrieve"}
	now := time.Now()
	claims := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{"client_id": "cred_a", "type": "users.retrieve", "nonce": randomID(), "iat": now.Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	es := func(c map[string]any) string {
		return signJWT(t, lf.keyA, jose.ES256, c, map[jose.HeaderKey]any{"typ": "JWT"})
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pubPEM, _ := config.EncodePublicKeyPEM(&lf.keyA.PublicKey)
	replayed := lf.st(retrieve, servicetoken.Options{})
	if r := lf.call("POST", "/manage/users/retrieve", replayed, map[string]any{"username": "alice"}); r.status != 200 {
		t.Fatalf("setup: first use: %v", r)
	}
	tests := []struct {
		name   string
		token  string
		body   map[string]any
		hdr    []string
		status int
		code   string
	}{
		{"valid (control)", lf.st(retrieve, servicetoken.Options{}), nil, nil, 200, ""},
		{"valid, scope claim instead of type", es(claims(func(c map[string]any) { delete(c, "type"); c["scope"] = "users.retrieve" })), nil, nil, 200, ""},
		{"valid, X-Client-ID agrees", lf.st(retrieve, servicetoken.Options{}), nil, []string{"X-Client-ID", "cred_a"}, 200, ""},
		{"valid, bound to the user by username", lf.st(retrieve, servicetoken.Options{Username: "ALICE"}), nil, nil, 200, ""},
		{"valid, bound to the user by user_id", lf.st(retrieve, servicetoken.Options{UserID: aliceID}), nil, nil, 200, ""},
		{"wrong alg: HS256 keyed with the public key", signJWT(t, pubPEM, jose.HS256, claims(nil), nil), nil, nil, 401, "unauthorized"},
		{"wrong alg: ES384", signJWT(t, p384, jose.ES384, claims(nil), nil), nil, nil, 401, "unauthorized"},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(mustJSON(claims(nil))) + ".", nil, nil, 401, "unauthorized"},
		{"unknown credential", es(claims(func(c map[string]any) { c["client_id"] = "cred_nobody" })), nil, nil, 401, "unauthorized"},
		{"another credential's key", lf.stOf("cred_a", lf.keyN, retrieve, servicetoken.Options{}), nil, nil, 401, "unauthorized"},
		{"iat 6 minutes old", lf.st(retrieve, servicetoken.Options{Now: func() time.Time { return now.Add(-6 * time.Minute) }}), nil, nil, 401, "unauthorized"},
		{"iat in the future", lf.st(retrieve, servicetoken.Options{Now: func() time.Time { return now.Add(2 * time.Minute) }}), nil, nil, 401, "unauthorized"},
		{"no iat", es(claims(func(c map[string]any) { delete(c, "iat") })), nil, nil, 401, "unauthorized"},
		{"no nonce", es(claims(func(c map[string]any) { delete(c, "nonce") })), nil, nil, 401, "unauthorized"},
		{"replayed nonce", replayed, nil, nil, 401, "unauthorized"},
		{"scope missing", lf.st([]string{"users.create"}, servicetoken.Options{}), nil, nil, 403, "operation_not_allowed"},
		{"scope beyond the credential's", lf.stOf("cred_narrow", lf.keyN, []string{"users.retrieve", "users.delete"}, servicetoken.Options{}), nil, nil, 403, "operation_not_allowed"},
		{"X-Client-ID mismatch", lf.st(retrieve, servicetoken.Options{}), nil, []string{"X-Client-ID", "cred_narrow"}, 401, "unauthorized"},
		{"user mismatch (username)", lf.st(retrieve, servicetoken.Options{Username: "bob"}), nil, nil, 403, "operation_not_allowed"},
		{"user mismatch (user_id)", lf.st(retrieve, servicetoken.Options{UserID: "usr_someoneelse0000000000"}), nil, nil, 403, "operation_not_allowed"},
		{"body client_id names another credential", lf.st(retrieve, servicetoken.Options{}), map[string]any{"username": "alice", "client_id": "cred_narrow"}, nil, 401, "unauthorized"},
		{"token of another realm's credential", lf.stOf("cred_other", lf.keyO, retrieve, servicetoken.Options{}), nil, nil, 404, "user_not_found"},
		{"Basic instead of Bearer", "", nil, []string{"Authorization", "Basic Y3JlZF9hOng="}, 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = map[string]any{"username": "alice"}
			}
			r := lf.call("POST", "/manage/users/retrieve", tc.token, body, tc.hdr...)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %v, want %d %q", r, tc.status, tc.code)
			}
			if tc.status == 200 && r.body["id"] != aliceID {
				t.Fatalf("retrieved %v", r.body)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// A backend that signs exactly as LoginID's SDKs do — header
// {"alg":"ES256","typ":"JWT"}, claims client_id, type, a 16-alphanumeric
// nonce, iat, then username — and sends X-Client-ID, works unchanged; the
// user JWT it gets passes the SDKs' verifyToken: ES256 with a kid whose
// PEM GET /certs serves, and udata equal to the username.
func TestLoginIDSDKShapedTokens(t *testing.T) { onEachDB(t, testLoginIDSDKShapedTokens) }

func testLoginIDSDKShapedTokens(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	sdk := func(scope, username string) string {
		tok := lf.st([]string{scope}, servicetoken.Options{Username: username})
		parts := strings.Split(tok, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if string(hdr) != `{"alg":"ES256","typ":"JWT"}` {
			t.Fatalf("header %s", hdr)
		}
		var c struct {
			Nonce string `json:"nonce"`
		}
		_ = json.Unmarshal(payload, &c)
		if !strings.HasPrefix(string(payload), `{"client_id":"cred_a","type":"`+scope+`","nonce":"`) || len(c.Nonce) != 16 ||
			!strings.HasSuffix(string(payload), `,"username":"`+username+`"}`) {
			t.Fatalf("payload %s", payload)
		}
		return tok
	}
	x := []string{"X-Client-ID", "cred_a"}
	r := lf.call("POST", "/register/password", sdk("auth.register", "sdkuser"), map[string]any{"client_id": "cred_a", "username": "sdkuser", "password": alicePassword}, x...)
	if r.status != 200 {
		t.Fatalf("register: %v", r)
	}
	r = lf.call("POST", "/authenticate/password", sdk("auth.login", "sdkuser"), map[string]any{"client_id": "cred_a", "username": "sdkuser", "password": alicePassword}, x...)
	if r.status != 200 {
		t.Fatalf("authenticate: %v", r)
	}
	jwt := r.body["jwt"].(string)
	// verifyToken(jwt, username), as the SDKs do it.
	hdr := strings.Split(jwt, ".")[0]
	var h struct{ Alg, Kid string }
	b, _ := base64.RawURLEncoding.DecodeString(hdr)
	_ = json.Unmarshal(b, &h)
	if h.Alg != "ES256" || h.Kid == "" {
		t.Fatalf("user JWT header %s", b)
	}
	cert := lf.call("GET", "/certs?kid="+h.Kid, "", nil)
	if cert.status != 200 {
		t.Fatalf("certs: %v", cert)
	}
	blk, _ := pem.Decode(cert.raw)
	if blk == nil {
		t.Fatalf("certs: not PEM: %q", cert.raw)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		t.Fatalf("the user JWT does not verify with the key of /certs: %v", err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["udata"] != "sdkuser" || claims["sub"] != r.body["user"].(map[string]any)["id"] || claims["client_id"] != "app" {
		t.Fatalf("user JWT claims %v", claims)
	}
	rr := lf.call("POST", "/manage/users/retrieve", sdk("users.retrieve", "sdkuser"), map[string]any{"username": "sdkuser"}, x...)
	if rr.status != 200 || rr.body["username"] != "sdkuser" {
		t.Fatalf("retrieve: %v", rr)
	}
}

// The user routes, end to end.
func TestLoginIDManageUsersFlow(t *testing.T) { onEachDB(t, testLoginIDManageUsersFlow) }

func testLoginIDManageUsersFlow(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	tok := func(scope string) string { return lf.st([]string{scope}, servicetoken.Options{}) }

	r := lf.call("POST", "/manage/users", tok("users.create"), map[string]any{"username": "Carol", "email": "carol@example.test", "password": alicePassword})
	if r.status != 200 {
		t.Fatalf("create: %v", r)
	}
	carol := r.body
	id, _ := carol["id"].(string)
	if !strings.HasPrefix(id, "usr_") || carol["username"] != "Carol" || carol["email"] != "carol@example.test" || carol["status"] != "active" || carol["created_at"] == "" {
		t.Fatalf("user object %v", carol)
	}
	if r := lf.call("POST", "/manage/users", tok("users.create"), map[string]any{"username": "carol"}); r.status != 409 || r.code() != "user_already_exists" {
		t.Fatalf("duplicate (case-insensitive) username: %v", r)
	}
	if r := lf.call("POST", "/manage/users", tok("users.create"), map[string]any{"username": "dave", "email": "no-at-sign", "password": "short"}); r.status != 400 || r.code() != "invalid_parameter" ||
		!strings.Contains(r.body["message"].(string), "email") || !strings.Contains(r.body["message"].(string), "password") {
		t.Fatalf("invalid user (every problem at once): %v", r)
	}
	if r := lf.call("POST", "/manage/users", tok("users.create"), nil); r.status != 400 {
		t.Fatalf("no body: %v", r)
	}
	req, _ := http.NewRequest("POST", lf.url("/loginid/manage/users"), strings.NewReader(`{"username": 5}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok("users.create"))
	if resp, m := lf.do(req); resp.StatusCode != 400 || m["code"] != "invalid_parameter" {
		t.Fatalf("wrong JSON type: %d %v", resp.StatusCode, m)
	}
	big := map[string]any{"username": strings.Repeat("x", 70<<10)}
	if r := lf.call("POST", "/manage/users", tok("users.create"), big); r.status != 413 {
		t.Fatalf("oversized body: %v", r)
	}

	// Retrieve by username (any case) and by user_id.
	for _, body := range []map[string]any{{"username": "CAROL"}, {"user_id": id}} {
		if r := lf.call("POST", "/manage/users/retrieve", tok("users.retrieve"), body); r.status != 200 || r.body["id"] != id {
			t.Fatalf("retrieve %v: %v", body, r)
		}
	}
	for _, body := range []map[string]any{{"username": "nobody"}, {"user_id": "usr_nobody"}, {"user_id": strings.Repeat("z", 400)}} {
		if r := lf.call("POST", "/manage/users/retrieve", tok("users.retrieve"), body); r.status != 404 || r.code() != "user_not_found" {
			t.Fatalf("retrieve unknown %v: %v", body, r)
		}
	}
	if r := lf.call("POST", "/manage/users/retrieve", tok("users.retrieve"), map[string]any{"username": "carol", "user_id": id}); r.status != 400 {
		t.Fatalf("both username and user_id: %v", r)
	}

	// A refused request leaves its token unused: the nonce goes last.
	once := tok("users.retrieve")
	if r := lf.call("POST", "/manage/users/retrieve", once, map[string]any{"username": "nobody"}); r.status != 404 {
		t.Fatalf("unknown user: %v", r)
	}
	if r := lf.call("POST", "/manage/users/retrieve", once, map[string]any{"username": "carol"}); r.status != 200 {
		t.Fatalf("the token of a refused request must still work: %v", r)
	}
	if r := lf.call("POST", "/manage/users/retrieve", once, map[string]any{"username": "carol"}); r.status != 401 {
		t.Fatalf("and then only once: %v", r)
	}

	// The same for a write: a taken username rolls the nonce back with the insert.
	onceCreate := tok("users.create")
	if r := lf.call("POST", "/manage/users", onceCreate, map[string]any{"username": "carol"}); r.status != 409 {
		t.Fatalf("taken username: %v", r)
	}
	if r := lf.call("POST", "/manage/users", onceCreate, map[string]any{"username": "carol2"}); r.status != 200 {
		t.Fatalf("the token of a refused create must still work: %v", r)
	}
	if r := lf.call("POST", "/manage/users", onceCreate, map[string]any{"username": "carol3"}); r.status != 401 {
		t.Fatalf("and then only once: %v", r)
	}

	// Deactivate: the user's tokens stop working and login is refused.
	login := lf.call("POST", "/authenticate/password", tok("auth.login"), map[string]any{"username": "carol", "password": alicePassword})
	if login.status != 200 {
		t.Fatalf("login: %v", login)
	}
	userJWT := login.body["jwt"].(string)
	if !lf.active(userJWT) {
		t.Fatal("the user JWT must introspect as active")
	}
	if r := lf.call("PUT", "/manage/users/"+id+"/activate", tok("users.activate"), nil); r.status != 400 || r.code() != "user_not_deactivated" {
		t.Fatalf("activate an active user: %v", r)
	}
	if r := lf.call("PUT", "/manage/users/"+id+"/deactivate", tok("users.deactivate"), nil); r.status != 200 || r.body["status"] != "deactivated" {
		t.Fatalf("deactivate: %v", r)
	}
	if lf.active(userJWT) {
		t.Fatal("a deactivated user's token must stop working")
	}
	if r := lf.call("POST", "/authenticate/password", tok("auth.login"), map[string]any{"username": "carol", "password": alicePassword}); r.status != 401 {
		t.Fatalf("login of a deactivated user: %v", r)
	}
	if r := lf.call("PUT", "/manage/users/"+id+"/deactivate", tok("users.deactivate"), nil); r.status != 400 || r.code() != "user_not_activated" {
		t.Fatalf("deactivate a deactivated user: %v", r)
	}
	if r := lf.call("PUT", "/manage/users/"+id+"/activate", tok("users.activate"), nil); r.status != 200 || r.body["status"] != "active" {
		t.Fatalf("activate: %v", r)
	}
	if r := lf.call("PUT", "/manage/users/usr_nobody/activate", tok("users.activate"), nil); r.status != 404 {
		t.Fatalf("activate unknown: %v", r)
	}

	// Delete, by body and by path: the user and their tokens are gone.
	login = lf.call("POST", "/authenticate/password", tok("auth.login"), map[string]any{"username": "carol", "password": alicePassword})
	userJWT = login.body["jwt"].(string)
	if r := lf.call("POST", "/manage/users/delete", tok("users.delete"), map[string]any{"username": "carol"}); r.status != 204 || len(r.raw) != 0 {
		t.Fatalf("delete: %v", r)
	}
	if lf.active(userJWT) {
		t.Fatal("a deleted user's token must stop working")
	}
	if r := lf.call("POST", "/manage/users/retrieve", tok("users.retrieve"), map[string]any{"user_id": id}); r.status != 404 {
		t.Fatalf("retrieve deleted: %v", r)
	}
	if r := lf.call("POST", "/manage/users/delete", tok("users.delete"), map[string]any{"username": "carol"}); r.status != 404 {
		t.Fatalf("delete again: %v", r)
	}
	eve := lf.mustCreate("eve", "")
	if r := lf.call("DELETE", "/manage/users/"+eve, tok("users.delete"), nil); r.status != 204 {
		t.Fatalf("DELETE by path: %v", r)
	}
	if r := lf.call("DELETE", "/manage/users/"+eve, tok("users.delete"), nil); r.status != 404 {
		t.Fatalf("DELETE again: %v", r)
	}

	// Binding: a token for one user cannot act on another.
	frank := lf.mustCreate("frank", "")
	if r := lf.call("DELETE", "/manage/users/"+frank, lf.st([]string{"users.delete"}, servicetoken.Options{Username: "someone"}), nil); r.status != 403 {
		t.Fatalf("delete with a token for another user: %v", r)
	}
	if r := lf.call("PUT", "/manage/users/"+frank+"/deactivate", lf.st([]string{"users.deactivate"}, servicetoken.Options{UserID: eve}), nil); r.status != 403 {
		t.Fatalf("deactivate with a token for another user: %v", r)
	}
	if r := lf.call("POST", "/manage/users", lf.st([]string{"users.create"}, servicetoken.Options{Username: "grace"}), map[string]any{"username": "heidi"}); r.status != 403 {
		t.Fatalf("create with a token for another username: %v", r)
	}
	if r := lf.call("POST", "/manage/users/retrieve", tok("users.retrieve"), map[string]any{"user_id": frank}); r.status != 200 || r.body["status"] != "active" {
		t.Fatalf("the refused requests changed frank: %v", r)
	}

	// A client_credentials access token with the scope works too.
	if r := lf.call("POST", "/manage/users/retrieve", lf.oauthToken("users.retrieve"), map[string]any{"user_id": frank}); r.status != 200 {
		t.Fatalf("retrieve with an access token: %v", r)
	}
	// Nothing crosses realms.
	if r := lf.call("POST", "/manage/users/retrieve", lf.stOf("cred_other", lf.keyO, []string{"users.retrieve"}, servicetoken.Options{}), map[string]any{"user_id": frank}); r.status != 404 {
		t.Fatalf("another realm's credential sees the user: %v", r)
	}
}

// Registration and login answer LoginID's AuthenticationResponse.
func TestLoginIDRegisterAndAuthenticate(t *testing.T) {
	onEachDB(t, testLoginIDRegisterAndAuthenticate)
}

func testLoginIDRegisterAndAuthenticate(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	reg := func(token string, body map[string]any, hdr ...string) lidResp {
		return lf.call("POST", "/register/password", token, body, hdr...)
	}
	r := reg(lf.st([]string{"auth.register"}, servicetoken.Options{Username: "ivan"}), map[string]any{"username": "ivan", "password": alicePassword, "password_confirmation": alicePassword})
	if r.status != 200 {
		t.Fatalf("register: %v", r)
	}
	checkAuthResponse(t, lf, r, "ivan", "cred_a")
	if r := reg("", map[string]any{"client_id": "cred_a", "username": "judy", "password": alicePassword}); r.status != 200 {
		t.Fatalf("register without a token, client_id in the body: %v", r)
	}
	if r := reg("", map[string]any{"username": "judy2", "password": alicePassword}); r.status != 400 || r.code() != "invalid_parameter" {
		t.Fatalf("register with neither token nor client_id: %v", r)
	}
	if r := reg("", map[string]any{"client_id": "cred_nobody", "username": "judy3", "password": alicePassword}); r.status != 400 {
		t.Fatalf("register with an unknown client_id: %v", r)
	}
	if r := reg("", map[string]any{"client_id": "cred_a", "username": "judy4", "password": alicePassword}, "X-Client-ID", "cred_narrow"); r.status != 400 {
		t.Fatalf("register with X-Client-ID disagreeing with client_id: %v", r)
	}
	if r := reg("garbage", map[string]any{"client_id": "cred_a", "username": "judy5", "password": alicePassword}); r.status != 401 {
		t.Fatalf("a bad token on an Optional route: %v", r)
	}
	if r := reg("", map[string]any{"client_id": "cred_a", "username": "ken", "password": alicePassword, "password_confirmation": "something else"}); r.status != 400 {
		t.Fatalf("confirmation mismatch: %v", r)
	}
	if r := reg("", map[string]any{"client_id": "cred_a", "username": "ivan", "password": alicePassword}); r.status != 409 {
		t.Fatalf("register a taken username: %v", r)
	}
	if r := reg(lf.oauthToken("auth.register"), map[string]any{"username": "leo", "password": alicePassword}); r.status != 400 {
		t.Fatalf("an access token must name the credential to issue as: %v", r)
	}
	if r := reg(lf.oauthToken("auth.register"), map[string]any{"client_id": "cred_other", "username": "leo", "password": alicePassword}); r.status != 401 {
		t.Fatalf("an access token naming another realm's credential: %v", r)
	}
	if r := reg(lf.oauthToken("auth.register"), map[string]any{"client_id": "cred_a", "username": "leo", "password": alicePassword}); r.status != 200 {
		t.Fatalf("an access token naming its realm's credential: %v", r)
	}
	if lf.userCount() != 3 {
		t.Fatalf("%d users, want ivan, judy and leo", lf.userCount())
	}

	login := func(token string, body map[string]any) lidResp {
		return lf.call("POST", "/authenticate/password", token, body)
	}
	r = login(lf.st([]string{"auth.login"}, servicetoken.Options{}), map[string]any{"username": "IVAN", "password": alicePassword})
	if r.status != 200 {
		t.Fatalf("login: %v", r)
	}
	checkAuthResponse(t, lf, r, "ivan", "cred_a")
	if r := login("", map[string]any{"client_id": "cred_a", "username": "judy", "password": alicePassword}); r.status != 200 {
		t.Fatalf("login without a token: %v", r)
	}
	for _, body := range []map[string]any{
		{"client_id": "cred_a", "username": "judy", "password": "wrong password!"},
		{"client_id": "cred_a", "username": "nobody", "password": alicePassword},
	} {
		if r := login("", body); r.status != 401 || r.code() != "unauthorized" || r.body["message"] != "The username or password is incorrect." {
			t.Fatalf("login %v: %v", body, r)
		}
	}
	if r := login("", map[string]any{"client_id": "cred_a", "username": "judy"}); r.status != 400 {
		t.Fatalf("login without a password: %v", r)
	}
	if r := login(lf.st([]string{"auth.login"}, servicetoken.Options{Username: "judy"}), map[string]any{"username": "ivan", "password": alicePassword}); r.status != 403 {
		t.Fatalf("login with a token for another user: %v", r)
	}
	if r := login(lf.oauthToken("auth.login"), map[string]any{"client_id": "cred_a", "username": "leo", "password": alicePassword}); r.status != 200 {
		t.Fatalf("login with an access token: %v", r)
	}
}

func checkAuthResponse(t *testing.T, lf *lidFixture, r lidResp, username, client string) {
	t.Helper()
	user, _ := r.body["user"].(map[string]any)
	cl, _ := r.body["client"].(map[string]any)
	cred, _ := r.body["credential"].(map[string]any)
	if r.body["is_authenticated"] != true || user["username"] != username || user["namespace_id"] != "rl_test" ||
		!strings.HasPrefix(user["id"].(string), "usr_") || cl["id"] != client || cl["type"] != "native" ||
		cred["type"] != "password" || len(cred["uuid"].(string)) != 36 || cred["name"] == "" {
		t.Fatalf("AuthenticationResponse %s", r.raw)
	}
	jwt, _ := r.body["jwt"].(string)
	_, claims := lf.verifyJWT(jwt)
	if claims["sub"] != user["id"] || claims["udata"] != username || claims["client_id"] != "app" {
		t.Fatalf("user JWT claims %v", claims)
	}
	if info := lf.introspect(jwt, "svc", lf.secret); info["active"] != true || info["sub"] != user["id"] {
		t.Fatalf("introspection of the user JWT: %v", info)
	}
}

func TestLoginIDCertsAndHTTP(t *testing.T) {
	lf := newLoginIDFixture(t, fixtureOpts{})
	r := lf.call("GET", "/certs?kid=k1", "", nil)
	want, _ := config.EncodePublicKeyPEM(lf.snap.SigningKeys[0].Key.Public())
	if r.status != 200 || !bytes.Equal(r.raw, want) {
		t.Fatalf("certs: %d %q", r.status, r.raw)
	}
	if r := lf.call("GET", "/certs?kid=nope", "", nil); r.status != 404 || r.code() != "not_found" {
		t.Fatalf("unknown kid: %v", r)
	}
	if r := lf.call("GET", "/certs", "", nil); r.status != 400 || r.code() != "invalid_parameter" {
		t.Fatalf("no kid: %v", r)
	}
}

// The database going away is a 503 with Retry-After, never a 500 or a 401.
func TestLoginIDDatabaseDown(t *testing.T) {
	lf := newLoginIDFixture(t, fixtureOpts{})
	lf.mustCreate("mallory", alicePassword)
	lf.store.Close()
	for _, c := range []struct {
		path, scope string
		body        map[string]any
	}{
		{"/manage/users/retrieve", "users.retrieve", map[string]any{"username": "mallory"}},
		{"/manage/users", "users.create", map[string]any{"username": "nina"}},
		{"/authenticate/password", "auth.login", map[string]any{"username": "mallory", "password": alicePassword}},
	} {
		r := lf.call("POST", c.path, lf.st([]string{c.scope}, servicetoken.Options{}), c.body)
		if r.status != 503 || r.header.Get("Retry-After") == "" || r.body["message"] != "Internal server error" || r.body["request_id"] == "" || len(r.body) != 2 {
			t.Errorf("%s with the database down: %v, want 503 with Retry-After", c.path, r)
		}
	}
	if r := lf.call("POST", "/manage/users/retrieve", lf.oauthTokenDown(), map[string]any{"username": "mallory"}); r.status != 503 {
		t.Errorf("an access token with the database down: %v, want 503", r)
	}
}

// oauthTokenDown is any JWT-shaped access token: with the database down its
// lookup cannot answer.
func (lf *lidFixture) oauthTokenDown() string { return "lk_at_" + randomID() }

// Lockout holds under 20 parallel wrong passwords: each reserves a failure
// slot first, so after max_failures (3) even the right password is refused.
func TestLoginIDLockoutParallel(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			lf := newLoginIDFixture(t, fixtureOpts{mysql: db == "mysql"})
			lf.mustCreate("oscar", alicePassword)
			statuses := parallel(20, func(i int) (lidResp, error) {
				return lf.send("POST", "/authenticate/password", lf.st([]string{"auth.login"}, servicetoken.Options{}),
					map[string]any{"username": "oscar", "password": fmt.Sprintf("wrong password %d", i)})
			})
			if statuses[401] != 20 {
				t.Fatalf("20 wrong passwords: %v, want 20×401", statuses)
			}
			if r := lf.call("POST", "/authenticate/password", "", map[string]any{"client_id": "cred_a", "username": "oscar", "password": alicePassword}); r.status != 401 {
				t.Fatalf("the right password during the lock: %v, want 401", r)
			}
		})
	}
}

// onEachDB runs test on SQLite, and on MariaDB when one is configured.
func onEachDB(t *testing.T, test func(t *testing.T, o fixtureOpts)) {
	t.Run("sqlite", func(t *testing.T) { test(t, fixtureOpts{}) })
	t.Run("mysql", func(t *testing.T) { test(t, fixtureOpts{mysql: true}) })
}

// parallel runs n requests at once and counts their statuses (-1: error).
func parallel(n int, req func(i int) (lidResp, error)) map[int]int {
	var mu sync.Mutex
	out := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := req(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out[-1]++
				return
			}
			out[r.status]++
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// One service token sent by 10 requests at once is served exactly once —
// for a read, and for a write whose effect commits with the nonce.
func TestLoginIDOneTokenTenRequests(t *testing.T) { onEachDB(t, testLoginIDOneTokenTenRequests) }

func testLoginIDOneTokenTenRequests(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	lf.mustCreate("peggy", "")
	tok := lf.st([]string{"users.retrieve"}, servicetoken.Options{})
	got := parallel(10, func(int) (lidResp, error) {
		return lf.send("POST", "/manage/users/retrieve", tok, map[string]any{"username": "peggy"})
	})
	if got[200] != 1 || got[401] != 9 {
		t.Fatalf("retrieve ×10 with one token: %v, want one 200 and nine 401", got)
	}
	before := lf.userCount()
	tok = lf.st([]string{"users.create"}, servicetoken.Options{})
	got = parallel(10, func(i int) (lidResp, error) {
		return lf.send("POST", "/manage/users", tok, map[string]any{"username": fmt.Sprintf("quentin%d", i)})
	})
	if got[200] != 1 || got[401] != 9 || lf.userCount() != before+1 {
		t.Fatalf("create ×10 with one token: %v and %d new users, want one 200, nine 401 and one user", got, lf.userCount()-before)
	}
}

// Two replicas on one MariaDB accept a nonce once between them.
func TestLoginIDReplicasAcceptNonceOnce(t *testing.T) {
	a := newLoginIDFixture(t, fixtureOpts{mysql: true})
	b := a.replica(t)
	a.mustCreate("rupert", "")
	for round := range 10 {
		tok := a.st([]string{"users.retrieve"}, servicetoken.Options{})
		got := parallel(10, func(i int) (lidResp, error) {
			replica := a
			if i%2 == 1 {
				replica = b
			}
			return replica.send("POST", "/manage/users/retrieve", tok, map[string]any{"username": "rupert"})
		})
		if got[200] != 1 || got[401] != 9 {
			t.Fatalf("round %d: one token on two replicas: %v, want one 200 and nine 401", round, got)
		}
	}
}

// Credentials: a user's password is a credential with a uuid, listed,
// renamed and (not while it is the last one) revoked; never a hash.
func TestLoginIDCredentials(t *testing.T) { onEachDB(t, testLoginIDCredentials) }

func testLoginIDCredentials(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	tok := func(scope string) string { return lf.st([]string{scope}, servicetoken.Options{}) }
	// A user made elsewhere (the command line, another surface) has a
	// password credential too.
	id := lf.addUser("sybil", alicePassword)
	list := lf.call("GET", "/credentials?username=Sybil", tok("credentials.list"), nil)
	if list.status != 200 || list.body["user_id"] != id {
		t.Fatalf("list: %v", list)
	}
	creds, _ := list.body["credentials"].([]any)
	if len(creds) != 1 {
		t.Fatalf("credentials %v", list)
	}
	cred := creds[0].(map[string]any)
	uuid, _ := cred["uuid"].(string)
	if len(uuid) != 36 || cred["type"] != "password" || cred["status"] != "active" || cred["name"] != "Password" || cred["created_at"] == "" || cred["updated_at"] == "" {
		t.Fatalf("credential %v", cred)
	}
	if strings.Contains(string(list.raw), "argon2") || strings.Contains(string(list.raw), "hash") {
		t.Fatalf("a list shows a hash: %s", list.raw)
	}
	// The same uuid in the login's answer; POST /credentials/list is the same list.
	login := lf.call("POST", "/authenticate/password", tok("auth.login"), map[string]any{"username": "sybil", "password": alicePassword})
	if login.status != 200 || login.body["credential"].(map[string]any)["uuid"] != uuid {
		t.Fatalf("login's credential: %v (want uuid %s)", login, uuid)
	}
	if r := lf.call("POST", "/credentials/list", tok("credentials.list"), map[string]any{"user_id": id}); r.status != 200 || !bytes.Equal(r.raw, list.raw) {
		t.Fatalf("POST /credentials/list: %v, want %s", r, list.raw)
	}

	// Rename.
	r := lf.call("POST", "/credentials/rename", tok("credentials.rename"), map[string]any{"credential": map[string]any{"uuid": uuid, "name": " Work laptop "}})
	if r.status != 200 || r.body["user_id"] != id || r.body["credential"].(map[string]any)["name"] != "Work laptop" {
		t.Fatalf("rename: %v", r)
	}
	for _, bad := range []map[string]any{
		{"credential": map[string]any{"uuid": uuid, "name": "  "}},
		{"credential": map[string]any{"uuid": uuid, "name": strings.Repeat("n", 256)}},
		{"credential": map[string]any{"name": "x"}},
	} {
		if r := lf.call("POST", "/credentials/rename", tok("credentials.rename"), bad); r.status != 400 {
			t.Fatalf("rename %v: %v", bad, r)
		}
	}
	if r := lf.call("POST", "/credentials/rename", tok("credentials.rename"), map[string]any{"credential": map[string]any{"uuid": "nope", "name": "x"}}); r.status != 404 || r.code() != "credential_not_found" {
		t.Fatalf("rename unknown: %v", r)
	}
	if r := lf.call("POST", "/credentials/rename", lf.st([]string{"credentials.rename"}, servicetoken.Options{Username: "someone"}), map[string]any{"credential": map[string]any{"uuid": uuid, "name": "x"}}); r.status != 403 {
		t.Fatalf("rename with a token for another user: %v", r)
	}
	if r := lf.call("POST", "/credentials/rename", lf.stOf("cred_other", lf.keyO, []string{"users.retrieve"}, servicetoken.Options{}), map[string]any{"credential": map[string]any{"uuid": uuid, "name": "x"}}); r.status != 403 {
		t.Fatalf("rename without the scope: %v", r)
	}
	list = lf.call("GET", "/credentials?user_id="+id, tok("credentials.list"), nil)
	if got := list.body["credentials"].([]any)[0].(map[string]any)["name"]; got != "Work laptop" {
		t.Fatalf("after rename: %v", list)
	}

	// Revoke: the password is the last active credential.
	r = lf.call("POST", "/credentials/revoke", tok("credentials.revoke"), map[string]any{"credential": map[string]any{"uuid": uuid}})
	if r.status != 400 || r.code() != "last_active_credential" {
		t.Fatalf("revoke the last credential: %v", r)
	}
	if r := lf.call("POST", "/authenticate/password", tok("auth.login"), map[string]any{"username": "sybil", "password": alicePassword}); r.status != 200 {
		t.Fatalf("the password must still work: %v", r)
	}

	// Deleting the user deletes the credentials.
	if r := lf.call("DELETE", "/manage/users/"+id, tok("users.delete"), nil); r.status != 204 {
		t.Fatalf("delete: %v", r)
	}
	if r := lf.call("POST", "/credentials/rename", tok("credentials.rename"), map[string]any{"credential": map[string]any{"uuid": uuid, "name": "x"}}); r.status != 404 {
		t.Fatalf("a deleted user's credential: %v", r)
	}
	// A user without a password has no credential.
	nopw := lf.mustCreate("trent", "")
	if r := lf.call("POST", "/credentials/list", tok("credentials.list"), map[string]any{"user_id": nopw}); r.status != 200 || len(r.body["credentials"].([]any)) != 0 {
		t.Fatalf("a user without a password: %v", r)
	}
}

// One-time codes: generation of each type, authorize for both purposes,
// single use, the attempt limit (also under parallel guesses), and
// invalidate-all.
func TestLoginIDCodes(t *testing.T) { onEachDB(t, testLoginIDCodes) }

func testLoginIDCodes(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	tok := func(scope string) string { return lf.st([]string{scope}, servicetoken.Options{}) }
	uid := lf.mustCreate("victor", "")
	gen := func(typ, purpose string, extra ...any) lidResp {
		body := map[string]any{"username": "victor", "purpose": purpose}
		for i := 0; i+1 < len(extra); i += 2 {
			body[extra[i].(string)] = extra[i+1]
		}
		return lf.call("POST", "/codes/"+typ+"/generate", tok("codes.generate"), body)
	}
	authorize := func(typ, purpose, code string) lidResp {
		return lf.call("POST", "/codes/"+typ+"/authorize", tok("codes.authorize"), map[string]any{"username": "victor", "purpose": purpose, "code": code})
	}
	before := time.Now()
	for typ, ok := range map[string]func(string) bool{
		"short":  func(c string) bool { return len(c) == 6 && strings.Trim(c, "0123456789") == "" },
		"long":   func(c string) bool { return len(c) == 16 && strings.Trim(c, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == "" },
		"phrase": func(c string) bool { return len(strings.Fields(c)) == 4 && strings.ToLower(c) == c },
	} {
		r := gen(typ, "temporary_authentication")
		code, _ := r.body["code"].(string)
		exp, err := time.Parse(time.RFC3339, fmt.Sprint(r.body["expires_at"]))
		if r.status != 200 || !ok(code) || r.body["is_authorized"] != false || err != nil ||
			exp.Before(before.Add(5*time.Minute-2*time.Second)) || exp.After(time.Now().Add(5*time.Minute+time.Second)) {
			t.Fatalf("generate %s: %v", typ, r)
		}
		// temporary_authentication: the user's token, once.
		a := authorize(typ, "temporary_authentication", code)
		if a.status != 200 {
			t.Fatalf("authorize %s: %v", typ, a)
		}
		if _, claims := lf.verifyJWT(a.body["jwt"].(string)); claims["sub"] != uid || claims["udata"] != "victor" {
			t.Fatalf("the code's token: %v", claims)
		}
		if r := authorize(typ, "temporary_authentication", code); r.status != 400 || r.code() != "invalid_code" {
			t.Fatalf("reuse of a %s code: %v", typ, r)
		}
	}
	// Forgiving input: spaces in a short code, lower case in a long one.
	r := gen("long", "temporary_authentication")
	if a := authorize("long", "temporary_authentication", strings.ToLower(r.body["code"].(string)[:8]+"-"+r.body["code"].(string)[8:])); a.status != 200 {
		t.Fatalf("a long code typed in lower case with a hyphen: %v", a)
	}
	// A code is bound to its type and purpose.
	r = gen("short", "add_credential", "authorize", true)
	code := r.body["code"].(string)
	if r.body["is_authorized"] != true {
		t.Fatalf("generate with authorize: %v", r)
	}
	if a := authorize("short", "temporary_authentication", code); a.status != 400 {
		t.Fatalf("a code of another purpose: %v", a)
	}
	if a := authorize("long", "add_credential", code); a.status != 400 {
		t.Fatalf("a code at another type's route: %v", a)
	}
	if a := authorize("short", "add_credential", code); a.status != 200 || a.body["authorized"] != true {
		t.Fatalf("authorize add_credential: %v", a)
	}

	// The attempt limit: 5 between a user's live codes of a purpose, also
	// under 20 parallel wrong guesses; then even the right code is refused.
	r = gen("short", "temporary_authentication")
	code = r.body["code"].(string)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	got := parallel(20, func(int) (lidResp, error) {
		return lf.send("POST", "/codes/short/authorize", lf.st([]string{"codes.authorize"}, servicetoken.Options{}),
			map[string]any{"username": "victor", "purpose": "temporary_authentication", "code": wrong})
	})
	if got[400] != 20 {
		t.Fatalf("20 wrong codes: %v", got)
	}
	if a := authorize("short", "temporary_authentication", code); a.status != 400 {
		t.Fatalf("the right code after the attempts ran out: %v", a)
	}
	// Four wrong attempts leave the fifth for the right code.
	code = gen("short", "temporary_authentication").body["code"].(string)
	wrong = "000000"
	if code == wrong {
		wrong = "000001"
	}
	for range 4 {
		if a := authorize("short", "temporary_authentication", wrong); a.status != 400 {
			t.Fatalf("a wrong code: %v", a)
		}
	}
	if a := authorize("short", "temporary_authentication", code); a.status != 200 {
		t.Fatalf("the right code on the fifth attempt: %v", a)
	}

	// invalidate-all.
	c1 := gen("short", "temporary_authentication").body["code"].(string)
	c2 := gen("phrase", "add_credential").body["code"].(string)
	if r := lf.call("POST", "/codes/short/invalidate-all", tok("codes.invalidate"), map[string]any{"username": "victor", "purpose": "add_credential"}); r.status != 204 {
		t.Fatalf("invalidate-all add_credential: %v", r)
	}
	if a := authorize("phrase", "add_credential", c2); a.status != 400 {
		t.Fatalf("an invalidated code: %v", a)
	}
	if r := lf.call("POST", "/codes/short/invalidate-all", tok("codes.invalidate"), map[string]any{"user_id": uid}); r.status != 204 {
		t.Fatalf("invalidate-all: %v", r)
	}
	if a := authorize("short", "temporary_authentication", c1); a.status != 400 {
		t.Fatalf("a code after invalidate-all: %v", a)
	}

	// Bad requests.
	for _, c := range []struct {
		path string
		body map[string]any
		want int
	}{
		{"/codes/medium/generate", map[string]any{"username": "victor", "purpose": "temporary_authentication"}, 400},
		{"/codes/short/generate", map[string]any{"username": "victor", "purpose": "fun"}, 400},
		{"/codes/short/generate", map[string]any{"username": "victor"}, 400},
		{"/codes/short/generate", map[string]any{"username": "nobody", "purpose": "add_credential"}, 404},
		{"/codes/short/authorize", map[string]any{"username": "victor", "purpose": "add_credential"}, 400},
		{"/codes/short/invalidate-all", map[string]any{"username": "victor", "purpose": "fun"}, 400},
	} {
		scope := map[string]string{"generate": "codes.generate", "authorize": "codes.authorize", "invalidate-all": "codes.invalidate"}[c.path[strings.LastIndex(c.path, "/")+1:]]
		if r := lf.call("POST", c.path, tok(scope), c.body); r.status != c.want {
			t.Errorf("%s %v: %v, want %d", c.path, c.body, r, c.want)
		}
	}
	// A deactivated user gets no code, and their codes stop working.
	c1 = gen("short", "temporary_authentication").body["code"].(string)
	if r := lf.call("PUT", "/manage/users/"+uid+"/deactivate", tok("users.deactivate"), nil); r.status != 200 {
		t.Fatal(r)
	}
	if r := gen("short", "temporary_authentication"); r.status != 400 {
		t.Fatalf("a code for a deactivated user: %v", r)
	}
	if a := authorize("short", "temporary_authentication", c1); a.status != 400 {
		t.Fatalf("a deactivated user's code: %v", a)
	}
}

// Bad input is a clear 4xx on every route, never a 5xx: malformed bodies,
// wrong types, over-long and odd values, with a valid token of the scope.
func TestLoginIDBadInputNever5xx(t *testing.T) { onEachDB(t, testLoginIDBadInputNever5xx) }

func testLoginIDBadInputNever5xx(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	id := lf.mustCreate("walter", alicePassword)
	long := strings.Repeat("ß", 300)
	bodies := []string{
		`{`, `[]`, `"x"`, `null`, `{"username": 5}`, `{"user_id": {}}`, `{"credential": "x"}`, `{"credential": {"uuid": 7}}`,
		`{"authorize": "yes"}`, `{"username": "` + long + `", "password": "` + long + `"}`, `{"user_id": "` + long + `"}`,
		`{"username": "walter", "purpose": "` + long + `", "code": "` + long + `"}`,
		`{"credential": {"uuid": "` + long + `", "name": "` + long + `"}}`, `{"client_id": "` + long + `"}`,
		`{"username": "wal\u0000ter", "password": "\u0000"}`, `{"username": "walter", "email": "\ud800"}`,
	}
	for _, row := range seedTable(t) {
		path := strings.ReplaceAll(strings.ReplaceAll(row.path, "{type}", "short"), "{user_id}", id)
		for _, b := range bodies {
			req, _ := http.NewRequest(row.method, lf.url("/loginid"+path), strings.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+lf.st([]string{row.scope}, servicetoken.Options{}))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s %s %s: %d %s", row.method, row.path, b, resp.StatusCode, body)
			}
		}
	}
	for _, q := range []string{"?kid=" + long, "?kid=", "?username=" + long, "?user_id=%00"} {
		if r := lf.call("GET", "/certs"+q, "", nil); r.status >= 500 {
			t.Errorf("certs%s: %v", q, r)
		}
		if r := lf.call("GET", "/credentials"+q, lf.st([]string{"credentials.list"}, servicetoken.Options{}), nil); r.status >= 500 {
			t.Errorf("credentials%s: %v", q, r)
		}
	}
}

// BenchmarkLoginIDRetrieve: POST /loginid/manage/users/retrieve, each
// request with a fresh service token signed by the client (as the load
// generator does), 16 clients; the nonce insert is the only write.
func BenchmarkLoginIDRetrieve(b *testing.B) {
	lf := newLoginIDFixture(b, fixtureOpts{})
	lf.mustCreate("bench", "")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok, _ := servicetoken.Sign("cred_a", lf.keyA, []string{"users.retrieve"}, servicetoken.Options{})
			req, _ := http.NewRequest(http.MethodPost, lf.url("/loginid/manage/users/retrieve"), strings.NewReader(`{"username":"bench"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// With compat.loginid.prefix: /api/native, Latchkey is a drop-in base URL
// for LoginID's SDKs; a reload moves or switches off the surface for the
// next request, and a credential removed from the file stops working.
func TestLoginIDPrefixAndReload(t *testing.T) {
	lf := newLoginIDFixture(t, fixtureOpts{})
	lf.mustCreate("xena", alicePassword)
	reload := func(edit func(string) string) {
		t.Helper()
		snap, err := config.Parse("test.yaml", []byte(edit(lf.yaml)), t.TempDir(), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		if err := lf.srv.Reload(snap); err != nil {
			t.Fatal(err)
		}
	}
	retrieve := func(prefix string) lidResp {
		req, _ := http.NewRequest("POST", lf.url(prefix+"/manage/users/retrieve"), strings.NewReader(`{"username":"xena"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+lf.st([]string{"users.retrieve"}, servicetoken.Options{}))
		req.Header.Set("X-Client-ID", "cred_a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return lidResp{status: resp.StatusCode}
	}
	reload(func(y string) string {
		return strings.Replace(y, "loginid: {enabled: true, prefix: /loginid}", "loginid: {enabled: true, prefix: /api/native}", 1)
	})
	if r := retrieve("/api/native"); r.status != 200 {
		t.Fatalf("under /api/native: %d", r.status)
	}
	if r := retrieve("/loginid"); r.status != 404 {
		t.Fatalf("under the old prefix: %d", r.status)
	}
	if r, _ := http.Get(lf.url("/api/native/certs?kid=k1")); r == nil || r.StatusCode != 200 {
		t.Fatalf("certs under /api/native: %v", r)
	}
	reload(func(y string) string {
		return strings.Replace(y, "  - {id: cred_a, realm: rl_test, client: app, public_keys:", "  - {id: cred_gone, realm: rl_test, client: app, public_keys:", 1)
	})
	if r := retrieve("/loginid"); r.status != 401 {
		t.Fatalf("a credential removed from the config: %d, want 401", r.status)
	}
	reload(func(y string) string {
		return strings.Replace(y, "loginid: {enabled: true, prefix: /loginid}", "loginid: {enabled: false}", 1)
	})
	if r := retrieve("/loginid"); r.status != 404 {
		t.Fatalf("switched off: %d", r.status)
	}
}

// Two replicas on one MariaDB share a code's attempts: 20 wrong guesses
// split between them count at most 5.
func TestLoginIDReplicasShareCodeAttempts(t *testing.T) {
	a := newLoginIDFixture(t, fixtureOpts{mysql: true})
	b := a.replica(t)
	a.mustCreate("yuri", "")
	r := a.call("POST", "/codes/short/generate", a.st([]string{"codes.generate"}, servicetoken.Options{}), map[string]any{"username": "yuri", "purpose": "temporary_authentication"})
	code, _ := r.body["code"].(string)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	got := parallel(20, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		return replica.send("POST", "/codes/short/authorize", a.st([]string{"codes.authorize"}, servicetoken.Options{}),
			map[string]any{"username": "yuri", "purpose": "temporary_authentication", "code": wrong})
	})
	if got[400] != 20 {
		t.Fatalf("20 wrong codes on two replicas: %v", got)
	}
	if r := b.call("POST", "/codes/short/authorize", a.st([]string{"codes.authorize"}, servicetoken.Options{}),
		map[string]any{"username": "yuri", "purpose": "temporary_authentication", "code": code}); r.status != 400 {
		t.Fatalf("the right code after the attempts ran out: %v", r)
	}
}
