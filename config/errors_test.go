package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// base is a valid config (lines 1–6) that the error cases extend from line 7.
const base = `signing_keys:
  - kid: k1
    alg: ES256
    pem_file: signing.pem
realms:
  - id: rl_demo
`

const sha = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

func TestParseErrors(t *testing.T) {
	dir := keyDir(t, "")
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{
			name: "unknown top-level key",
			yaml: base + "colour: blue\n",
			want: []string{`t.yaml:7: colour: unknown key (allowed here: issuer, listen, trusted_proxies, database, signing_keys, passwords, tokens, sessions, webauthn, realms, clients, environments, api_credentials, api_keys, compat)`},
		},
		{
			name: "unknown nested key",
			yaml: base + "database:\n  drvier: mysql\n",
			want: []string{`t.yaml:8: database.drvier: unknown key (allowed here: driver, dsn, auto_migrate)`},
		},
		{
			name: "string where a list is expected",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
    scopes: openid
`,
			want: []string{`t.yaml:12: clients[0].scopes: must be a list like [a, b] or "- item" lines, got "openid"`},
		},
		{
			name: "string where a mapping is expected",
			yaml: base + "tokens: 15m\n",
			want: []string{`t.yaml:7: tokens: must be a mapping of keys (key: value), got "15m"`},
		},
		{
			name: "not a boolean",
			yaml: base + "database:\n  auto_migrate: yes\n",
			want: []string{`t.yaml:8: database.auto_migrate: must be true or false, got "yes"`},
		},
		{
			name: "not a whole number",
			yaml: base + "passwords:\n  max_concurrent_hashes: four\n",
			want: []string{`t.yaml:8: passwords.max_concurrent_hashes: must be a whole number, got "four"`},
		},
		{
			name: "bad duration",
			yaml: base + "tokens:\n  access_token_ttl: abc\n",
			want: []string{`t.yaml:8: tokens.access_token_ttl: must be a duration like 90s, 15m or 720h, got "abc"`},
		},
		{
			name: "bad memory size",
			yaml: base + "passwords:\n  argon2id: {memory: 19MB}\n",
			want: []string{`t.yaml:8: passwords.argon2id.memory: must be a size like 19MiB or 65536KiB (units KiB, MiB, GiB), got "19MB"`},
		},
		{
			name: "argon2id memory too small",
			yaml: base + "passwords:\n  argon2id: {memory: 4MiB, parallelism: 17}\n",
			want: []string{
				`t.yaml:8: passwords.argon2id.memory: must be at least 8MiB, got 4096KiB`,
				`t.yaml:8: passwords.argon2id.parallelism: must be between 1 and 16, got 17`,
			},
		},
		{
			name: "duplicate key",
			yaml: base + "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n",
			want: []string{`t.yaml:8: listen: duplicate key (first given at line 7)`},
		},
		{
			name: "duplicate client id",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
`,
			want: []string{`t.yaml:12: clients[1].id: duplicate client id "app" (first at line 8)`},
		},
		{
			name: "dangling realm reference",
			yaml: base + `clients:
  - id: app
    realm: rl_nope
    auth_method: none
    grant_types: [password]
`,
			want: []string{`t.yaml:9: clients[0].realm: unknown realm "rl_nope" (declared realms: rl_demo)`},
		},
		{
			name: "environment names a client of another realm",
			yaml: base + `  - id: rl_two
clients:
  - id: app
    realm: rl_two
    auth_method: none
    grant_types: [password]
environments:
  - guid: env-1
    realm: rl_demo
    public_keys: [{alg: RS256, pem_file: env.pub.pem}]
    client: app
`,
			want: []string{`t.yaml:17: environments[0].client: client "app" belongs to realm rl_two, not rl_demo; references stay within one realm (clients of realm rl_demo: none)`},
		},
		{
			name: "legacy client that is not none",
			yaml: base + `clients:
  - id: backend
    realm: rl_demo
    auth_method: client_secret_basic
    secret_hash: ` + sha + `
    grant_types: [password, refresh_token]
compat:
  legacy: {clients: [backend]}
`,
			want: []string{`t.yaml:14: compat.legacy.clients[0]: client "backend" has auth_method client_secret_basic; a legacy client must be public (auth_method: none) with the password and refresh_token grants`},
		},
		{
			name: "legacy client without refresh_token",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
compat:
  legacy: {clients: [app, ghost]}
`,
			want: []string{
				`t.yaml:13: compat.legacy.clients[0]: client "app" lacks the password or refresh_token grant; a legacy client needs both`,
				`t.yaml:13: compat.legacy.clients[1]: unknown client "ghost" (declared clients: app)`,
			},
		},
		{
			name: "bad PEM",
			yaml: base + `clients:
  - id: svc
    realm: rl_demo
    auth_method: private_key_jwt
    public_keys: [{alg: ES256, pem: "not a key"}]
    grant_types: [client_credentials]
`,
			want: []string{`t.yaml:11: clients[0].public_keys[0].pem: no PEM block found (want "-----BEGIN … KEY-----" lines; a pem on one line needs \n escapes)`},
		},
		{
			name: "private key where a public key is needed",
			yaml: base + `clients:
  - id: svc
    realm: rl_demo
    auth_method: private_key_jwt
    public_keys: [{alg: ES256, pem_file: signing.pem}]
    grant_types: [client_credentials]
`,
			want: []string{`t.yaml:11: clients[0].public_keys[0].pem_file: found a PRIVATE KEY where a public key is needed; give only the public key (openssl pkey -in FILE -pubout)`},
		},
		{
			name: "RSA key for ES256",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
environments:
  - guid: env-1
    realm: rl_demo
    client: app
    public_keys: [{alg: ES256, pem_file: env.pub.pem}]
`,
			want: []string{`t.yaml:16: environments[0].public_keys[0].alg: ES256 needs a P-256 EC key, but the key is RSA 2048-bit`},
		},
		{
			name: "1024-bit RSA for RS256",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
environments:
  - guid: env-1
    realm: rl_demo
    client: app
    public_keys: [{alg: RS256, pem_file: rsa1024.pub.pem}]
`,
			want: []string{`t.yaml:16: environments[0].public_keys[0].alg: RS256 needs an RSA key of at least 2048 bits, but the key is RSA 1024-bit`},
		},
		{
			name: "api credential key that is not ES256",
			yaml: base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
api_credentials:
  - id: cred
    realm: rl_demo
    client: app
    public_keys: [{alg: RS256, pem_file: env.pub.pem}]
    scopes: [users.create, users.fly]
`,
			want: []string{
				`t.yaml:16: api_credentials[0].public_keys[0].alg: RS256 is not allowed here (want ES256)`,
				`t.yaml:17: api_credentials[0].scopes[1]: unknown LoginID scope "users.fly" (want users.create, users.retrieve, users.delete, users.activate, users.deactivate, auth.register, auth.login, codes.generate, codes.authorize, codes.invalidate, credentials.list, credentials.rename, credentials.revoke, credentials.add, credentials.force or tx.create)`,
			},
		},
		{
			name: "unset variable",
			yaml: base + "issuer: ${NOPE}\n",
			want: []string{`t.yaml:7: issuer: environment variable NOPE is not set (set it, or write "$$" for a literal "$")`},
		},
		{
			name: "conflicting surface prefixes",
			yaml: base + "compat:\n  workapi: {prefix: \"\"}\n  legacy: {prefix: \"\"}\n",
			want: []string{`t.yaml:9: compat.legacy.prefix: surfaces workapi (prefix "") and legacy (prefix "") both route POST /users; move one to another prefix or disable it`},
		},
		{
			name: "surface under the login page",
			yaml: base + "compat:\n  workapi: {prefix: /login}\n",
			want: []string{`t.yaml:8: compat.workapi.prefix: prefix "/login" puts POST /login/users on a path of the OAuth core (/oauth2/*, /.well-known/*, /healthz, /readyz, /metrics, /login, /login/*, /consent); choose another prefix`},
		},
		{
			name: "conflicting prefixes are fine when one surface is off",
			yaml: base + "compat:\n  workapi: {prefix: \"\", enabled: false}\n  legacy: {prefix: \"\"}\n",
		},
		{
			name: "surface on a core path",
			yaml: base + "compat:\n  authrocket: {prefix: /oauth2}\n  loginid: {prefix: /loginid/}\n",
			want: []string{
				`t.yaml:8: compat.authrocket.prefix: prefix "/oauth2" puts POST /oauth2/v1/user_tokens on a path of the OAuth core (/oauth2/*, /.well-known/*, /healthz, /readyz, /metrics, /login, /login/*, /consent); choose another prefix`,
				`t.yaml:9: compat.loginid.prefix: must be "" or start with "/", with no trailing "/" and only letters, digits and . _ ~ - between slashes (like /workapi), got "/loginid/"`,
			},
		},
		{
			name: "refresh_grace over 60s",
			yaml: base + "tokens:\n  refresh_grace: 2m\n",
			want: []string{`t.yaml:8: tokens.refresh_grace: must be between 0s and 60s, got 2m0s`},
		},
		{
			name: "missing signing key kid",
			yaml: "signing_keys:\n  - alg: ES256\n    pem_file: signing.pem\n",
			want: []string{`t.yaml:2: signing_keys[0].kid: required: each signing key needs a unique kid (latchkey keys generate prints one)`},
		},
		{
			name: "duplicate signing key kid and unknown alg",
			yaml: `signing_keys:
  - kid: k1
    alg: ES256
    pem_file: signing.pem
  - kid: k1
    alg: HS256
    pem_file: signing.pem
`,
			want: []string{
				`t.yaml:5: signing_keys[1].kid: duplicate kid "k1" (first at line 2)`,
				`t.yaml:6: signing_keys[1].alg: unknown alg "HS256" (want ES256, RS256 or EdDSA)`,
			},
		},
		{
			name: "client secret rules",
			yaml: base + `clients:
  - id: pub
    realm: rl_demo
    auth_method: none
    secret: abc
    grant_types: [client_credentials, implicit]
  - id: conf
    realm: rl_demo
    auth_method: client_secret_post
    grant_types: [password]
  - id: bad
    realm: rl_demo
    auth_method: basic
    secret_hash: md5:x
    grant_types: []
`,
			want: []string{
				`t.yaml:11: clients[0].secret: auth_method none takes no secret; remove secret`,
				`t.yaml:12: clients[0].grant_types[1]: unknown grant type "implicit" (want client_credentials, password, authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:jwt-bearer)`,
				`t.yaml:12: clients[0].grant_types[0]: a public client (auth_method none) cannot use client_credentials`,
				`t.yaml:13: clients[1]: auth_method client_secret_post needs secret_hash (from latchkey secret hash) or secret`,
				`t.yaml:19: clients[2].auth_method: unknown auth_method "basic" (want client_secret_basic, client_secret_post, private_key_jwt or none)`,
				`t.yaml:21: clients[2].grant_types: at least one grant type is required (client_credentials, password, authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:jwt-bearer)`,
			},
		},
		{
			name: "bad override",
			yaml: base,
			env:  map[string]string{EnvIssuer: "ftp://example.com", EnvDatabaseDriver: "postgres"},
			want: []string{
				`t.yaml: issuer: must be an absolute http(s) URL without user info, query or fragment, like https://auth.example.com; got "ftp://example.com" (value from LATCHKEY_ISSUER)`,
				`t.yaml: database.driver: must be sqlite or mysql, got "postgres" (value from LATCHKEY_DATABASE_DRIVER)`,
			},
		},
		{
			name: "YAML syntax error",
			yaml: base + "issuer: [unclosed\n",
			want: []string{`t.yaml:7: YAML syntax: did not find expected ',' or ']'`},
		},
		{
			name: "YAML indentation error",
			yaml: base + "database:\n  driver: sqlite\n dsn: x\n",
			want: []string{`t.yaml:9: YAML syntax: did not find expected key`},
		},
		{
			// yaml.v3 names the line where the sequence starts (8): the
			// problem is the mapping key on line 10.
			name: "YAML error inside a sequence",
			yaml: base + "clients:\n  - id: a\n    realm: rl_demo\n  scopes: [x]\n",
			want: []string{`t.yaml:10: YAML syntax: did not find expected '-' indicator`},
		},
		{
			name: "YAML error inside a nested mapping",
			yaml: base + "tokens:\n  leeway: 30s\n  access_token_ttl: 15m\n   refresh_grace: 0s\n",
			want: []string{`t.yaml:10: YAML syntax: mapping values are not allowed in this context`},
		},
		{
			name: "YAML error in a nested list item's mapping",
			yaml: base + "clients:\n  - id: a\n    realm: rl_demo\n   auth_method: none\n",
			want: []string{`t.yaml:10: YAML syntax: did not find expected '-' indicator`},
		},
		{
			name: "two documents",
			yaml: base + "---\nissuer: http://x\n",
			want: []string{`t.yaml:7: a second YAML document (after ---); the config is one document`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml), dir, env(tc.env))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseReportsAllErrorsSortedByLine(t *testing.T) {
	yml := `api_keys:
  - id: k
    realm: rl_demo
    key_hash: sha256:zz
    permissions: [admin]
signing_keys: []
realms:
  - id: demo
tokens:
  access_token_format: paseto
`
	_, err := Parse("t.yaml", []byte(yml), t.TempDir(), nil)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not Errors", err)
	}
	want := []string{
		`t.yaml:3: api_keys[0].realm: unknown realm "rl_demo" (declared realms: none)`,
		`t.yaml:4: api_keys[0].key_hash: not a valid hash: sha256 hash must be sha256: followed by 64 hex characters`,
		`t.yaml:5: api_keys[0].permissions[0]: unknown permission "admin" (want read or write)`,
		`t.yaml:6: signing_keys: at least one signing key is required (latchkey keys generate --alg ES256 prints one)`,
		`t.yaml:8: realms[0].id: realm ids start with rl_ followed by letters, digits, _ or - (like rl_demo), got "demo"`,
		`t.yaml:10: tokens.access_token_format: must be jwt or opaque, got "paseto"`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d", len(errs), len(want))
	}
	for i, e := range errs {
		if i > 0 && errs[i-1].Line > e.Line {
			t.Fatalf("errors not sorted by line: %v before %v", errs[i-1], e)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, nil)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != path {
		t.Fatalf("Load(missing) = %v, want one Error for %s", err, path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) error %v does not wrap os.ErrNotExist", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{File: "f.yaml", Line: 3, Path: "a.b", Msg: "bad"}, "f.yaml:3: a.b: bad"},
		{"no line", &Error{File: "f.yaml", Path: "a", Msg: "bad"}, "f.yaml: a: bad"},
		{"no path", &Error{File: "f.yaml", Line: 1, Msg: "bad"}, "f.yaml:1: bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
