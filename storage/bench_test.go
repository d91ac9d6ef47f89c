package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// Run with, for example:
//
//	LATCHKEY_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test?parseTime=true' \
//	  go test -run '^$' -bench . -benchtime 2s ./storage/
//
// The parallel benchmarks run 8 goroutines per core, like a server with
// requests in flight.

var backends = []struct {
	name string
	open func(testing.TB) *storage.Store
}{
	{"sqlite", storagetest.OpenSQLite},
	{"mysql", storagetest.OpenMySQL},
}

const benchParallelism = 8

func benchSig(prefix string, i int64) string {
	h := sha256.Sum256([]byte(prefix + strconv.FormatInt(i, 10)))
	return hex.EncodeToString(h[:])
}

// benchRequest is a request of realistic size: a client_credentials-like
// grant with a few scopes, an audience and a session of ~300 bytes.
func benchRequest() *fosite.Request {
	now := time.Now().UTC()
	sess := &fosite.DefaultSession{
		Subject:  "user-6f1c2a9e-1d3b-4c5e-9a7f-0b1c2d3e4f50",
		Username: "alice@example.com",
		Extra:    map[string]any{"realm": "main", "kid": "es256-2031-01", "environment_guid": "0f8fad5b-d9cb-469f-a165-70867728950e"},
	}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	sess.SetExpiresAt(fosite.RefreshToken, now.Add(30*24*time.Hour))
	return &fosite.Request{
		ID:                "6f1c2a9e-1d3b-4c5e-9a7f-0b1c2d3e4f50",
		RequestedAt:       now,
		Client:            &fosite.DefaultClient{ID: "svc-billing"},
		RequestedScope:    fosite.Arguments{"openid", "offline_access", "billing:read"},
		GrantedScope:      fosite.Arguments{"openid", "offline_access", "billing:read"},
		RequestedAudience: fosite.Arguments{"https://api.example.com"},
		GrantedAudience:   fosite.Arguments{"https://api.example.com"},
		Form:              url.Values{"grant_type": {"client_credentials"}, "scope": {"openid offline_access billing:read"}},
		Session:           sess,
	}
}

func BenchmarkCreateAccessTokenSession(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b)
			req := benchRequest()
			var n atomic.Int64
			b.SetParallelism(benchParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if err := s.CreateAccessTokenSession(ctx, benchSig("at", n.Add(1)), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkIssueTokenPair is token issuance as the server does it: one
// transaction inserting an access and a refresh token.
func BenchmarkIssueTokenPair(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b)
			req := benchRequest()
			var n atomic.Int64
			b.SetParallelism(benchParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := n.Add(1)
					err := s.InTx(ctx, func(ctx context.Context) error {
						if err := s.CreateAccessTokenSession(ctx, benchSig("at", i), req); err != nil {
							return err
						}
						return s.CreateRefreshTokenSession(ctx, benchSig("rt", i), benchSig("at", i), req)
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkGetAccessTokenSession(b *testing.B) {
	const rows = 10_000
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b)
			req := benchRequest()
			ctx := context.Background()
			err := s.InTx(ctx, func(ctx context.Context) error {
				for i := range int64(rows) {
					if err := s.CreateAccessTokenSession(ctx, benchSig("at", i), req); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(benchParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetAccessTokenSession(ctx, benchSig("at", rand.Int64N(rows)), &fosite.DefaultSession{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
