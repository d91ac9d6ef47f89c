package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/secrethash"
)

// specExample is the SPEC §2 example with its key files under keys/.
const specExample = `issuer: http://127.0.0.1:8080/         # trailing slash is dropped
listen: 127.0.0.1:8080
database:
  driver: sqlite
  dsn: data/latchkey.db
  auto_migrate: true
signing_keys:
  - kid: k-2026-11
    alg: ES256
    pem_file: keys/signing.pem
passwords:
  argon2id: {memory: 19MiB, iterations: 2, parallelism: 1}
  max_concurrent_hashes: 4
  queue_timeout: 2s
tokens:
  access_token_format: jwt
  access_token_ttl: 15m
  refresh_token_ttl: 720h
  refresh_grace: 0s
  leeway: 30s
realms:
  - id: rl_demo
    name: Demo
    username_is_email: false
    password_min_length: 10
    signup_token_ttl: 24h
    lockout: {max_failures: 10, window: 15m}
clients:
  - id: legacy-app
    realm: rl_demo
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile]
    access_token_ttl: 336h
  - id: demo-backend
    realm: rl_demo
    secret_hash: ${DEMO_BACKEND_SECRET_HASH}
    auth_method: client_secret_basic
    grant_types: [client_credentials, password, refresh_token, "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    scopes: [openid, profile, users.read]
    audience: [https://api.example.com]
environments:
  - guid: 123456-1234-5678-12345679
    realm: rl_demo
    public_keys: [{alg: RS256, pem_file: keys/env.pub.pem}]
    max_apt_ttl: 60s
    user_token_ttl: 24h
    client: demo-backend
api_credentials:
  - id: cred_demo
    realm: rl_demo
    public_keys: [{alg: ES256, pem_file: keys/cred.pub.pem}]
    client: demo-backend
    scopes: [users.create, users.retrieve, users.delete, users.activate, users.deactivate,
             auth.register, auth.login, codes.generate, codes.authorize, codes.invalidate,
             credentials.list, credentials.rename, credentials.revoke, credentials.add,
             credentials.force, tx.create]
api_keys:
  - id: ko_demo
    realm: rl_demo
    key_hash: ${AR_KEY_HASH}
    permissions: [read, write]
compat:
  workapi:    {enabled: true, prefix: /workapi}
  loginid:    {enabled: true, prefix: /loginid}
  authrocket: {enabled: true, prefix: /authrocket}
  legacy:     {enabled: true, prefix: "", clients: [legacy-app]}
`

