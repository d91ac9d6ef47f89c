package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// passkeyBase is base with passkeys on in rl_demo (lines 1–7); cases extend
// it from line 8.
const passkeyBase = base + "    passkeys: true\n"

// form is the end of the messages about an origin's form.
const form = "an origin is scheme://host[:port] only, like https://example.com or http://localhost:8080"

// The webauthn section and realms' passkeys: every value written is checked,
// and a default from the issuer that passkeys cannot use is an error at the
// realm that turns them on.
func TestWebAuthnConfig(t *testing.T) {
	dir := keyDir(t, "")
	ipRPID := func(line, value string) string {
		return `t.yaml:` + line + `: webauthn.rp_id: "` + value + `" is an IP address, which WebAuthn and browsers refuse as a relying-party id: ` +
			`use localhost or a domain name as rp_id, and run the issuer as http://localhost:8080 in development`
	}
	const label = `is not a domain name: each dot-separated label must be 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen, like example.com or localhost`
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // nil: valid
	}{
		// The decoder is strict here too.
		{"unknown key", base + "webauthn:\n  rpid: example.com\n", nil, []string{
			`t.yaml:8: webauthn.rpid: unknown key (allowed here: rp_id, rp_display_name, origins, user_verification, timeout)`,
		}},
		{"passkeys not a bool", base + "    passkeys: yes please\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: must be true or false, got "yes please"`,
		}},

		// rp_id from the issuer.
		{"default issuer, no passkeys", base, nil, nil},
		{"IP issuer without passkeys, whatever webauthn says", base + "issuer: http://10.0.0.5:9000\nwebauthn: {user_verification: required, timeout: 30s}\n", nil, nil},
		{"default issuer 127.0.0.1 with passkeys", passkeyBase, nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but the relying-party id defaults to the issuer's host 127.0.0.1, an IP address, ` +
				`which WebAuthn and browsers refuse: use localhost or a domain name as rp_id, and run the issuer as http://localhost:8080 in development`,
		}},
		{"IPv6 issuer with passkeys", passkeyBase + "issuer: http://[::1]:9090\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but the relying-party id defaults to the issuer's host ::1, an IP address, ` +
				`which WebAuthn and browsers refuse: use localhost or a domain name as rp_id, and run the issuer as http://localhost:9090 in development`,
		}},
		{"IP issuer from LATCHKEY_ISSUER, passkeys in the second realm", base + "  - id: rl_two\n    passkeys: true\n",
			map[string]string{EnvIssuer: "https://192.0.2.10"}, []string{
				`t.yaml:8: realms[1].passkeys: realm rl_two has passkeys, but the relying-party id defaults to the issuer's host 192.0.2.10, an IP address, ` +
					`which WebAuthn and browsers refuse: use localhost or a domain name as rp_id, and run the issuer as http://localhost:PORT in development`,
			}},
		{"issuer host not a domain name, with passkeys", passkeyBase + "issuer: http://auth_svc:8080\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but the relying-party id defaults to the issuer's host "auth_svc", ` +
				`which is not a domain name (letters, digits, hyphens and dots): set webauthn.rp_id to the site's domain name`,
		}},
		{"localhost issuer with passkeys", passkeyBase + "issuer: http://localhost:8080\n", nil, nil},
		{"https issuer with passkeys", passkeyBase + "issuer: https://Auth.Example.com/base\n", nil, nil},
		{"invalid issuer: its own error only", passkeyBase + "issuer: ftp://example.com\n", nil, []string{
			`t.yaml:8: issuer: must be an absolute http(s) URL without user info, query or fragment, like https://auth.example.com; got "ftp://example.com"`,
		}},

		// rp_id written: checked always.
		{"IPv4 rp_id without passkeys", base + "webauthn:\n  rp_id: 127.0.0.1\n", nil, []string{ipRPID("8", "127.0.0.1")}},
		{"IPv6 rp_id", base + "webauthn:\n  rp_id: '::1'\n", nil, []string{ipRPID("8", "::1")}},
		{"bracketed IPv6 rp_id", base + "webauthn:\n  rp_id: '[2001:db8::1]'\n", nil, []string{ipRPID("8", "[2001:db8::1]")}},
		{"short IPv4 a browser reads as one", base + "webauthn:\n  rp_id: 127.1\n", nil, []string{ipRPID("8", "127.1")}},
		{"rp_id with scheme, port, path", base + "webauthn:\n  rp_id: https://example.com\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "https://example.com" is not a domain name: write only the host, without scheme, port or path, like example.com or localhost`,
		}},
		{"rp_id with port", base + "webauthn:\n  rp_id: example.com:443\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "example.com:443" is not a domain name: write only the host, without scheme, port or path, like example.com or localhost`,
		}},
		{"rp_id with path", base + "webauthn:\n  rp_id: example.com/login\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "example.com/login" is not a domain name: write only the host, without scheme, port or path, like example.com or localhost`,
		}},
		{"rp_id with an underscore", base + "webauthn:\n  rp_id: my_site.example\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "my_site.example" is not a domain name: use only letters, digits, hyphens and dots, like example.com or localhost`,
		}},
		{"rp_id with a non-ASCII letter", base + "webauthn:\n  rp_id: bücher.example\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "bücher.example" is not a domain name: use only letters, digits, hyphens and dots, like example.com or localhost`,
		}},
		{"rp_id labels", base + "webauthn:\n  rp_id: -a.example\n", nil, []string{`t.yaml:8: webauthn.rp_id: "-a.example" ` + label}},
		{"rp_id empty label", base + "webauthn:\n  rp_id: a..example\n", nil, []string{`t.yaml:8: webauthn.rp_id: "a..example" ` + label}},
		{"rp_id trailing dot", base + "webauthn:\n  rp_id: example.com.\n", nil, []string{`t.yaml:8: webauthn.rp_id: "example.com." ` + label}},
		{"rp_id label too long", base + "webauthn:\n  rp_id: " + strings.Repeat("a", 64) + ".example\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "` + strings.Repeat("a", 64) + `.example" ` + label,
		}},
		{"rp_id too long", base + "webauthn:\n  rp_id: " + strings.Repeat("abcdefghi.", 25) + "example\n", nil, []string{
			`t.yaml:8: webauthn.rp_id: "` + strings.Repeat("abcdefghi.", 25) + `example" is not a domain name: it is longer than 253 characters`,
		}},
		{"rp_id localhost, IP issuer, no passkeys", base + "webauthn:\n  rp_id: localhost\n", nil, nil},
		{"rp_id localhost, IP issuer, passkeys: the default origin is on an IP", passkeyBase + "webauthn:\n  rp_id: localhost\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but webauthn.origins defaults to the issuer's origin http://127.0.0.1:8080, ` +
				`which is on an IP address (WebAuthn and browsers refuse one); run the issuer on localhost or a domain name, like http://localhost:8080 in development`,
		}},
		{"rp_id the issuer's parent domain", passkeyBase + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: EXAMPLE.com\n", nil, nil},
		{"rp_id beside the issuer's host, passkeys", passkeyBase + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: other.example\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but webauthn.origins defaults to the issuer's origin https://auth.example.com, ` +
				`which is not on rp_id other.example: its host must be other.example or end in .other.example (WebAuthn's registrable-suffix rule); ` +
				`run the issuer on rp_id's host or under it, or list the origins of the sign-in pages in webauthn.origins`,
		}},
		{"rp_id beside the issuer's host, no passkeys", base + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: other.example\n", nil, nil},

		// origins.
		{"default origin http on a public host, passkeys", passkeyBase + "issuer: http://auth.example.com\n", nil, []string{
			`t.yaml:7: realms[0].passkeys: realm rl_demo has passkeys, but webauthn.origins defaults to the issuer's origin http://auth.example.com, ` +
				`which is http on a host other than localhost; serve the issuer over https, or list the https origins of the sign-in pages in webauthn.origins`,
		}},
		{"default origin http on a public host, no passkeys", base + "issuer: http://auth.example.com\n", nil, nil},
		{"origins that passkeys accept", passkeyBase + `issuer: https://auth.example.com
webauthn:
  rp_id: example.com
  origins: [https://example.com, https://auth.example.com:8443, HTTPS://Login.Example.COM:443/]
`, nil, nil},
		{"http on localhost and *.localhost", passkeyBase + `issuer: http://localhost:8080
webauthn:
  origins: [http://localhost:8080, http://app.localhost:3000, https://localhost]
`, nil, nil},
		{"origin forms", base + `webauthn:
  rp_id: example.com
  origins:
    - ""
    - example.com
    - ftp://example.com
    - https:example.com
    - https://me@example.com
    - https://example.com/login
    - https://example.com?x=1
    - https://example.com#top
    - https://example.com:0
    - https://example.com:65536
    - "https://example.com /"
`, nil, []string{
			`t.yaml:10: webauthn.origins[0]: empty origin; ` + form,
			`t.yaml:11: webauthn.origins[1]: "example.com" is not an http or https origin; ` + form,
			`t.yaml:12: webauthn.origins[2]: "ftp://example.com" is not an http or https origin; ` + form,
			`t.yaml:13: webauthn.origins[3]: "https:example.com" has no host; ` + form,
			`t.yaml:14: webauthn.origins[4]: "https://me@example.com" has user info (user@); ` + form,
			`t.yaml:15: webauthn.origins[5]: "https://example.com/login" has a path, query or fragment; ` + form,
			`t.yaml:16: webauthn.origins[6]: "https://example.com?x=1" has a path, query or fragment; ` + form,
			`t.yaml:17: webauthn.origins[7]: "https://example.com#top" has a path, query or fragment; ` + form,
			`t.yaml:18: webauthn.origins[8]: "https://example.com:0" has port 0, not one from 1 to 65535; ` + form,
			`t.yaml:19: webauthn.origins[9]: "https://example.com:65536" has port 65536, not one from 1 to 65535; ` + form,
			`t.yaml:20: webauthn.origins[10]: "https://example.com /" is not a valid origin; ` + form,
		}},
		{"origins that passkeys refuse, written: checked without passkeys", base + `webauthn:
  rp_id: example.com
  origins:
    - http://example.com
    - https://192.0.2.1
    - 'http://[::1]:8080'
    - https://my_app.example.com
    - https://notexample.com
    - https://example.com.evil.test
    - https://example.com
    - https://EXAMPLE.com:443/
`, nil, []string{
			`t.yaml:10: webauthn.origins[0]: "http://example.com" is http on a host other than localhost; use https (http is allowed only for localhost and *.localhost)`,
			`t.yaml:11: webauthn.origins[1]: "https://192.0.2.1" is on an IP address (WebAuthn and browsers refuse one); use localhost or a domain name, like http://localhost:PORT in development`,
			`t.yaml:12: webauthn.origins[2]: "http://[::1]:8080" is on an IP address (WebAuthn and browsers refuse one); use localhost or a domain name, like http://localhost:8080 in development`,
			`t.yaml:13: webauthn.origins[3]: "https://my_app.example.com" has a host that is not a domain name: use only letters, digits, hyphens and dots, like example.com or localhost`,
			`t.yaml:14: webauthn.origins[4]: "https://notexample.com" is not on rp_id example.com: its host must be example.com or end in .example.com (WebAuthn's registrable-suffix rule); change the origin or webauthn.rp_id`,
			`t.yaml:15: webauthn.origins[5]: "https://example.com.evil.test" is not on rp_id example.com: its host must be example.com or end in .example.com (WebAuthn's registrable-suffix rule); change the origin or webauthn.rp_id`,
			`t.yaml:17: webauthn.origins[7]: duplicate origin "https://example.com" (first at line 16)`,
		}},
		{"origins off the default rp_id, no passkeys", base + "webauthn:\n  origins: [https://example.com]\n", nil, nil},
		{"origins off the default rp_id, passkeys", passkeyBase + "issuer: https://auth.example.com\nwebauthn:\n  origins: [https://example.com]\n", nil, []string{
			`t.yaml:10: webauthn.origins[0]: "https://example.com" is not on rp_id auth.example.com: its host must be auth.example.com or end in .auth.example.com (WebAuthn's registrable-suffix rule); change the origin or webauthn.rp_id`,
		}},
		{"origins with an IP rp_id: the rp_id's error only", base + "webauthn:\n  rp_id: 10.1.1.1\n  origins: [https://example.com]\n", nil, []string{ipRPID("8", "10.1.1.1")}},
		{"empty origins", base + "webauthn:\n  origins: []\n", nil, []string{
			`t.yaml:8: webauthn.origins: an empty list accepts no origin, so no passkey ceremony could succeed; list the origins, or remove origins: to accept the issuer's origin`,
		}},

		// user_verification, timeout, rp_display_name.
		{"user_verification values", base + "webauthn:\n  user_verification: always\n", nil, []string{
			`t.yaml:8: webauthn.user_verification: must be required, preferred or discouraged, got "always"`,
		}},
		{"user_verification case", base + "webauthn:\n  user_verification: Required\n", nil, []string{
			`t.yaml:8: webauthn.user_verification: must be required, preferred or discouraged, got "Required"`,
		}},
		{"timeout bounds", base + "webauthn:\n  timeout: 10s\n", nil, nil},
		{"timeout upper bound", base + "webauthn:\n  timeout: 10m\n", nil, nil},
		{"timeout too short", base + "webauthn:\n  timeout: 9s\n", nil, []string{
			`t.yaml:8: webauthn.timeout: must be between 10s and 10m (how long a ceremony's challenge lives), got 9s`,
		}},
		{"timeout too long", base + "webauthn:\n  timeout: 601s\n", nil, []string{
			`t.yaml:8: webauthn.timeout: must be between 10s and 10m (how long a ceremony's challenge lives), got 10m1s`,
		}},
		{"timeout zero", base + "webauthn:\n  timeout: 0s\n", nil, []string{
			`t.yaml:8: webauthn.timeout: must be between 10s and 10m (how long a ceremony's challenge lives), got 0s`,
		}},
		{"timeout not a duration", base + "webauthn:\n  timeout: 120\n", nil, []string{
			`t.yaml:8: webauthn.timeout: must be a duration like 90s, 15m or 720h, got "120"`,
		}},
		{"rp_display_name of 255 characters", base + "webauthn:\n  rp_display_name: " + strings.Repeat("é", 255) + "\n", nil, nil},
		{"rp_display_name too long", base + "webauthn:\n  rp_display_name: " + strings.Repeat("é", 256) + "\n", nil, []string{
			`t.yaml:8: webauthn.rp_display_name: may be at most 255 characters, got 256; shorten it`,
		}},

		// An ES256 signing key, active or not, for transaction confirmations.
		{"passkeys without an ES256 key", `signing_keys:
  - {kid: r1, alg: RS256, pem_file: env.pem}
issuer: http://localhost:8080
realms:
  - id: rl_demo
  - id: rl_pk
    passkeys: true
  - id: rl_pk2
    passkeys: true
compat:
  loginid: {enabled: false}
`, nil, []string{
			`t.yaml:7: realms[1].passkeys: realm rl_pk has passkeys, whose transaction confirmations are signed as ES256 JWTs, but no signing key is ES256 ` +
				`(signing_keys have RS256); add one with latchkey keys generate --alg ES256 (it need not be the first, active key)`,
		}},
		{"passkeys with an ES256 key after the active RS256 one", `signing_keys:
  - {kid: r1, alg: RS256, pem_file: env.pem}
  - {kid: k1, alg: ES256, pem_file: signing.pem}
issuer: http://localhost:8080
realms:
  - id: rl_demo
    passkeys: true
compat:
  loginid: {enabled: false}
`, nil, nil},
		{"no ES256 key and no passkeys", `signing_keys:
  - {kid: r1, alg: RS256, pem_file: env.pem}
realms:
  - id: rl_demo
    passkeys: false
compat:
  loginid: {enabled: false}
`, nil, nil},
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
				t.Fatalf("want config errors, got %v", err)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The Snapshot's WebAuthn: always filled, defaults from the issuer, values
// normalised.
func TestWebAuthnSnapshot(t *testing.T) {
	dir := keyDir(t, "")
	tests := []struct {
		name     string
		yaml     string
		want     WebAuthn
		passkeys []bool // by realm
	}{
		{"defaults from the default issuer, no passkeys", base, WebAuthn{
			RPID: "127.0.0.1", RPDisplayName: "127.0.0.1", Origins: []string{"http://127.0.0.1:8080"},
			UserVerification: UserVerificationPreferred, Timeout: 2 * time.Minute,
		}, []bool{false}},
		{"defaults from a localhost issuer", passkeyBase + "issuer: http://LocalHost:8080/\n", WebAuthn{
			RPID: "localhost", RPDisplayName: "LocalHost", Origins: []string{"http://localhost:8080"},
			UserVerification: UserVerificationPreferred, Timeout: 2 * time.Minute,
		}, []bool{true}},
		{"defaults from an https issuer with a path and the default port", passkeyBase + "issuer: https://Auth.Example.com:443/tenant\n", WebAuthn{
			RPID: "auth.example.com", RPDisplayName: "Auth.Example.com", Origins: []string{"https://auth.example.com"},
			UserVerification: UserVerificationPreferred, Timeout: 2 * time.Minute,
		}, []bool{true}},
		{"defaults from an IPv6 issuer", base + "issuer: http://[::1]:9090\n", WebAuthn{
			RPID: "::1", RPDisplayName: "::1", Origins: []string{"http://[::1]:9090"},
			UserVerification: UserVerificationPreferred, Timeout: 2 * time.Minute,
		}, []bool{false}},
		{"every key written", passkeyBase + `  - id: rl_other
issuer: https://auth.example.com:8443
webauthn:
  rp_id: Example.COM
  rp_display_name: Example
  origins: [https://example.com, HTTPS://Auth.Example.com:8443/, https://app.example.com:443]
  user_verification: required
  timeout: 45s
`, WebAuthn{
			RPID: "example.com", RPDisplayName: "Example",
			Origins:          []string{"https://example.com", "https://auth.example.com:8443", "https://app.example.com"},
			UserVerification: UserVerificationRequired, Timeout: 45 * time.Second,
		}, []bool{true, false}},
		{"an empty value is the default", base + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: ''\n  rp_display_name: ''\n  user_verification: discouraged\n  timeout:\n", WebAuthn{
			RPID: "auth.example.com", RPDisplayName: "auth.example.com", Origins: []string{"https://auth.example.com"},
			UserVerification: UserVerificationDiscouraged, Timeout: 2 * time.Minute,
		}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tc.yaml), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.WebAuthn, tc.want) {
				t.Errorf("WebAuthn = %#v\nwant %#v", s.WebAuthn, tc.want)
			}
			var got []bool
			anyOn := false
			for _, r := range s.Realms {
				got = append(got, r.Passkeys)
				anyOn = anyOn || r.Passkeys
				if s.Realm(r.ID) != r {
					t.Errorf("Realm(%s) is not the listed realm", r.ID)
				}
			}
			if !reflect.DeepEqual(got, tc.passkeys) {
				t.Errorf("realms' Passkeys = %v, want %v", got, tc.passkeys)
			}
			if s.PasskeysEnabled() != anyOn {
				t.Errorf("PasskeysEnabled() = %v, want %v", s.PasskeysEnabled(), anyOn)
			}
		})
	}
}

