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
// refusal wraps ErrInvalid, and nothing unsigned by the environment passes.
func FuzzVerifyAPT(f *testing.F) {
	snap, key := aptSnapshot(f)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	jws, _ := s.Sign([]byte(fmt.Sprintf(`{"exp":%d,"iat":%d,"environment_guid":"env-1","arbitrary_id":"u"}`, now.Unix()+30, now.Unix())))
	good, _ := jws.CompactSerialize()
	f.Add(good)
	f.Add(raw(`{"alg":"RS256"}`, `{"environment_guid":"env-1","iss":"env-2","arbitrary_id":"u"}`, "x"))
	f.Add(raw(`{"alg":"none"}`, `{"environment_guid":"env-1","arbitrary_id":"u","exp":1e10,"iat":1}`, ""))
	f.Add(raw(`{"alg":"RS256"}`, `{"environment_guid":1,"sub":["u"]}`, "x"))
	f.Fuzz(func(t *testing.T, token string) {
		apt, err := VerifyAPT(token, snap, "https://as.test/oauth2/token", now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			return
		}
		if token != good {
			t.Fatalf("accepted a token the environment did not sign: %q (%+v)", token, apt)
		}
	})
}
