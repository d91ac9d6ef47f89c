package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRSAKey is one key for every test. It has 1024 bits (the server wants
// 2048 or more) so that the pools of the fake-server test sign quickly.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		panic(err)
	}
	return k
})

const testEnvGUID = "123456-1234-5678-12345679"

func testSigner() *aptSigner {
	return &aptSigner{guid: testEnvGUID, key: testRSAKey(), ttl: 60 * time.Second}
}

// verifyAPT checks apt's RS256 signature with pub and returns its header and
// raw payload.
func verifyAPT(apt string, pub *rsa.PublicKey) (header, payload []byte, err error) {
	parts := strings.Split(apt, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%d parts, want 3", len(parts))
	}
	dec := base64.RawURLEncoding
	if header, err = dec.DecodeString(parts[0]); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if payload, err = dec.DecodeString(parts[1]); err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	sig, err := dec.DecodeString(parts[2])
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, nil, err
	}
	return header, payload, nil
}

func TestMintAPT(t *testing.T) {
	s := testSigner()
	now := time.Unix(1767225600, 123_000_000)
	apt, exp, err := s.mint("user_xyz123", now)
	if err != nil {
		t.Fatal(err)
	}
	header, payload, err := verifyAPT(apt, &testRSAKey().PublicKey)
	if err != nil {
		t.Fatalf("own signature does not verify: %v", err)
	}
	if string(header) != `{"alg":"RS256"}` {
		t.Errorf("header = %s", header)
	}
	// The Ruby SDK's shape: exp and iat first.
	if !bytes.HasPrefix(payload, []byte(`{"exp":1767225660,"iat":1767225600,"environment_guid":"`+testEnvGUID+`","arbitrary_id":"user_xyz123","jti":"`)) {
		t.Errorf("payload = %s", payload)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	jti, _ := c["jti"].(string)
	if len(c) != 5 || len(jti) != 22 {
		t.Errorf("claims = %v, want exactly exp, iat, environment_guid, arbitrary_id and a 22-character jti", c)
	}
	if !exp.Equal(time.Unix(1767225660, 0)) {
		t.Errorf("exp = %v", exp)
	}

	// Altered after signing, it no longer verifies; another key's signature
	// does not verify with this public key.
	parts := strings.Split(apt, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("user_xyz123"), []byte("user_xyz124"), 1)) + "." + parts[2]
	if _, _, err := verifyAPT(forged, &testRSAKey().PublicKey); err == nil {
		t.Error("an altered payload verifies")
	}
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := verifyAPT(apt, &other.PublicKey); err == nil {
		t.Error("the APT verifies with another key")
	}

	// Every APT has its own jti.
	seen := map[string]bool{}
	for range 20 {
		apt, _, err := s.mint("u", now)
		if err != nil {
			t.Fatal(err)
		}
		_, payload, _ := verifyAPT(apt, &testRSAKey().PublicKey)
		var c aptClaims
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if seen[c.JTI] {
			t.Fatalf("jti %s twice", c.JTI)
		}
		seen[c.JTI] = true
	}
}

