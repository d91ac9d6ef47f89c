package accounts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
)

// TestUsernameIsEmailCapture: in a realm with username_is_email the
// password check matches the login against usernames and e-mails, so a
// user whose username is another user's e-mail would capture that login.
// Usernames there are e-mail addresses and equal to the user's e-mail, so no
// username can be another user's e-mail: both unique keys hold one value.
func TestUsernameIsEmailCapture(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		f.realm.UsernameIsEmail = true
		const attackerPassword = "mq7Vx3kP9w-green"
		a := f.create(t, accounts.NewUser{Username: "a@x.io", Password: goodPassword})
		c := f.create(t, accounts.NewUser{Email: "c@x.io", Password: goodPassword})

		taken := func(err error) bool {
			return errors.Is(err, accounts.ErrUsernameTaken) || errors.Is(err, accounts.ErrEmailTaken)
		}
		mismatch := func(err error) bool {
			return errors.Is(err, accounts.ErrInvalidUser) && strings.Contains(err.Error(), "email must be the same as the username")
		}
		for _, tc := range []struct {
			name  string
			in    accounts.NewUser
			fails func(error) bool
			what  string
		}{
			{"A's username as username", accounts.NewUser{Username: "a@x.io"}, taken, "taken"},
			{"A's username as e-mail, in capitals", accounts.NewUser{Email: "A@X.io"}, taken, "taken"},
			{"A's username as e-mail beside another username", accounts.NewUser{Username: "b@x.io", Email: "a@x.io"}, mismatch, "a mismatch"},
			{"C's e-mail as username", accounts.NewUser{Username: "C@x.io"}, taken, "taken"},
			{"C's e-mail as username beside another e-mail", accounts.NewUser{Username: "c@x.io", Email: "d@x.io"}, mismatch, "a mismatch"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := tc.in
				in.Password = attackerPassword
				if u, err := f.svc.Create(ctx, f.realm, in); !tc.fails(err) {
					t.Errorf("Create(%+v) = %+v, %v; want %s", tc.in, u, err, tc.what)
				}
				// Whatever was attempted, the logins stay their owners'.
				for login, owner := range map[string]*accounts.User{"a@x.io": a, "A@X.IO": a, "c@x.io": c} {
					if u, err := f.svc.VerifyPassword(ctx, f.realm, login, goodPassword); err != nil || u.ID != owner.ID {
						t.Errorf("login %q with its owner's password = %+v, %v; want %s", login, u, err, owner.ID)
					}
					if u, err := f.svc.VerifyPassword(ctx, f.realm, login, attackerPassword); err == nil {
						t.Errorf("login %q with the attacker's password found %s", login, u.ID)
					}
				}
			})
		}
	})
}
