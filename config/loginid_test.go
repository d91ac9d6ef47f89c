package config

import (
	"errors"
	"strings"
	"testing"
)

// While the LoginID surface is on, the active signing key must be ES256:
// LoginID's SDKs verify the user tokens it issues only as ES256 JWTs.
func TestLoginIDNeedsES256ActiveKey(t *testing.T) {
	dir := keyDir(t, "")
	const rsaFirst = `signing_keys:
  - kid: r1
    alg: RS256
    pem_file: env.pem
  - kid: k1
    alg: ES256
    pem_file: signing.pem
realms:
  - id: rl_demo
`
	const es256First = `signing_keys:
  - kid: k1
    alg: ES256
    pem_file: signing.pem
  - kid: r1
    alg: RS256
    pem_file: env.pem
realms:
  - id: rl_demo
`
	tests := []struct {
		name, yaml string
		want       string // "" = valid
	}{
		{"RS256 first, loginid on by default", rsaFirst,
			`t.yaml:3: signing_keys[0].alg: the first (active) signing key must be ES256 while compat.loginid is enabled, got RS256: ` +
				`LoginID's SDKs verify the tokens that surface issues only as ES256 JWTs. Put an ES256 key first ` +
				`(latchkey keys generate --alg ES256) and keep this one after it, or set compat.loginid.enabled: false`},
		{"RS256 first, loginid on explicitly", rsaFirst + "compat:\n  loginid: {enabled: true, prefix: /api/native}\n",
			`t.yaml:3: signing_keys[0].alg: the first (active) signing key must be ES256`},
		{"RS256 first, loginid off", rsaFirst + "compat:\n  loginid: {enabled: false}\n", ""},
		{"ES256 first, RS256 kept for rotation", es256First, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml), dir, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want exactly one config error, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error:\n%s\nwant it to start with:\n%s", err, tc.want)
			}
		})
	}
}
