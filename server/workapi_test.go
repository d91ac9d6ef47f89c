package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/config"
)

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// aptClaims are the claims the Work API SDK sends, plus a jti (ours always
// sets one; the SDK does not).
func aptClaims(arbitraryID string, mutate func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"exp": now.Add(30 * time.Second).Unix(), "iat": now.Unix(),
		"environment_guid": envGUID, "arbitrary_id": arbitraryID, "jti": randomID()}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// signJWT signs claims with key (a crypto.Signer, or []byte for HMAC) as
// the Work API SDK does: the header is only {"alg":…} unless extra header
// fields are given.
func signJWT(t testing.TB, key any, alg jose.SignatureAlgorithm, claims map[string]any, header map[jose.HeaderKey]any) string {
	t.Helper()
	var opts *jose.SignerOptions
	if len(header) > 0 {
		opts = &jose.SignerOptions{}
		for k, v := range header {
			opts = opts.WithHeader(k, v)
		}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (f *fixture) apt(arbitraryID string, mutate func(map[string]any)) string {
	return signJWT(f.t, f.envKey, jose.RS256, aptClaims(arbitraryID, mutate), nil)
}

// workapi calls a Work API route with a Bearer token.
func (f *fixture) workapi(method, path, token string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.url("/workapi"+path), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, m := f.do(req)
	return resp.StatusCode, m
}

func (f *fixture) userCount() int {
	f.t.Helper()
	users, err := f.srv.Accounts().List(f.ctx(), "rl_test")
	if err != nil {
		f.t.Fatal(err)
	}
	return len(users)
}

func TestWorkapiFlow(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	before := time.Now().Truncate(time.Second)
	code, created := f.workapi("POST", "/users", f.apt("user_xyz123", nil))
	if code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	for _, k := range []string{"id", "arbitrary_id", "environment_guid", "token", "token_expires_at", "created_at"} {
		if created[k] == nil || created[k] == "" {
			t.Errorf("user object lacks %q: %v", k, created)
		}
	}
	if created["arbitrary_id"] != "user_xyz123" || created["environment_guid"] != envGUID || !strings.HasPrefix(created["id"].(string), "usr_") {
		t.Fatalf("user object: %v", created)
	}
	token := created["token"].(string)
	_, claims := f.verifyJWT(token)
	if claims["sub"] != created["id"] || claims["client_id"] != "provider" {
		t.Fatalf("user token claims: %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat < 3599 || exp-iat > 3600 {
		t.Errorf("user token lifetime %v s; want user_token_ttl (1h)", exp-iat)
	}
	if code, info := f.userinfo(token); code != 200 || info["sub"] != created["id"] {
		t.Fatalf("userinfo with a Work API token: %d %v", code, info)
	}

	// /users/me: a fresh token in the same grant; the old one stays valid.
	code, me := f.workapi("GET", "/users/me", token)
	if code != 200 || me["token"] == token || me["id"] != created["id"] {
		t.Fatalf("me: %d %v", code, me)
	}
	if !f.active(token) || !f.active(me["token"].(string)) {
		t.Fatal("after /users/me both the old and the fresh token must be active")
	}
	// The fresh token never outlives the grant's first issuance plus the
	// client's refresh_token_ttl (30m for "provider").
	exp, err := time.Parse(time.RFC3339, me["token_expires_at"].(string))
	if err != nil || exp.After(before.Add(30*time.Minute+2*time.Second)) {
		t.Fatalf("fresh token expires %v; want at most the grant's start + 30m", me["token_expires_at"])
	}

	// reauth: a new token for the same user.
	code, re := f.workapi("POST", "/users/reauth", f.apt("user_xyz123", nil))
	if code != 200 || re["id"] != created["id"] || re["token"] == token {
		t.Fatalf("reauth: %d %v", code, re)
	}
	if code, m := f.workapi("POST", "/users/reauth", f.apt("nobody", nil)); code != 404 {
		t.Fatalf("reauth of an unknown user: %d %v", code, m)
	}
	if code, m := f.workapi("POST", "/users", f.apt("user_xyz123", nil)); code != 409 || m["error"] != "user_exists" || len(m) != 1 {
		t.Fatalf("second create: %d %v; want 409 exactly {\"error\":\"user_exists\"}", code, m)
	}

	// The standard jwt-bearer grant, through golang.org/x/oauth2.
	cc := clientcredentials.Config{ClientID: "provider", ClientSecret: f.providerSecret, TokenURL: f.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader,
		EndpointParams: url.Values{"grant_type": {jwtBearer}, "assertion": {f.apt("user_xyz123", nil)}}}
	tok, err := cc.Token(f.ctx())
	if err != nil || tok.RefreshToken != "" {
		t.Fatalf("jwt-bearer: %v %+v", err, tok)
	}
	if info := f.introspect(tok.AccessToken, "svc", f.secret); info["active"] != true || info["sub"] != created["id"] {
		t.Fatalf("introspection of the jwt-bearer token: %v", info)
	}
}

// The seed's sample token: header {"alg":"RS256"} only, payload starting
// {"exp":…,"iat":…, and no jti.
func TestWorkapiSeedShapedToken(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	claims := aptClaims("seed-user", func(c map[string]any) { delete(c, "jti") })
	tok := signJWT(t, f.envKey, jose.RS256, claims, nil)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if string(hdr) != `{"alg":"RS256"}` {
		t.Fatalf("test token header %s", hdr)
	}
	if code, m := f.workapi("POST", "/users", tok); code != 201 {
		t.Fatalf("create with the seed's token shape: %d %v", code, m)
	}
	if code, m := f.workapi("POST", "/users/reauth", tok); code != 200 {
		t.Fatalf("reauth with the same jti-less token (replayable until exp, as documented): %d %v", code, m)
	}
}

func TestWorkapiRejectsBadAPTs(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubPEM, _ := config.EncodePublicKeyPEM(f.envKey.Public())
	good := aptClaims("victim", nil)
	goodJSON, _ := json.Marshal(good)
	replayed := f.apt("replay-me", nil)
	if code, _ := f.workapi("POST", "/users", replayed); code != 201 {
		t.Fatal("setup: first use of the replayed APT failed")
	}
	altered := func() string {
		parts := strings.Split(f.apt("victim", nil), ".")
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(p), `"victim"`, `"admin"`, 1)))
		return strings.Join(parts, ".")
	}
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, nil)
	hsJWS, _ := hs.Sign(goodJSON)
	hsToken, _ := hsJWS.CompactSerialize()
	raw := func(header string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(goodJSON) + "."
	}
	now := time.Now()
	tests := map[string]string{
		"alg none": raw(`{"alg":"none"}`),
		"alg None": raw(`{"alg":"None"}`),
		"HS256 keyed with the public key's PEM text": hsToken,
		"RS256 by another key":                       signJWT(t, otherRSA, jose.RS256, good, nil),
		"ES256 where only RS256 is allowed":          signJWT(t, ecKey, jose.ES256, good, nil),
		"expired": f.apt("victim", func(c map[string]any) {
			c["iat"] = now.Add(-2 * time.Minute).Unix()
			c["exp"] = now.Add(-time.Minute).Unix()
		}),
		"not yet valid": f.apt("victim", func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }),
		"iat in the future": f.apt("victim", func(c map[string]any) {
			c["iat"] = now.Add(5 * time.Minute).Unix()
			c["exp"] = now.Add(6 * time.Minute).Unix()
		}),
		"lifetime over max_apt_ttl":           f.apt("victim", func(c map[string]any) { c["exp"] = now.Add(10 * time.Minute).Unix() }),
		"unknown environment":                 f.apt("victim", func(c map[string]any) { c["environment_guid"] = "000000-0000-0000-00000000" }),
		"missing arbitrary_id":                f.apt("victim", func(c map[string]any) { delete(c, "arbitrary_id") }),
		"300-character arbitrary_id":          f.apt(strings.Repeat("a", 300), nil),
		"iss disagrees with environment_guid": f.apt("victim", func(c map[string]any) { c["iss"] = "someone-else" }),
		"aud of another server":               f.apt("victim", func(c map[string]any) { c["aud"] = "https://elsewhere.test" }),
		"payload altered after signing":       altered(),
		"jku header":                          signJWT(t, f.envKey, jose.RS256, good, map[jose.HeaderKey]any{"jku": "https://evil.test/jwks"}),
		"oversized token":                     f.apt("victim", func(c map[string]any) { c["pad"] = strings.Repeat("x", 10<<10) }),
		"replayed jti":                        replayed,
		"not a JWT":                           "hello",
	}
	users := f.userCount()
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			code, m := f.workapi("POST", "/users", tok)
			if code != 401 || m["error"] != "invalid_apt" || m["message"] == "" {
				t.Fatalf("got %d %v; want 401 invalid_apt with a message", code, m)
			}
			// Through the OAuth core the same APT is invalid_grant.
			resp, m2 := f.post("/oauth2/token", url.Values{"grant_type": {jwtBearer}, "assertion": {tok}}, "provider", f.providerSecret)
			if resp.StatusCode != 400 || m2["error"] != "invalid_grant" {
				t.Fatalf("jwt-bearer: %d %v; want 400 invalid_grant", resp.StatusCode, m2)
			}
		})
	}
	if n := f.userCount(); n != users {
		t.Fatalf("bad APTs created %d users", n-users)
	}
	// The aud, when present, may be the issuer or the token URL.
	for _, aud := range []string{f.snap.Issuer, f.url("/oauth2/token")} {
		if code, m := f.workapi("POST", "/users", f.apt("aud-"+randomID(), func(c map[string]any) { c["aud"] = aud })); code != 201 {
			t.Fatalf("aud %s: %d %v", aud, code, m)
		}
	}
}

func TestWorkapiJWTBearerErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.workapi("POST", "/users", f.apt("known", nil))
	grant := func(user, pass, assertion string) (int, map[string]any) {
		resp, m := f.post("/oauth2/token", url.Values{"grant_type": {jwtBearer}, "assertion": {assertion}}, user, pass)
		return resp.StatusCode, m
	}
	if code, m := grant("app", f.appSecret, f.apt("known", nil)); code != 400 || m["error"] != "unauthorized_client" {
		t.Errorf("a client without the grant: %d %v", code, m)
	}
	if code, m := grant("svc", f.secret, f.apt("known", nil)); code != 400 && code != 401 {
		t.Errorf("another client: %d %v", code, m)
	}
	if code, m := grant("provider", f.providerSecret, f.apt("unknown", nil)); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("an unknown user: %d %v", code, m)
	}
	if code, m := grant("provider", f.providerSecret, ""); code != 400 || m["error"] != "invalid_request" {
		t.Errorf("no assertion: %d %v", code, m)
	}
	// A refused request leaves the APT unused.
	tok := f.apt("known", nil)
	grant("provider", "wrong-secret", tok)
	if code, m := grant("provider", f.providerSecret, tok); code != 200 {
		t.Errorf("the APT was burnt by a refused request: %d %v", code, m)
	}
}

func TestWorkapiMeRefusesOtherTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", alicePassword)
	for name, tok := range map[string]string{
		"client_credentials token":  f.ccToken(),
		"password-grant user token": f.login("alice", alicePassword).AccessToken,
		"unknown token":             "lk_at_nope",
		"no token":                  "",
	} {
		if code, m := f.workapi("GET", "/users/me", tok); code != 401 || m["error"] != "invalid_token" || len(m) != 1 {
			t.Errorf("%s: %d %v; want 401 exactly {\"error\":\"invalid_token\"}", name, code, m)
		}
	}
}

// Ten parallel creates of one arbitrary_id: exactly one 201, the rest 409.
func TestWorkapiConcurrentCreate(t *testing.T) {
	for _, mysql := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "mariadb"}[mysql]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{mysql: mysql})
			tokens := make([]string, 10)
			for i := range tokens {
				tokens[i] = f.apt("same-user", nil)
			}
			codes := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, tok := range tokens {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _ := f.workapi("POST", "/users", tok)
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[201] != 1 || codes[409] != 9 {
				t.Fatalf("statuses %v; want one 201 and nine 409", codes)
			}
		})
	}
}

// On MariaDB across two replicas, an APT's jti is accepted once.
func TestWorkapiReplicasAcceptJTIOnce(t *testing.T) {
	a := newFixture(t, fixtureOpts{mysql: true})
	b := newFixture(t, fixtureOpts{replicaOf: a})
	if code, _ := a.workapi("POST", "/users", a.apt("replica-user", nil)); code != 201 {
		t.Fatal("create")
	}
	tok := a.apt("replica-user", nil)
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := []*fixture{a, b}[i%2].workapi("POST", "/users/reauth", tok)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 1 || codes[401] != 9 {
		t.Fatalf("statuses %v; want one 200 and nine 401", codes)
	}
	// And through the OAuth core on the other replica.
	tok = a.apt("replica-user", nil)
	cc := func(f *fixture) error {
		_, err := (&clientcredentials.Config{ClientID: "provider", ClientSecret: f.providerSecret, TokenURL: f.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader,
			EndpointParams: url.Values{"grant_type": {jwtBearer}, "assertion": {tok}}}).Token(f.ctx())
		return err
	}
	if err := cc(a); err != nil {
		t.Fatal(err)
	}
	var re *oauth2.RetrieveError
	if err := cc(b); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("the same APT on the other replica: %v", err)
	}
}
