package inbound

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// aptSnapshot is a config with one RS256 environment.
func aptSnapshot(t testing.TB) (*config.Snapshot, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	pub, _ := config.EncodePublicKeyPEM(&key.PublicKey)
	one := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	yaml := fmt.Sprintf(`
issuer: https://as.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms: [{id: rl_a, name: A}]
clients: [{id: p, realm: rl_a, auth_method: client_secret_basic, secret_hash: "sha256:%s", grant_types: ["urn:ietf:params:oauth:grant-type:jwt-bearer"], scopes: [x]}]
environments: [{guid: env-1, realm: rl_a, public_keys: [{alg: RS256, pem: "%s"}], client: p}]
`, one(skPEM), strings.Repeat("0", 64), one(pub))
	snap, err := config.Parse("apt.yaml", []byte(yaml), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return snap, key
}

// FuzzVerifyAPT feeds arbitrary tokens to the APT check: no panic, every
// refusal wraps ErrInvalid and gives one of our sentences without library
// text as its Reason, and nothing unsigned by the environment passes.
func FuzzVerifyAPT(f *testing.F) {
	snap, key := aptSnapshot(f)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	jws, _ := s.Sign([]byte(fmt.Sprintf(`{"exp":%d,"iat":%d,"environment_guid":"env-1","arbitrary_id":"u"}`, now.Unix()+30, now.Unix())))
	good, _ := jws.CompactSerialize()
	f.Add(good)
	f.Add(raw(`{"alg":"RS256"}`, `{"environment_guid":"env-1","iss":"env-2","arbitrary_id":"u"}`, "x"))
	f.Add(raw(`{"alg":"none"}`, `{"environment_guid":"env-1","arbitrary_id":"u","exp":1e10,"iat":1}`, ""))
	f.Add(raw(`{"alg":"RS256"}`, `{"environment_guid":1,"sub":["u"]}`, "x"))
	parts := strings.Split(good, ".")
	f.Add(parts[0] + "." + parts[1] + ".abc=")
	f.Add(raw(`{"alg":"RS256","kid":1}`, `{"environment_guid":"env-1","arbitrary_id":"u"}`, "x"))
	f.Add(raw(`{"alg":"RS256"}`, `{"environment_guid":"env-1","arbitrary_id":" u\u0000","exp":"x"}`, "x"))
	f.Fuzz(func(t *testing.T, token string) {
		apt, err := VerifyAPT(token, snap, "https://as.test/oauth2/token", now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			checkReason(t, err)
			return
		}
		if token != good {
			t.Fatalf("accepted a token the environment did not sign: %q (%+v)", token, apt)
		}
	})
}

// signAPT signs payload (raw JSON, so it may hold invalid UTF-8) with key.
func signAPT(t testing.TB, key *rsa.PrivateKey, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyAPTIDs: an arbitrary_id (or sub) or environment_guid (or iss)
// that the user store would refuse later, or that SQLite and MySQL would
// compare differently, is an invalid APT, with a stable reason.
func TestVerifyAPTIDs(t *testing.T) {
	snap, key := aptSnapshot(t)
	times := fmt.Sprintf(`"exp":%d,"iat":%d`, now.Unix()+30, now.Unix())
	const (
		idLength  = `invalid token: claim "arbitrary_id" (or "sub") must be 1 to 255 characters`
		idUTF8    = `invalid token: claim "arbitrary_id" (or "sub") is not valid UTF-8 text`
		idSpace   = `invalid token: claim "arbitrary_id" (or "sub") must not begin or end with white space`
		idControl = `invalid token: claim "arbitrary_id" (or "sub") must not contain control characters`
		envSpace  = `invalid token: claim "environment_guid" (or "iss") must not begin or end with white space`
		envCtl    = `invalid token: claim "environment_guid" (or "iss") must not contain control characters`
		envUTF8   = `invalid token: claim "environment_guid" (or "iss") is not valid UTF-8 text`
		envLength = `invalid token: claim "environment_guid" (or "iss") must be 1 to 255 characters`
	)
	tests := []struct {
		name, claims string // claims after exp and iat
		want         string // "" = accepted
	}{
		{"plain", `"environment_guid":"env-1","arbitrary_id":"user-1"`, ""},
		{"sub alias", `"iss":"env-1","sub":"user-1"`, ""},
		{"255 two-byte characters", `"environment_guid":"env-1","arbitrary_id":"` + strings.Repeat("é", 255) + `"`, ""},
		{"inner space", `"environment_guid":"env-1","arbitrary_id":"a b"`, ""},
		{"empty", `"environment_guid":"env-1","arbitrary_id":""`, idLength},
		{"256 characters", `"environment_guid":"env-1","arbitrary_id":"` + strings.Repeat("a", 256) + `"`, idLength},
		{"leading space", `"environment_guid":"env-1","arbitrary_id":" user-1"`, idSpace},
		{"trailing space", `"environment_guid":"env-1","arbitrary_id":"user-1 "`, idSpace},
		{"trailing tab in sub", `"environment_guid":"env-1","sub":"user-1\t"`, idSpace},
		{"leading no-break space", `"environment_guid":"env-1","arbitrary_id":"\u00a0user-1"`, idSpace},
		{"trailing ideographic space", `"environment_guid":"env-1","arbitrary_id":"user-1\u3000"`, idSpace},
		{"NUL", `"environment_guid":"env-1","arbitrary_id":"a\u0000b"`, idControl},
		{"newline", `"environment_guid":"env-1","arbitrary_id":"a\nb"`, idControl},
		{"DEL", `"environment_guid":"env-1","arbitrary_id":"a\u007fb"`, idControl},
		{"C1 control", `"environment_guid":"env-1","arbitrary_id":"a\u0085b"`, idControl},
		{"invalid UTF-8 byte", `"environment_guid":"env-1","arbitrary_id":"a` + "\xff" + `b"`, idUTF8},
		{"truncated UTF-8 sequence", `"environment_guid":"env-1","arbitrary_id":"a` + "\xc3" + `"`, idUTF8},
		{"lone surrogate escape", `"environment_guid":"env-1","arbitrary_id":"a\ud800b"`, idUTF8},
		{"environment with a trailing space", `"environment_guid":"env-1 ","arbitrary_id":"user-1"`, envSpace},
		{"environment in iss with a NUL", `"iss":"env-1\u0000","arbitrary_id":"user-1"`, envCtl},
		{"environment with invalid UTF-8", `"environment_guid":"env` + "\xfe" + `","arbitrary_id":"user-1"`, envUTF8},
		{"environment of 256 characters", `"environment_guid":"` + strings.Repeat("e", 256) + `","arbitrary_id":"user-1"`, envLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apt, err := VerifyAPT(signAPT(t, key, "{"+times+","+tc.claims+"}"), snap, "https://as.test/oauth2/token", now)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if apt.Environment.GUID != "env-1" {
					t.Fatalf("environment %q", apt.Environment.GUID)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted arbitrary_id %q", apt.ArbitraryID)
			}
			if !errors.Is(err, ErrInvalid) || Reason(err) != tc.want {
				t.Fatalf("refused with %q (%v); want %q", Reason(err), err, tc.want)
			}
		})
	}
}
