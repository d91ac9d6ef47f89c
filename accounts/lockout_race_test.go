package accounts_test

import (
	"sync"
	"testing"

	"github.com/latchkey/latchkey/accounts"
)

// Concurrent successful logins of one name clear the lockout row under each
// other's reservations; none of them may be mistaken for a lock. (A
// reservation that found the row stale, reset it and then found it stale
// again used to refuse a correct password.)
func TestConcurrentCorrectLoginsAreNeverLocked(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.realm.Lockout.MaxFailures = 1000
		f.create(t, accounts.NewUser{Username: "alice", Password: goodPassword})
		var wg sync.WaitGroup
		errs := make(chan error, 16*5)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := f.svc.VerifyPassword(t.Context(), f.realm, "alice", goodPassword); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a correct password was refused: %v", err)
		}
	})
}
