package core

import (
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
)

// BenchmarkGenerateJWT is the cost of one ES256 RFC 9068 access token: the
// signing share of every token the server issues.
func BenchmarkGenerateJWT(b *testing.B) {
	key, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		b.Fatal(err)
	}
	snap := &config.Snapshot{Issuer: "https://as.test", SigningKeys: []config.SigningKey{{KID: "k", Alg: config.AlgES256, Key: key}},
		Tokens: config.Tokens{AccessTokenFormat: config.FormatJWT}}
	s, err := NewTokenStrategy(snap, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	sess := NewSession()
	sess.Subject = "usr_x"
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	ar := fosite.NewAccessRequest(sess)
	ar.Client = &fosite.DefaultClient{ID: "c"}
	ar.GrantScope("profile")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.GenerateAccessToken(b.Context(), ar); err != nil {
				b.Fatal(err)
			}
		}
	})
}
