package accounts_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// BenchmarkArgon2id measures raw argon2id with the default parameters
// (19 MiB, t=2, p=1): the physical limit of password logins on this machine.
// "serial" is one core; "parallel" runs GOMAXPROCS hashes at once.
//
//	go test -run '^$' -bench Argon2id -benchtime 3s ./accounts/
func BenchmarkArgon2id(b *testing.B) {
	d := accounts.DefaultPasswords.Argon2id
	params := &argon2id.Params{Memory: d.MemoryKiB, Iterations: d.Iterations, Parallelism: d.Parallelism, SaltLength: 16, KeyLength: 32}
	hash, err := argon2id.CreateHash("correct horse battery staple", params)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := argon2id.ComparePasswordAndHash("correct horse battery staple", hash); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := argon2id.ComparePasswordAndHash("correct horse battery staple", hash); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	})
}

// BenchmarkVerifyPassword is the whole password check in process on SQLite
// with the default parameters: lockout reservation, lookup, one argon2id
// (within the default bound of 4), freeing the slots. Compare its logins/s
// with BenchmarkArgon2id/parallel.
func BenchmarkVerifyPassword(b *testing.B) {
	store := storagetest.OpenSQLite(b)
	svc := accounts.New(store, accounts.Options{})
	realm := &config.Realm{ID: "rl_bench", PasswordMinLength: 10, Lockout: config.Lockout{MaxFailures: 10, Window: 15 * time.Minute}}
	const users = 64
	for i := range users {
		if _, err := svc.Create(b.Context(), realm, accounts.NewUser{Username: fmt.Sprint("user", i), Password: "zq8Lw2mR4t-blue"}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(4) // 8 goroutines on 2 cores: logins wait on the database and the bound, as over HTTP
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % users
			if _, err := svc.VerifyPassword(b.Context(), realm, fmt.Sprint("user", i), "zq8Lw2mR4t-blue"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkCheckPassword is the cost of the password policy (length,
// common-password list, zxcvbn score), paid when a password is set.
func BenchmarkCheckPassword(b *testing.B) {
	realm := &config.Realm{ID: "rl_bench", PasswordMinLength: 10}
	for _, pw := range []string{"zq8Lw2mR4t-blue", "correct horse battery staple", strings.Repeat("aZ3$kq9!", 8), strings.Repeat("aZ3$kq9!", 128)} {
		b.Run(fmt.Sprint(len(pw), "chars"), func(b *testing.B) {
			for b.Loop() {
				if _, err := accounts.CheckPassword(realm, pw, "sally", "sally@example.com"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
