package inbound

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// BenchmarkVerifyRS256 is the cost of checking one APT-sized RS256 token
// (parse, signature, claims): the verifier's share of an APT grant.
func BenchmarkVerifyRS256(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := []config.PublicKey{{Alg: config.AlgRS256, Key: &key.PublicKey}}
	tok := signBench(b, key, jose.RS256)
	benchVerify(b, tok, keys)
}

// BenchmarkVerifyES256 is the same for an ES256 token (client assertions).
func BenchmarkVerifyES256(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []config.PublicKey{{Alg: config.AlgES256, Key: &key.PublicKey}}
	benchVerify(b, signBench(b, key, jose.ES256), keys)
}

func signBench(b *testing.B, key any, alg jose.SignatureAlgorithm) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"exp":1800000030,"iat":1800000000,"environment_guid":"123456-1234-5678-12345679","arbitrary_id":"user_xyz123"}`))
	if err != nil {
		b.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func benchVerify(b *testing.B, tok string, keys []config.PublicKey) {
	rules := Rules{Kind: "bench", RequireIssuedAt: true, MaxLifetime: time.Minute, Leeway: 30 * time.Second}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := Parse(tok, 0)
			if err == nil {
				err = t.Verify(keys, rules, now)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