func TestLoadSpecExample(t *testing.T) {
	k := keys(t)
	dir := keyDir(t, "keys")
	path := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(path, []byte(specExample), 0o600); err != nil {
		t.Fatal(err)
	}
	secretHash, _ := secrethash.Hash(secrethash.Generate())
	keyHash, _ := secrethash.Hash(secrethash.Generate())

	s, err := Load(path, env(map[string]string{"DEMO_BACKEND_SECRET_HASH": secretHash, "AR_KEY_HASH": keyHash}))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Source", s.Source, path)
	check("Warnings", s.Warnings, []string(nil))
	check("Issuer", s.Issuer, "http://127.0.0.1:8080")
	check("Listen", s.Listen, "127.0.0.1:8080")
	check("Database", s.Database, Database{Driver: "sqlite", DSN: "data/latchkey.db", AutoMigrate: true})
	check("signing kid", s.ActiveSigningKey().KID, "k-2026-11")
	check("signing alg", s.ActiveSigningKey().Alg, AlgES256)
	check("signing key", s.ActiveSigningKey().Key, k.signing)
	check("Passwords", s.Passwords, Passwords{Argon2id: Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}, MaxConcurrentHashes: 4, QueueTimeout: 2 * time.Second})
	check("Tokens", s.Tokens, Tokens{AccessTokenFormat: FormatJWT, AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 720 * time.Hour, Leeway: 30 * time.Second})
	check("Realm", *s.Realm("rl_demo"), Realm{ID: "rl_demo", Name: "Demo", PasswordMinLength: 10, SignupTokenTTL: 24 * time.Hour, Lockout: Lockout{MaxFailures: 10, Window: 15 * time.Minute}})

	check("legacy-app", *s.Client("legacy-app"), Client{
		ID: "legacy-app", Realm: "rl_demo", AuthMethod: AuthNone,
		GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"profile"},
		AccessTokenTTL: 336 * time.Hour, RequirePKCE: true, Consent: ConsentNone,
	})
	check("demo-backend", *s.Client("demo-backend"), Client{
		ID: "demo-backend", Realm: "rl_demo", SecretHash: secretHash, AuthMethod: AuthSecretBasic,
		GrantTypes: []string{GrantClientCredentials, GrantPassword, GrantRefreshToken, GrantJWTBearer},
		Scopes:     []string{"openid", "profile", "users.read"}, Audience: []string{"https://api.example.com"},
		RequirePKCE: true, Consent: ConsentNone,
	})
	check("Sessions", s.Sessions, Sessions{TTL: 24 * time.Hour, IdleTimeout: 2 * time.Hour})

	e := s.Environment("123456-1234-5678-12345679")
	if e == nil {
		t.Fatal("environment not found by GUID")
	}
	check("environment", *e, Environment{
		GUID: "123456-1234-5678-12345679", Realm: "rl_demo", Client: "demo-backend",
		PublicKeys: []PublicKey{{Alg: AlgRS256, Key: k.env.Public()}},
		MaxAPTTTL:  60 * time.Second, UserTokenTTL: 24 * time.Hour,
	})
	c := s.APICredential("cred_demo")
	if c == nil {
		t.Fatal("api credential not found")
	}
	check("credential keys", c.PublicKeys, []PublicKey{{Alg: AlgES256, Key: k.cred.Public()}})
	check("credential scopes", c.Scopes, LoginIDScopes)
	check("api key", *s.APIKeys[0], APIKey{ID: "ko_demo", Realm: "rl_demo", KeyHash: keyHash, Permissions: []string{"read", "write"}})
	check("Compat", s.Compat, Compat{
		WorkAPI:    Surface{Enabled: true, Prefix: "/workapi"},
		LoginID:    Surface{Enabled: true, Prefix: "/loginid"},
		AuthRocket: Surface{Enabled: true, Prefix: "/authrocket"},
		Legacy:     LegacySurface{Surface: Surface{Enabled: true}, Clients: []string{"legacy-app"}},
	})
}