func TestParseRSAPrivateKey(t *testing.T) {
	k := testRSAKey()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecSEC1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	good := map[string][]byte{
		"PKCS#8": enc("PRIVATE KEY", pkcs8),
		"PKCS#1": enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)),
		// Blocks of other types before the key are skipped.
		"after a public key": append(enc("PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.PublicKey)), enc("PRIVATE KEY", pkcs8)...),
	}
	for name, data := range good {
		got, err := parseRSAPrivateKey(data)
		if err != nil || !got.Equal(k) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]struct {
		data []byte
		want string
	}{
		"EC PKCS#8":  {enc("PRIVATE KEY", ec8), "not an RSA key"},
		"EC SEC1":    {enc("EC PRIVATE KEY", ecSEC1), "not an RSA key"},
		"encrypted":  {enc("ENCRYPTED PRIVATE KEY", []byte{1}), "encrypted"},
		"not PEM":    {[]byte("hello"), "no PRIVATE KEY"},
		"public key": {enc("PUBLIC KEY", []byte{1}), "no PRIVATE KEY"},
		"bad DER":    {enc("PRIVATE KEY", []byte{1, 2, 3}), "asn1"},
	}
	for name, c := range bad {
		if _, err := parseRSAPrivateKey(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, c.want)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "env.pem")
	if err := os.WriteFile(path, good["PKCS#8"], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := loadAPTSigner("g", path, time.Minute)
	if err != nil || s.guid != "g" || s.ttl != time.Minute || !s.key.Equal(k) {
		t.Errorf("loadAPTSigner = %+v, %v", s, err)
	}
	if _, err := loadAPTSigner("g", filepath.Join(dir, "missing.pem"), time.Minute); err == nil {
		t.Error("loadAPTSigner of a missing file: no error")
	}
}

func TestAPTPoolSize(t *testing.T) {
	for _, c := range []struct {
		rate   float64
		window time.Duration
		want   int
	}{
		{4000, 11 * time.Second, 66_000},
		{4000, 6 * time.Second, 36_000},
		{1000, 1500 * time.Millisecond, 2250},
		{3, time.Second, minAPTPool},   // floor
		{1e6, time.Minute, maxAPTPool}, // cap
		{0.1, 10 * time.Millisecond, minAPTPool},
		{100, 1001 * time.Millisecond, 151}, // rounded up
	} {
		if got := aptPoolSize(c.rate, c.window); got != c.want {
			t.Errorf("aptPoolSize(%v, %v) = %d, want %d", c.rate, c.window, got, c.want)
		}
	}
}

func TestAPTPoolTake(t *testing.T) {
	now := time.Now()
	p := &aptPool{rate: 10, items: []pooledAPT{
		{body: "a", exp: now.Add(time.Minute)},
		{body: "b", exp: now.Add(time.Minute)},
		{body: "c", exp: now.Add(aptExpiryMargin - time.Millisecond)},
	}}
	for _, want := range []string{"a", "b"} {
		if got, err := p.take(now); got != want || err != nil {
			t.Fatalf("take = %q, %v, want %q", got, err, want)
		}
	}
	if _, err := p.take(now); !errors.Is(err, errAPTExpiring) || !strings.Contains(err.Error(), "lower -apt-rate or -duration") {
		t.Errorf("an APT within the margin of its exp: %v", err)
	}
	_, err := p.take(now)
	if !errors.Is(err, errAPTPoolExhausted) || !strings.Contains(err.Error(), "all 3 were sent") ||
		!strings.Contains(err.Error(), "higher -apt-rate") {
		t.Errorf("an empty pool: %v", err)
	}
	if _, err := p.take(now); !errors.Is(err, errAPTPoolExhausted) {
		t.Errorf("still empty: %v", err)
	}

	// A full-size pool suggests a shorter run instead.
	big := &aptPool{items: make([]pooledAPT, maxAPTPool)}
	big.next.Store(maxAPTPool)
	if _, err := big.take(now); !strings.Contains(err.Error(), "shorter -duration") {
		t.Errorf("a pool at its cap: %v", err)
	}

	// Concurrent takers get every item exactly once.
	const n = 1000
	p = &aptPool{items: make([]pooledAPT, n)}
	for i := range p.items {
		p.items[i] = pooledAPT{body: fmt.Sprint(i), exp: now.Add(time.Minute)}
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				b, err := p.take(now)
				if err != nil {
					return
				}
				mu.Lock()
				if seen[b] {
					t.Errorf("%s taken twice", b)
				}
				seen[b] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("took %d items, want %d", len(seen), n)
	}
}

func TestMintPool(t *testing.T) {
	s := testSigner()
	users := []string{"u0", "u1", "u2"}
	before := time.Now()
	p, err := mintPool(context.Background(), s, users, 10, 3, 123)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.items) != 10 || p.rate != 123 {
		t.Fatalf("pool of %d, rate %v", len(p.items), p.rate)
	}
	jtis := map[string]bool{}
	for i, it := range p.items {
		apt, ok := strings.CutPrefix(it.body, aptGrantForm)
		if !ok {
			t.Fatalf("item %d: body %q", i, it.body)
		}
		_, payload, err := verifyAPT(apt, &s.key.PublicKey)
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		var c aptClaims
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.ArbitraryID != users[i%3] || c.EnvironmentGUID != testEnvGUID || jtis[c.JTI] ||
			c.Exp-c.Iat != 60 || c.Iat < before.Unix() || !it.exp.Equal(time.Unix(c.Exp, 0)) {
			t.Errorf("item %d: claims %+v, exp %v", i, c, it.exp)
		}
		jtis[c.JTI] = true
	}
	if b, err := p.take(time.Now()); err != nil || b != p.items[0].body {
		t.Errorf("first take: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mintPool(ctx, s, users, 10, 2, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := mintPool(context.Background(), s, nil, 10, 2, 1); err == nil {
		t.Error("no users: no error")
	}
}

func TestCheckTokens(t *testing.T) {
	for body, want := range map[string]string{
		`{"access_token":"a.b.c","token_type":"bearer"}`: "",
		`{"token_type":"bearer", "access_token": "x"}`:   "",
		`{"access_token":""}`:                            "no_access_token",
		`{"token":"x"}`:                                  "no_access_token",
		`not json`:                                       "no_access_token",
	} {
		if got := checkAccessToken([]byte(body)); got != want {
			t.Errorf("checkAccessToken(%s) = %q, want %q", body, got, want)
		}
	}
	for body, want := range map[string]string{
		`{"id":"u","token":"eyJ.x.y","token_expires_at":"2026-01-01T00:00:00Z"}`: "",
		`{"id":"u", "token" : "t"}`:                     "",
		`{"id":"u","token":"","token_expires_at":"x"}`:  "no_token",
		`{"id":"u","token_expires_at":"x"}`:             "no_token",
		`{"access_token":"x"}`:                          "no_token",
		`{"error":"invalid_token","message":"expired"}`: "no_token",
		``:             "no_token",
		`{"token":"x"`: "",
		`{"token":`:    "no_token",
		`{"message":"has \"token\":\"\" in it","x":1}`:  "no_token",
		`{"message":"has \"token\":\"x\" in it","x":1}`: "no_token",
	} {
		if got := checkUserToken([]byte(body)); got != want {
			t.Errorf("checkUserToken(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestParseOptionsEnvironment(t *testing.T) {
	base := map[string]string{"DEMO_CLIENT_ID": "c", "DEMO_CLIENT_SECRET": "s"}
	o, err := parseOptions(nil, env(base), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.haveEnvironment() || o.aptRate != defaultAPTRate || o.aptTTL != time.Minute {
		t.Errorf("defaults: %+v", o)
	}
	withEnv := map[string]string{"DEMO_ENVIRONMENT_GUID": "g", "DEMO_ENVIRONMENT_KEY": "/k.pem"}
	for k, v := range base {
		withEnv[k] = v
	}
	o, err = parseOptions([]string{"-scenario", "apt_grant,users_me"}, env(withEnv), io.Discard)
	if err != nil || o.environment != "g" || o.envKeyFile != "/k.pem" {
		t.Errorf("from env: %+v, %v", o, err)
	}
	o, err = parseOptions([]string{"-scenario", "users_me", "-environment", "g2", "-environment-key", "k2",
		"-apt-rate", "1500", "-apt-ttl", "30s"}, env(withEnv), io.Discard)
	if err != nil || o.environment != "g2" || o.envKeyFile != "k2" || o.aptRate != 1500 || o.aptTTL != 30*time.Second {
		t.Errorf("flags: %+v, %v", o, err)
	}
	for _, c := range []struct {
		args []string
		get  func(string) string
		want string
	}{
		{[]string{"-scenario", "users_me"}, env(base), "needs an environment"},
		{[]string{"-scenario", "apt_grant", "-environment", "g"}, env(base), "needs an environment"},
		{[]string{"-scenario", "apt_grant"}, env(map[string]string{"DEMO_ENVIRONMENT_GUID": "g", "DEMO_ENVIRONMENT_KEY": "k"}), "needs client credentials"},
		{[]string{"-apt-rate", "0"}, env(base), "-apt-rate"},
		{[]string{"-apt-rate", "-5"}, env(base), "-apt-rate"},
		{[]string{"-apt-rate", "NaN"}, env(base), "-apt-rate"},
		{[]string{"-apt-ttl", "9s"}, env(base), "-apt-ttl"},
		{[]string{"-apt-ttl", "30500ms"}, env(base), "-apt-ttl"},
	} {
		if _, err := parseOptions(c.args, c.get, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseOptions(%q) error = %v, want it to contain %q", c.args, err, c.want)
		}
	}
	// users_me needs no client.
	if _, err := parseOptions([]string{"-scenario", "users_me"}, env(map[string]string{"DEMO_ENVIRONMENT_GUID": "g", "DEMO_ENVIRONMENT_KEY": "k"}), io.Discard); err != nil {
		t.Errorf("users_me without a client: %v", err)
	}
}

// fakeWorkAPI stands in for the server's Work API: it verifies every APT's
// signature and claims, accepts each jti once, creates users and answers
// /users/me and the jwt-bearer grant for them.
type fakeWorkAPI struct {
	auth string
	pub  *rsa.PublicKey

	mu      sync.Mutex
	jtis    map[string]bool
	users   map[string]bool   // arbitrary_id
	tokens  map[string]string // user token → arbitrary_id
	grants  int
	me      int
	replays int
	bad     []string
	// noGrant answers the jwt-bearer grant with unsupported_grant_type.
	noGrant bool
}

func newFakeWorkAPI(auth string, pub *rsa.PublicKey) *fakeWorkAPI {
	return &fakeWorkAPI{auth: auth, pub: pub, jtis: map[string]bool{}, users: map[string]bool{}, tokens: map[string]string{}}
}

// consume verifies apt and spends its jti; it returns its arbitrary_id.
func (f *fakeWorkAPI) consume(apt string) (string, bool) {
	_, payload, err := verifyAPT(apt, f.pub)
	var c aptClaims
	if err == nil {
		err = json.Unmarshal(payload, &c)
	}
	now := time.Now().Unix()
	if err == nil && (c.EnvironmentGUID != testEnvGUID || c.JTI == "" || c.Iat > now || c.Exp <= now || c.Exp-c.Iat > 60) {
		err = fmt.Errorf("claims %+v", c)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.bad = append(f.bad, err.Error())
		return "", false
	}
	if f.jtis[c.JTI] {
		f.replays++
		return "", false
	}
	f.jtis[c.JTI] = true
	return c.ArbitraryID, true
}

func (f *fakeWorkAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/workapi/users":
		id, ok := f.consume(bearer)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_apt"}`)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.users[id] {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"user_exists"}`)
			return
		}
		f.users[id] = true
		tok := "tok-" + id
		f.tokens[tok] = id
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":"usr_1","arbitrary_id":%q,"token":%q,"token_expires_at":"x"}`, id, tok)
	case r.Method == http.MethodGet && r.URL.Path == "/workapi/users/me":
		f.mu.Lock()
		id, ok := f.tokens[bearer]
		f.me++
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_token"}`)
			return
		}
		_, _ = fmt.Fprintf(w, `{"id":"usr_1","arbitrary_id":%q,"token":"fresh","token_expires_at":"x"}`, id)
	case r.Method == http.MethodPost && r.URL.Path == "/oauth2/token":
		if r.Header.Get("Authorization") != f.auth {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		if r.PostFormValue("grant_type") == "client_credentials" { // for -scenario all
			_, _ = io.WriteString(w, `{"access_token":"aaa.bbb.ccc","token_type":"bearer","expires_in":900}`)
			return
		}
		f.mu.Lock()
		noGrant := f.noGrant
		f.mu.Unlock()
		if noGrant || r.PostFormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		id, ok := f.consume(r.PostFormValue("assertion"))
		f.mu.Lock()
		ok = ok && f.users[id]
		f.grants++
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"aaa.bbb.ccc","token_type":"bearer","expires_in":86400}`)
	case r.Method == http.MethodPost && r.URL.Path == "/oauth2/introspect":
		_, _ = io.WriteString(w, `{"active":true}`)
	case r.Method == http.MethodGet && r.URL.Path == "/.well-known/jwks.json":
		_, _ = io.WriteString(w, `{"keys":[]}`)
	default:
		http.NotFound(w, r)
	}
}

func writeTestKey(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(testRSAKey())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "environment-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWorkAPIScenariosAgainstFakeServer(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA==" // demo-backend:lk_secret
	fake := newFakeWorkAPI(auth, &testRSAKey().PublicKey)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	keyFile := writeTestKey(t)
	vars := map[string]string{
		"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret",
		"DEMO_ENVIRONMENT_GUID": testEnvGUID, "DEMO_ENVIRONMENT_KEY": keyFile,
	}

	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "apt_grant,users_me", "-concurrency", "3",
		"-duration", "20ms", "-warmup", "0", "-db", "fake", "-apt-rate", "100000"}
	if code := run(args, env(vars), &stdout, &stderr); code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %s", len(lines), stdout.String())
	}
	for i, name := range []string{"apt_grant", "users_me"} {
		var r result
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Scenario != name || r.RPS <= 0 || len(r.Errors) != 0 || r.Concurrency != 3 {
			t.Errorf("%s: %s", name, lines[i])
		}
	}
	if !strings.Contains(stderr.String(), " APTs for 3 users on") {
		t.Errorf("stderr does not report the pool: %s", stderr.String())
	}
	fake.mu.Lock()
	if fake.replays != 0 || len(fake.bad) != 0 || len(fake.users) != 6 || fake.grants == 0 || fake.me == 0 {
		t.Errorf("fake server: %d replays, bad %v, %d users, %d grants, %d /me", fake.replays, fake.bad, len(fake.users), fake.grants, fake.me)
	}
	fake.mu.Unlock()

	// A pool too small for the server fails the run with a clear error.
	stdout.Reset()
	stderr.Reset()
	slow := append([]string(nil), args...)
	slow[3] = "apt_grant"
	slow[7] = "2s"          // -duration: long enough to spend the pool on any machine
	slow[len(slow)-1] = "1" // -apt-rate: a pool of minAPTPool
	if code := run(slow, env(vars), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "exhausted: all 64 were sent") || stdout.Len() != 0 {
		t.Errorf("exhausted pool: exit %d, stdout %q, stderr %s", code, stdout.String(), stderr.String())
	}

	// A run longer than an APT lives is refused before anything is minted.
	stderr.Reset()
	long := append([]string(nil), args...)
	long[3] = "apt_grant"
	long = append(long, "-apt-ttl", "10s", "-duration", "5s")
	if code := run(long, env(vars), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "must be shorter than -apt-ttl") {
		t.Errorf("too long: exit %d, stderr %s", code, stderr.String())
	}

	// A bad key file is a usage error.
	stderr.Reset()
	bad := map[string]string{}
	for k, v := range vars {
		bad[k] = v
	}
	bad["DEMO_ENVIRONMENT_KEY"] = filepath.Join(t.TempDir(), "nope.pem")
	if code := run(args, env(bad), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-environment-key") {
		t.Errorf("missing key: exit %d, stderr %s", code, stderr.String())
	}

	// -scenario all skips them without an environment, and skips apt_grant
	// on a server without the grant.
	stdout.Reset()
	stderr.Reset()
	all := []string{"-url", srv.URL, "-scenario", "apt_grant,users_me,all", "-concurrency", "1", "-duration", "30ms", "-warmup", "0"}
	code := run(all, env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret"}), &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "skipping apt_grant: no environment") ||
		!strings.Contains(stderr.String(), "skipping users_me: no environment") {
		t.Errorf("all without an environment: exit %d, stderr %s", code, stderr.String())
	}
	fake.mu.Lock()
	fake.noGrant = true
	fake.mu.Unlock()
	stdout.Reset()
	stderr.Reset()
	all[3] = "all"
	code = run(all, env(vars), &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "skipping apt_grant: server configuration does not fit") ||
		!strings.Contains(stdout.String(), `"scenario":"users_me"`) {
		t.Errorf("all without the grant: exit %d, stdout %s, stderr %s", code, stdout.String(), stderr.String())
	}
}

func TestUsersMeWorkersGetTheirOwnUser(t *testing.T) {
	f := &fixture{users: []workUser{{arbitraryID: "a", token: "ta"}, {arbitraryID: "b", token: "tb"}}}
	tg := &target{baseURL: "http://127.0.0.1:1"}
	for _, want := range []string{"Bearer ta", "Bearer tb"} {
		w, err := newUsersMeWorker(context.Background(), tg, f)
		if err != nil {
			t.Fatal(err)
		}
		req, key, err := w.request(context.Background())
		if err != nil || key != "" || req.Method != http.MethodGet || req.URL.Path != "/workapi/users/me" ||
			req.Header.Get("Authorization") != want {
			t.Errorf("request %v, %q, %v; want Authorization %q", req, key, err, want)
		}
	}
	if _, err := newUsersMeWorker(context.Background(), tg, f); err == nil {
		t.Error("a third worker for two users: no error")
	}
}
