package accounts_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/accounts"
)

func TestActiveID(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.create(t, accounts.NewUser{ArbitraryID: "Ext-1", EnvironmentGUID: "env-1"})
		for name, lookup := range map[string][3]string{
			"by id":           {u.ID, "", ""},
			"by arbitrary_id": {"", "env-1", "Ext-1"},
		} {
			if id, err := f.svc.ActiveID(ctx, f.realm.ID, lookup[0], lookup[1], lookup[2]); err != nil || id != u.ID {
				t.Errorf("%s: %q, %v", name, id, err)
			}
		}
		for name, lookup := range map[string][3]string{
			"unknown id":                   {"usr_nope", "", ""},
			"arbitrary_id of another case": {"", "env-1", "ext-1"},
			"another environment":          {"", "env-2", "Ext-1"},
		} {
			if _, err := f.svc.ActiveID(ctx, f.realm.ID, lookup[0], lookup[1], lookup[2]); !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("%s: %v; want ErrNotFound", name, err)
			}
		}
		if _, err := f.svc.ActiveID(ctx, "rl_other", u.ID, "", ""); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("another realm: %v; want ErrNotFound", err)
		}
		if err := f.svc.SetStatus(ctx, f.realm.ID, u.ID, accounts.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ActiveID(ctx, f.realm.ID, u.ID, "", ""); !errors.Is(err, accounts.ErrUserDeactivated) {
			t.Errorf("deactivated: %v; want ErrUserDeactivated", err)
		}
	})
}
