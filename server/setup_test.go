package server_test

import (
	"encoding/json"

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
	secret      string        // secret of client "svc" (client_secret_basic)
	postSecret  string        // secret of client "svc-post" (client_secret_post)
	otherSecret string        // secret of client "other" (realm rl_other)
	clientKey   crypto.Signer // private key of client "jwt-client" (private_key_jwt, ES256)
	yaml        string
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
func testConfig(t testing.TB, f *fixture, format string) string {
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
	f.secret, f.postSecret, f.otherSecret = secrethash.Generate(), secrethash.Generate(), secrethash.Generate()
	return fmt.Sprintf(`
issuer: http://issuer.test
signing_keys:
  - {kid: k1, alg: ES256, pem: "%s"}
tokens: {access_token_format: %s, access_token_ttl: 10m}
realms:
  - {id: rl_test, name: Test}
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
    scopes: [profile]
  - id: other
    realm: rl_other
    secret_hash: %s
    auth_method: client_secret_basic
    grant_types: [client_credentials]
    scopes: [read]
`, onePEM(t, skPEM), format, hashOf(t, f.secret), hashOf(t, f.postSecret), onePEM(t, ckPEM), hashOf(t, f.otherSecret))
}

type fixtureOpts struct {
	format string // jwt (default) or opaque
	mysql  bool
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	if o.format == "" {
		o.format = config.FormatJWT
	}
	f := &fixture{t: t}
	f.yaml = testConfig(t, f, o.format)
	// The issuer must be the server's own URL, so start the listener first.
	f.http = httptest.NewUnstartedServer(nil)
	yaml := strings.Replace(f.yaml, "http://issuer.test", "http://"+f.http.Listener.Addr().String(), 1)
	snap, err := config.Parse("test.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	f.snap = snap
	if o.mysql {
		f.store = storagetest.OpenMySQL(t)
	} else {
		f.store = storagetest.OpenSQLite(t)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
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
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, nil)
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
