package core

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// FuzzRowlessClaims feeds arbitrary strings to the verifier of rowless
// client tokens: it must never panic, and it must accept only the one token
// the server's key really signed (an ES256 key nobody else holds).
func FuzzRowlessClaims(f *testing.F) {
	key, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		f.Fatal(err)
	}
	const issuer = "https://issuer.test"
	snap := &config.Snapshot{Issuer: issuer, SigningKeys: []config.SigningKey{{KID: "k1", Alg: config.AlgES256, Key: key}}}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"))
	if err != nil {
		f.Fatal(err)
	}
	payload, _ := json.Marshal(accessClaims{Issuer: issuer, Subject: "svc", ClientID: "svc", Audience: []string{issuer},
		JTI: rowlessJTIPrefix + "abc", IssuedAt: 1, ExpiresAt: time.Now().Add(time.Hour).Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		f.Fatal(err)
	}
	genuine, _ := jws.CompactSerialize()
	parts := strings.Split(genuine, ".")
	f.Add(genuine)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add("lk_at_" + genuine)
	f.Add(genuine + ".")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		v, err := newTokenVerifier(snap, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		c := v.claims(token, Signature(token))
		if c != nil && token != genuine {
			t.Fatalf("accepted a token the key did not sign: %q", token)
		}
		if token == genuine && (c == nil || c.ClientID != "svc") {
			t.Fatalf("refused the genuine token: %+v", c)
		}
	})
}
