package accounts_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/accounts"
)

// A database that does not answer is ErrUnavailable — which surfaces answer
// 503 — never ErrNotFound.
func TestStoreFailureIsUnavailable(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		u := f.create(t, accounts.NewUser{Username: "outage"})
		if err := f.store.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Get(t.Context(), f.realm.ID, u.ID)
		if !errors.Is(err, accounts.ErrUnavailable) || errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("Get on a closed store: %v, want ErrUnavailable", err)
		}
		if _, err := f.svc.ActiveID(t.Context(), f.realm.ID, u.ID, "", ""); !errors.Is(err, accounts.ErrUnavailable) {
			t.Errorf("ActiveID on a closed store: %v, want ErrUnavailable", err)
		}
	})
}
