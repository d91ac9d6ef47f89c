package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The keys of browser sign-in: sessions, and on clients redirect URIs, PKCE,
// consent and the ID token alg. Every problem is reported at its line.
func TestBrowserClientConfig(t *testing.T) {
	dir := keyDir(t, "")
	// lines 1–6 are base; clients: is line 7.
	client := func(extra string) string {
		return base + `clients:
  - id: web
    realm: rl_demo
    auth_method: client_secret_basic
    secret_hash: ` + sha + `
    grant_types: [authorization_code, refresh_token]
` + extra
	}
	public := func(extra string) string {
		return base + `clients:
  - id: spa
    realm: rl_demo
    auth_method: none
    grant_types: [authorization_code]
` + extra
	}
	tests := []struct {
		name string
		yaml string
		want []string // nil: valid
	}{
		{"https, loopback http, custom scheme", client("    redirect_uris: [https://app.example.com/callback, http://127.0.0.1:5173/cb, 'http://[::1]:80/cb', http://localhost/cb, com.example.app:/oauth]\n"), nil},
		{"grant without redirect URI", client(""), []string{
			`t.yaml:12: clients[0].grant_types[0]: the authorization_code grant needs at least one redirect_uris entry (the exact URIs the client's sign-ins return to)`,
		}},
		{"redirect URIs without the grant", base + `clients:
  - id: app
    realm: rl_demo
    auth_method: none
    grant_types: [password]
    redirect_uris: [https://app.example.com/cb]
    post_logout_redirect_uris: [https://app.example.com/]
`, []string{
			`t.yaml:12: clients[0].redirect_uris: redirect_uris are used only with the authorization_code grant; add it to grant_types or remove them`,
			`t.yaml:13: clients[0].post_logout_redirect_uris: post_logout_redirect_uris are used only with the authorization_code grant; add it to grant_types or remove them`,
		}},
		{"http on a non-loopback host", client("    redirect_uris:\n      - http://app.example.com/cb\n      - http://127.0.0.2.example.com/cb\n"), []string{
			`t.yaml:14: clients[0].redirect_uris[0]: "http://app.example.com/cb" is http on a host that is not loopback; use https (http is allowed only for 127.0.0.1, [::1] or localhost, RFC 8252 §7.3)`,
			`t.yaml:15: clients[0].redirect_uris[1]: "http://127.0.0.2.example.com/cb" is http on a host that is not loopback; use https (http is allowed only for 127.0.0.1, [::1] or localhost, RFC 8252 §7.3)`,
		}},
		{"fragment, relative, user info, javascript, duplicate, empty", client(`    redirect_uris:
      - https://app.example.com/cb#x
      - /callback
      - https://me@app.example.com/cb
      - javascript:alert(1)
      - https://app.example.com/ok
      - https://app.example.com/ok
      - ""
      - "https://app.example.com/a b"
`), []string{
			`t.yaml:14: clients[0].redirect_uris[0]: "https://app.example.com/cb#x" has a fragment (#…); redirect URIs may not have one (RFC 6749 §3.1.2)`,
			`t.yaml:15: clients[0].redirect_uris[1]: "/callback" is not absolute: write the scheme and host, like https://app.example.com/callback`,
			`t.yaml:16: clients[0].redirect_uris[2]: "https://me@app.example.com/cb" has user info (user@); remove it`,
			`t.yaml:17: clients[0].redirect_uris[3]: "javascript:alert(1)": the javascript scheme is never a redirect URI`,
			`t.yaml:19: clients[0].redirect_uris[5]: duplicate redirect URI "https://app.example.com/ok" (first at line 18)`,
			`t.yaml:20: clients[0].redirect_uris[6]: empty redirect URI`,
			`t.yaml:21: clients[0].redirect_uris[7]: "https://app.example.com/a b" is not a valid URI (no spaces or control characters)`,
		}},
		{"post-logout URI checked like a redirect URI", client("    redirect_uris: [https://app.example.com/cb]\n    post_logout_redirect_uris: [http://app.example.com/]\n"), []string{
			`t.yaml:14: clients[0].post_logout_redirect_uris[0]: "http://app.example.com/" is http on a host that is not loopback; use https (http is allowed only for 127.0.0.1, [::1] or localhost, RFC 8252 §7.3)`,
		}},
		{"public client may not turn PKCE off", public("    redirect_uris: [http://127.0.0.1:5173/cb]\n    require_pkce: false\n"), []string{
			`t.yaml:13: clients[0].require_pkce: a public client (auth_method none) always needs PKCE: it has no secret, so the code verifier is the only proof that the code is its own; remove require_pkce: false`,
		}},
		{"confidential client may turn PKCE off", client("    redirect_uris: [https://app.example.com/cb]\n    require_pkce: false\n"), nil},
		{"consent values", client("    redirect_uris: [https://app.example.com/cb]\n    consent: maybe\n"), []string{
			`t.yaml:14: clients[0].consent: must be none or required, got "maybe"`,
		}},
		{"id token alg without a key of that alg", client("    redirect_uris: [https://app.example.com/cb]\n    id_token_signed_response_alg: RS256\n"), []string{
			`t.yaml:14: clients[0].id_token_signed_response_alg: no signing key has alg RS256 (signing_keys have ES256); add one (latchkey keys generate --alg RS256) after the active key`,
		}},
		{"unknown id token alg", client("    redirect_uris: [https://app.example.com/cb]\n    id_token_signed_response_alg: HS256\n"), []string{
			`t.yaml:14: clients[0].id_token_signed_response_alg: unknown alg "HS256" (want ES256, RS256 or EdDSA)`,
		}},
		{"sessions", base + "sessions:\n  ttl: 1h\n  idle_timeout: 2h\n", []string{
			`t.yaml:9: sessions.idle_timeout: must not be longer than sessions.ttl (1h0m0s), got 2h0m0s`,
		}},
		{"sessions not positive", base + "sessions:\n  ttl: 0s\n  idle_timeout: -1s\n", []string{
			`t.yaml:8: sessions.ttl: must be more than 0, got 0s`,
			`t.yaml:9: sessions.idle_timeout: must be more than 0, got -1s`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml), dir, nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want config errors, got %v", err)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The id_token alg may name a key that is not the active one, and a public
// client's PKCE is on whatever the file says.
func TestBrowserClientSnapshot(t *testing.T) {
	dir := keyDir(t, "")
	yml := `signing_keys:
  - {kid: k1, alg: ES256, pem_file: signing.pem}
  - {kid: r1, alg: RS256, pem_file: env.pem}
realms:
  - id: rl_demo
sessions: {ttl: 8h, idle_timeout: 30m}
clients:
  - id: web
    name: Example Web App
    realm: rl_demo
    auth_method: client_secret_basic
    secret_hash: ` + sha + `
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [https://app.example.com/callback]
    post_logout_redirect_uris: [https://app.example.com/]
    require_pkce: false
    consent: required
    id_token_signed_response_alg: RS256
  - id: spa
    realm: rl_demo
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [http://127.0.0.1:5173/callback]
compat:
  loginid: {enabled: false}
`
	s, err := Parse("t.yaml", []byte(yml), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Sessions != (Sessions{TTL: 8 * time.Hour, IdleTimeout: 30 * time.Minute}) {
		t.Errorf("Sessions = %+v", s.Sessions)
	}
	web := s.Client("web")
	want := Client{
		ID: "web", Realm: "rl_demo", SecretHash: sha, AuthMethod: AuthSecretBasic,
		GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
		Name:       "Example Web App", RedirectURIs: []string{"https://app.example.com/callback"},
		PostLogoutRedirectURIs: []string{"https://app.example.com/"},
		RequirePKCE:            false, Consent: ConsentRequired, IDTokenSignedResponseAlg: AlgRS256,
	}
	if !reflect.DeepEqual(*web, want) {
		t.Errorf("web = %#v\nwant %#v", *web, want)
	}
	if k, ok := s.SigningKeyFor(web.IDTokenSignedResponseAlg); !ok || k.KID != "r1" {
		t.Errorf("SigningKeyFor(RS256) = %v, %v", k.KID, ok)
	}
	spa := s.Client("spa")
	if !spa.RequirePKCE || spa.Consent != ConsentNone || spa.DisplayName() != "spa" {
		t.Errorf("spa = %+v", spa)
	}
}
