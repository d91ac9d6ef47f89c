package accounts_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/secrethash"
	"github.com/latchkey/latchkey/storage/storagetest"
)

func TestVerifySecret(t *testing.T) {
	svc := accounts.New(storagetest.OpenSQLite(t), accounts.Options{})
	var hashes atomic.Int64
	accounts.SetHashHook(svc, func() { hashes.Add(1) })
	ctx := t.Context()

	long := secrethash.Generate()
	fast, err := secrethash.Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	const short = "a-short-secret"
	slow, err := secrethash.Hash(short)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, hash, secret string
		want               bool
		wantErr            bool
		hashes             int64 // argon2id computations under the bound
	}{
		{"sha256, right", fast, long, true, false, 0},
		{"sha256, wrong", fast, long + "x", false, false, 0},
		{"sha256, empty secret", fast, "", false, false, 0},
		{"argon2id, right", slow, short, true, false, 1},
		{"argon2id, wrong", slow, "another-secret", false, false, 1},
		{"sha256, malformed", "sha256:abc", long, false, true, 0},
		{"argon2id, malformed", "$argon2id$v=19$m=x,t=1,p=1$c2FsdA$a2V5", short, false, true, 0},
		{"unknown scheme", "plain-secret", "plain-secret", false, true, 0},
		{"empty hash", "", "", false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hashes.Load()
			ok, err := svc.VerifySecret(ctx, tc.hash, tc.secret)
			if ok != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("VerifySecret = %v, %v; want %v, error %v", ok, err, tc.want, tc.wantErr)
			}
			if n := hashes.Load() - before; n != tc.hashes {
				t.Errorf("%d argon2id computations under the bound, want %d", n, tc.hashes)
			}
		})
	}

	// Beyond the bound: a slow hash waits, then ErrBusy; a fast one needs
	// no slot.
	svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 1, QueueTimeout: 10 * time.Millisecond})
	release, err := accounts.HoldHashSlot(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.VerifySecret(ctx, slow, short); !errors.Is(err, accounts.ErrBusy) {
		t.Errorf("VerifySecret(argon2id) with the queue full = %v, want ErrBusy", err)
	}
	if ok, err := svc.VerifySecret(ctx, fast, long); !ok || err != nil {
		t.Errorf("VerifySecret(sha256) with the queue full = %v, %v", ok, err)
	}
	release()
}

// TestVerifySecretBound: parallel argon2id secret checks never run more than
// max_concurrent_hashes at once (counted inside the bound, not timed).
func TestVerifySecretBound(t *testing.T) {
	svc := accounts.New(storagetest.OpenSQLite(t), accounts.Options{})
	const bound, callers = 2, 12
	var running, peak atomic.Int64
	accounts.SetHashHook(svc, func() {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond) // hold the slot long enough for others to try
		running.Add(-1)
	})
	svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: bound, QueueTimeout: time.Minute})
	hash, err := secrethash.Hash("a-short-secret")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			ok, err := svc.VerifySecret(t.Context(), hash, "a-short-secret")
			if err == nil && !ok {
				err = errors.New("no match")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if p := peak.Load(); p > bound {
		t.Fatalf("%d argon2id secret checks ran at once, bound %d", p, bound)
	} else if p < 1 {
		t.Fatal("no check ran inside the bound")
	}
}