func TestParseDefaults(t *testing.T) {
	dir := keyDir(t, "")
	yml := base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
environments:
  - guid: env-1
    realm: rl_demo
    client: app
    public_keys: [{alg: RS256, pem_file: env.pub.pem}]
`
	s, err := Parse("t.yaml", []byte(yml), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"issuer", s.Issuer, "http://127.0.0.1:8080"},
		{"listen", s.Listen, "127.0.0.1:8080"},
		{"database", s.Database, Database{Driver: "sqlite", DSN: "data/latchkey.db", AutoMigrate: true}},
		{"passwords", s.Passwords, Passwords{Argon2id: Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}, MaxConcurrentHashes: 4, QueueTimeout: 2 * time.Second}},
		{"tokens", s.Tokens, Tokens{AccessTokenFormat: FormatJWT, AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 720 * time.Hour, RefreshGrace: 0, Leeway: 30 * time.Second}},
		{"realm", *s.Realms[0], Realm{ID: "rl_demo", PasswordMinLength: 10, SignupTokenTTL: 24 * time.Hour, Lockout: Lockout{MaxFailures: 10, Window: 15 * time.Minute}}},
		{"client ttls inherit", [2]time.Duration{s.Clients[0].AccessTokenTTL, s.Clients[0].RefreshTokenTTL}, [2]time.Duration{}},
		{"environment ttls", [2]time.Duration{s.Environments[0].MaxAPTTTL, s.Environments[0].UserTokenTTL}, [2]time.Duration{time.Minute, 24 * time.Hour}},
		{"compat", s.Compat, Compat{
			WorkAPI:    Surface{Enabled: true, Prefix: "/workapi"},
			LoginID:    Surface{Enabled: true, Prefix: "/loginid"},
			AuthRocket: Surface{Enabled: true, Prefix: "/authrocket"},
			Legacy:     LegacySurface{Surface: Surface{Enabled: true, Prefix: ""}},
		}},
		{"source", s.Source, "t.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"A": "x", "B": "${A}", "EMPTY": ""})
	tests := []struct {
		name, in, want, err string
	}{
		{name: "no reference", in: "plain", want: "plain"},
		{name: "variable", in: "a${A}b", want: "axb"},
		{name: "two variables", in: "${A}${A}", want: "xx"},
		{name: "empty variable", in: "[${EMPTY}]", want: "[]"},
		{name: "value is not expanded again", in: "${B}", want: "${A}"},
		{name: "$$ is a literal $", in: "$${A}", want: "${A}"},
		{name: "lone $ stays", in: "a$b $", want: "a$b $"},
		{name: "argon2id hash unchanged", in: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", want: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"},
		{name: "unset", in: "${NOPE}", err: `environment variable NOPE is not set (set it, or write "$$" for a literal "$")`},
		{name: "unterminated", in: "${A", err: `unterminated "${" (write ${NAME}, or "$$" for a literal "$")`},
		{name: "bad name", in: "${A-B}", err: `"${A-B}" is not a variable reference (write ${NAME} with letters, digits and _, or "$$" for a literal "$")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expand(tc.in, vars)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("expand(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseExpandsEnvironment(t *testing.T) {
	dir := keyDir(t, "")
	yml := base + `issuer: https://${HOST}/auth/
tokens:
  access_token_ttl: ${TTL}
database:
  auto_migrate: ${MIGRATE}
`
	s, err := Parse("t.yaml", []byte(yml), dir, env(map[string]string{"HOST": "id.example.com", "TTL": "5m", "MIGRATE": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Issuer != "https://id.example.com/auth" || s.Tokens.AccessTokenTTL != 5*time.Minute || s.Database.AutoMigrate {
		t.Fatalf("issuer %q, ttl %s, auto_migrate %v", s.Issuer, s.Tokens.AccessTokenTTL, s.Database.AutoMigrate)
	}
}

func TestOverrides(t *testing.T) {
	dir := keyDir(t, "")
	yml := base + "issuer: http://file.example\nlisten: 127.0.0.1:1\ndatabase: {driver: sqlite, dsn: file.db}\n"
	tests := []struct {
		name string
		env  map[string]string
		want [4]string // issuer, listen, driver, dsn
	}{
		{"none", nil, [4]string{"http://file.example", "127.0.0.1:1", "sqlite", "file.db"}},
		{"all four", map[string]string{
			EnvIssuer: "https://id.example.com/", EnvListen: ":9000",
			EnvDatabaseDriver: "mysql", EnvDatabaseDSN: "u:p@tcp(db:3306)/latchkey?parseTime=true",
		}, [4]string{"https://id.example.com", ":9000", "mysql", "u:p@tcp(db:3306)/latchkey?parseTime=true"}},
		{"empty variable is ignored", map[string]string{EnvListen: ""}, [4]string{"http://file.example", "127.0.0.1:1", "sqlite", "file.db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(yml), dir, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := [4]string{s.Issuer, s.Listen, s.Database.Driver, s.Database.DSN}; got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlainSecretsAreHashedAndWarned(t *testing.T) {
	dir := keyDir(t, "")
	secret, apiKey := secrethash.Generate(), secrethash.Generate()
	argon, _ := secrethash.Hash("short-secret")
	yml := base + `clients:
  - id: backend
    realm: rl_demo
    auth_method: client_secret_post
    secret: ` + secret + `
    grant_types: [client_credentials]
  - id: slow
    realm: rl_demo
    auth_method: client_secret_basic
    secret_hash: "` + argon + `"
    grant_types: [client_credentials]
api_keys:
  - id: ko_1
    realm: rl_demo
    key: ` + apiKey + `
    permissions: [read]
`
	s, err := Parse("t.yaml", []byte(yml), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{
		"t.yaml:11: clients[0].secret: plain secret in the config file; store secret_hash (latchkey secret hash) instead",
		"t.yaml:16: clients[1].secret_hash: argon2id hash: every request with this secret costs a slow hash; for a generated secret store its sha256: hash (latchkey secret hash --generate)",
		"t.yaml:21: api_keys[0].key: plain key in the config file; store key_hash (latchkey secret hash) instead",
	}
	if !reflect.DeepEqual(s.Warnings, wantWarnings) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(s.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	if ok, err := secrethash.Verify(s.Client("backend").SecretHash, secret); !ok || err != nil {
		t.Fatalf("client secret does not verify against its hash: %v %v", ok, err)
	}
	if ok, err := secrethash.Verify(s.APIKeys[0].KeyHash, apiKey); !ok || err != nil {
		t.Fatalf("api key does not verify against its hash: %v %v", ok, err)
	}
	dump := fmt.Sprintf("%#v %#v %#v %#v", *s, *s.Clients[0], *s.Clients[1], *s.APIKeys[0])
	for _, plain := range []string{secret, apiKey} {
		if strings.Contains(dump, plain) {
			t.Fatalf("plain secret %q kept in the snapshot", plain)
		}
	}
}

func TestInlinePEMWithEscapes(t *testing.T) {
	k := keys(t)
	oneLine := strings.ReplaceAll(strings.TrimSpace(k.signingPEM), "\n", `\n`)
	yml := "signing_keys:\n  - kid: k1\n    alg: ES256\n    pem: '" + oneLine + "'\n" +
		"  - kid: k2\n    alg: ES256\n    pem: " + oneLine + "\n"
	s, err := Parse("t.yaml", []byte(yml), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, sk := range s.SigningKeys {
		if !reflect.DeepEqual(sk.Key, k.signing) {
			t.Fatalf("signing key %d differs from the one written", i)
		}
	}
}

func TestPEMFileIsRelativeToConfigDir(t *testing.T) {
	k := keys(t)
	dir := keyDir(t, filepath.Join("etc", "keys"))
	path := filepath.Join(dir, "etc", "latchkey.yaml")
	yml := "signing_keys:\n  - {kid: k1, alg: ES256, pem_file: keys/signing.pem}\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.ActiveSigningKey().Key, k.signing) {
		t.Fatal("signing key differs from the one written")
	}
	// The same file read from elsewhere with Parse and a wrong base fails
	// with a message naming the resolved path.
	_, err = Parse("t.yaml", []byte(yml), dir, nil)
	want := "t.yaml:2: signing_keys[0].pem_file: cannot read the key file (relative paths start at the config file's directory): open " +
		filepath.Join(dir, "keys", "signing.pem") + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

// TestDocsExamples parses every yaml block of docs/configuration.md, so the
// documentation's examples stay valid.
func TestDocsExamples(t *testing.T) {
	k := keys(t)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := keyDir(t, "keys")
	hash, _ := secrethash.Hash(secrethash.Generate())
	vars := env(map[string]string{
		"LATCHKEY_HOST":            "id.example.com",
		"LATCHKEY_SIGNING_KEY_PEM": strings.ReplaceAll(k.signingPEM, "\n", `\n`),
		"DEMO_BACKEND_SECRET_HASH": hash,
		"AR_KEY_HASH":              hash,
	})
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("found %d yaml blocks in the docs", len(blocks))
	}
	for i, b := range blocks {
		yml, _, _ := strings.Cut(b, "```")
		t.Run(fmt.Sprintf("block %d", i+1), func(t *testing.T) {
			if _, err := Parse("configuration.md", []byte(yml), dir, vars); err != nil {
				t.Fatalf("%v\nin:\n%s", err, yml)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse panic, and that a failure is
// always Errors.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(specExample))
	f.Add([]byte("a: &x [1, *x]\nclients: [{id: ${A}, realm: $$}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f.yaml", data, "/nonexistent", env(map[string]string{"A": "a"}))
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error %T is not Errors", err)
			}
		}
	})
}
