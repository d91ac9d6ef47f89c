package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestStaleHashPadding: a wrong password for a user whose hash has other,
// cheaper parameters than the current ones is padded to the estimated time
// of a current hash — the time an unknown user's check against the dummy
// hash takes — sleeping after the hash slot is given back. Checks against
// current hashes are never padded. The sleep is injected and the estimate
// set, so nothing here depends on the wall clock.
func TestStaleHashPadding(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	ctx := t.Context()
	var mu sync.Mutex
	var sleeps []time.Duration
	slotFree := true
	accounts.SetSleeper(f.svc, func(_ context.Context, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		sleeps = append(sleeps, d)
		if release, ok := accounts.TryHashSlot(f.svc); ok {
			release()
		} else {
			slotFree = false
		}
	})
	take := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		out := sleeps
		sleeps = nil
		return out
	}

	if accounts.HashCost(f.svc) <= 0 {
		t.Fatal("SetPolicy did not seed the estimate of a hash's duration")
	}
	old := f.create(t, accounts.NewUser{Username: "old", Password: goodPassword}) // cheap's parameters
	off := f.create(t, accounts.NewUser{Username: "off", Password: goodPassword})
	if err := f.svc.SetStatus(ctx, f.realm.ID, off.ID, accounts.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	newer := cheap
	newer.Argon2id.Iterations = 2
	newer.MaxConcurrentHashes = 1
	f.svc.SetPolicy(newer)
	seeded := accounts.HashCost(f.svc)
	if seeded <= 0 {
		t.Fatal("SetPolicy with new parameters did not seed the estimate")
	}
	f.create(t, accounts.NewUser{Username: "new", Password: goodPassword}) // newer's parameters

	const estimate = time.Hour // any real check falls short of it
	for _, tc := range []struct {
		name, login, password string
		padded                bool
	}{
		{"stale hash, wrong password", "old", "wrong-password", true},
		{"stale hash, deactivated user", "off", goodPassword, true},
		{"current hash, wrong password", "new", "wrong-password", false},
		{"unknown user (the dummy hash)", "nobody", "wrong-password", false},
		{"stale hash, right password", "old", goodPassword, false}, // logs in (and re-hashes)
	} {
		t.Run(tc.name, func(t *testing.T) {
			accounts.SetHashCost(f.svc, estimate)
			u, hashes, err := f.login(t, tc.login, tc.password)
			if tc.login == "old" && tc.password == goodPassword {
				if err != nil || u.ID != old.ID {
					t.Fatalf("login = %+v, %v", u, err)
				}
			} else if !errors.Is(err, accounts.ErrInvalidCredentials) || hashes != 1 {
				t.Fatalf("login = %v with %d hashes, want ErrInvalidCredentials with 1", err, hashes)
			}
			got := take()
			switch {
			case !tc.padded && len(got) != 0:
				t.Fatalf("padded by %v; a check against a current hash, or a success, is not padded", got)
			case tc.padded && len(got) != 1:
				t.Fatalf("padded %d times, want once", len(got))
			case tc.padded && (got[0] <= estimate-time.Second || got[0] > estimate):
				t.Fatalf("padded by %v; want the estimate %v less the check's own time", got[0], estimate)
			}
		})
	}
	if !slotFree {
		t.Error("the padding slept while holding the hash slot")
	}
	// Checks and hashes with the current parameters feed the estimate: the
	// hour set above came down towards the real cost.
	if c := accounts.HashCost(f.svc); c <= 0 || c >= estimate {
		t.Errorf("estimate %v after current-parameter hashes; want it moved below %v", c, estimate)
	}
	// The re-hashed user is current now: no more padding.
	accounts.SetHashCost(f.svc, estimate)
	if _, _, err := f.login(t, "old", "wrong-password"); !errors.Is(err, accounts.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if got := take(); len(got) != 0 {
		t.Errorf("a re-hashed user's wrong password was padded by %v", got)
	}
	// The same parameters again keep the estimate; new ones seed a new one.
	accounts.SetHashCost(f.svc, 3*time.Second)
	f.svc.SetPolicy(newer)
	if c := accounts.HashCost(f.svc); c != 3*time.Second {
		t.Errorf("SetPolicy with the same parameters changed the estimate to %v", c)
	}
	f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 2})
	if c := accounts.HashCost(f.svc); c <= 0 || c == 3*time.Second {
		t.Errorf("SetPolicy with new parameters left the estimate at %v", c)
	}
}