// Each Parse builds its own WebAuthn: a reloaded snapshot shares nothing
// with the one it replaces.
func TestWebAuthnSnapshotsShareNothing(t *testing.T) {
	dir := keyDir(t, "")
	yml := []byte(base + "webauthn:\n  origins: [https://example.com]\n")
	a, err := Parse("t.yaml", yml, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("t.yaml", yml, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.WebAuthn.Origins[0] = "https://changed.example"
	if b.WebAuthn.Origins[0] != "https://example.com" {
		t.Fatalf("two snapshots share their origins: %q", b.WebAuthn.Origins)
	}
	d, err := Parse("t.yaml", []byte(base), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.WebAuthn.Origins[0] = "https://changed.example"
	if e, _ := Parse("t.yaml", []byte(base), dir, nil); e.WebAuthn.Origins[0] != "http://127.0.0.1:8080" {
		t.Fatalf("default origins are shared: %q", e.WebAuthn.Origins)
	}
}

// TestWebAuthnOriginsWithoutTheIssuer: origins that leave out the issuer's
// origin load, with a warning that the login page's passkeys will fail.
func TestWebAuthnOriginsWithoutTheIssuer(t *testing.T) {
	dir := keyDir(t, "")
	for name, tc := range map[string]struct {
		yaml string
		warn bool
	}{
		"the issuer's origin left out": {passkeyBase + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: example.com\n  origins: [https://app.example.com]\n", true},
		"the issuer's origin listed":   {passkeyBase + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: example.com\n  origins: [https://app.example.com, https://auth.example.com]\n", false},
		"no passkeys":                  {base + "issuer: https://auth.example.com\nwebauthn:\n  rp_id: example.com\n  origins: [https://app.example.com]\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tc.yaml), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, w := range s.Warnings {
				warned = warned || strings.Contains(w, "webauthn.origins: does not list the issuer's origin https://auth.example.com")
			}
			if warned != tc.warn {
				t.Errorf("warnings %q: want the issuer-origin warning %v", s.Warnings, tc.warn)
			}
		})
	}
}
