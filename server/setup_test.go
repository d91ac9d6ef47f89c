package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"

	"context"
	"crypto"
	"fmt"
	"github.com/go-jose/go-jose/v4"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/secrethash"
	"github.com/latchkey/latchkey/server"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// fixture is a real server on loopback with a known config.
type fixture struct {
	t           testing.TB
	srv         *server.Server
	http        *httptest.Server
	store       *storage.Store
	snap        *config.Snapshot
	secret      string // secret of client "svc" (client_secret_basic)
	postSecret  string // secret of client "svc-post" (client_secret_post)
	otherSecret string // secret of client "other" (realm rl_other)
	appSecret   string // secret of client "app" (password + refresh_token)
	// providerSecret is the secret of client "provider", the Work API
	// environment's client; envKey is that environment's RS256 key.
	providerSecret string
	envKey         crypto.Signer
	dsn            string        // the MySQL DSN, shared with replicas
	clientKey      crypto.Signer // private key of client "jwt-client" (private_key_jwt, ES256)
	yaml           string
}

func onePEM(t testing.TB, b []byte) string {
	t.Helper()
	return strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", `\n`)
}

func hashOf(t testing.TB, s string) string {
	t.Helper()
	h, err := secrethash.Hash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testConfig renders a config with one realm of clients and a second realm.
func testConfig(t testing.TB, f *fixture, format, grace string) string {
	t.Helper()
	sk, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	f.clientKey, err = config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	ckPEM, _ := config.EncodePublicKeyPEM(f.clientKey.Public())
	f.envKey = testRSAKey(t)
	envPEM, _ := config.EncodePublicKeyPEM(f.envKey.Public())
	f.providerSecret = secrethash.Generate()
	f.secret, f.postSecret, f.otherSecret, f.appSecret = secrethash.Generate(), secrethash.Generate(), secrethash.Generate(), secrethash.Generate()
	return fmt.Sprintf(`
issuer: http://issuer.test
signing_keys:
  - {kid: k1, alg: ES256, pem: "%s"}
tokens: {access_token_format: %s, access_token_ttl: 10m, refresh_grace: %s}
realms:
  - {id: rl_test, name: Test, lockout: {max_failures: 3, window: 1m}}
  - {id: rl_other, name: Other}
clients:
  - id: svc
    realm: rl_test
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: [client_credentials]
    scopes: [read, write]
    audience: [https://api.test]
  - id: svc-post
    realm: rl_test
    secret_hash: %s
    auth_method: client_secret_post
    grant_types: [client_credentials]
    scopes: [read]
  - id: jwt-client
    realm: rl_test
    auth_method: private_key_jwt
    public_keys: [{kid: c1, alg: ES256, pem: "%s"}]
    grant_types: [client_credentials]
    scopes: [read]
  - id: public-app
    realm: rl_test
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile, email]
  - id: app
    realm: rl_test
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: [password, refresh_token]
    scopes: [profile]
  - id: provider
    realm: rl_test
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    scopes: [profile]
    refresh_token_ttl: 30m
  - id: other
    realm: rl_other
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: [client_credentials]
    scopes: [read]
environments:
  - guid: %s
    realm: rl_test
    public_keys: [{alg: RS256, pem: "%s"}]
    max_apt_ttl: 60s
    user_token_ttl: 1h
    client: provider
`, onePEM(t, skPEM), format, grace, hashOf(t, f.secret), hashOf(t, f.postSecret), onePEM(t, ckPEM), hashOf(t, f.appSecret),
		hashOf(t, f.providerSecret), hashOf(t, f.otherSecret), envGUID, onePEM(t, envPEM))
}

type fixtureOpts struct {
	format string // jwt (default) or opaque
	mysql  bool
	grace  string // tokens.refresh_grace (default 0s)
	// replicaOf starts a second server with the same config on the same
	// MySQL database: one logical server, two processes' worth of state.
	replicaOf *fixture
	// edit, if set, changes the config text before it is parsed.
	edit func(yaml string) string
	// log, if set, receives the server's log at level info.
	log io.Writer
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	if o.format == "" {
		o.format = config.FormatJWT
	}
	if o.grace == "" {
		o.grace = "0s"
	}
	f := &fixture{t: t}
	f.http = httptest.NewUnstartedServer(nil)
	var yaml string
	if r := o.replicaOf; r != nil {
		f.secret, f.postSecret, f.otherSecret, f.appSecret, f.clientKey = r.secret, r.postSecret, r.otherSecret, r.appSecret, r.clientKey
		f.providerSecret, f.envKey = r.providerSecret, r.envKey
		f.yaml, yaml, f.dsn = r.yaml, r.yaml, r.dsn
	} else {
		f.yaml = testConfig(t, f, o.format, o.grace)
		// The issuer must be the server's own URL, so start the listener first.
		yaml = strings.Replace(f.yaml, "http://issuer.test", "http://"+f.http.Listener.Addr().String(), 1)
		f.yaml = yaml
	}
	if o.edit != nil {
		yaml = o.edit(yaml)
		f.yaml = yaml
	}
	snap, err := config.Parse("test.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	f.snap = snap
	switch {
	case o.replicaOf != nil || o.mysql:
		if f.dsn == "" {
			f.dsn = storagetest.MySQLDSN(t)
		}
		f.store, err = storage.Open(t.Context(), storage.DriverMySQL, f.dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.store.Close() })
	default:
		f.store = storagetest.OpenSQLite(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.log != nil {
		log = slog.New(slog.NewJSONHandler(o.log, nil))
	}
	f.srv, err = server.New(snap, f.store, server.Options{Logger: log, PurgeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.http.Config.Handler = f.srv.Handler()
	f.http.Start()
	t.Cleanup(f.http.Close)
	return f
}

func (f *fixture) url(path string) string { return f.http.URL + path }

func (f *fixture) ctx() context.Context { return f.t.Context() }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// hs256 signs claims with HMAC-SHA256 keyed by key: the classic attack of
// using an RSA/EC public key as an HMAC secret.
func hs256(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	return signJWT(t, key, jose.HS256, claims, nil)
}

// envGUID is the test environment, in the seed's shape.
const envGUID = "123456-1234-5678-12345679"

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// testRSAKey is one 2048-bit key for the whole test binary: generating one
// per fixture would dominate the run time under -race.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}
