package accounts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// fc is a problem's field and code, "field/code".
func fc(p accounts.Problem) string { return p.Field + "/" + p.Code }

// problemsOf returns the field/code pairs of a *ValidationError, or nil.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *accounts.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = fc(p)
		if p.Message == "" {
			t.Errorf("problem %s has no message", out[i])
		}
	}
	return out
}

func strp(s string) *string { return &s }

// TestValidateReportsEveryProblem: every rule that fails is reported, in
// the order of the fields, with its wire field name and code.
func TestValidateReportsEveryProblem(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	uie := newRealm("rl_uie")
	uie.UsernameIsEmail = true
	long := strings.Repeat("a", 256)
	tests := []struct {
		name  string
		email bool // in the username_is_email realm
		in    accounts.NewUser
		want  []string // field/code, in order; nil: valid
	}{
		{name: "valid", in: accounts.NewUser{Username: "sally", Email: "sally@example.com", Password: goodPassword, PasswordConfirmation: strp(goodPassword)}},
		{name: "valid Work API user", in: accounts.NewUser{ArbitraryID: "ext-1", EnvironmentGUID: "env-1"}},
		{name: "nothing at all", in: accounts.NewUser{}, want: []string{"username/blank"}},
		{name: "everything wrong",
			in: accounts.NewUser{Username: long, Email: "not-an-email", Password: "short", PasswordConfirmation: strp("other"),
				FirstName: "a\x00b", LastName: "\xff", Role: strings.Repeat("r", 65), ArbitraryID: " ext", EnvironmentGUID: ""},
			want: []string{"username/too_long", "email/invalid", "password/too_short", "password_confirmation/mismatch",
				"first_name/invalid", "last_name/invalid", "role/too_long", "arbitrary_id/invalid", "environment_guid/blank"}},
		{name: "weak password and bad e-mail", in: accounts.NewUser{Username: "bob", Email: "bob@", Password: "password123"},
			want: []string{"email/invalid", "password/weak"}},
		{name: "password from the user's own name", in: accounts.NewUser{Username: "ginavanderbilt", Password: "ginavanderbilt1"},
			want: []string{"password/weak"}},
		{name: "password too long", in: accounts.NewUser{Username: "bob", Password: strings.Repeat("aZ3$kq9!", 129)}, want: []string{"password/too_long"}},
		{name: "password not UTF-8", in: accounts.NewUser{Username: "bob", Password: "zq8Lw2mR4t\xff"}, want: []string{"password/invalid"}},
		{name: "password without a login name", in: accounts.NewUser{ArbitraryID: "ext-2", EnvironmentGUID: "env-1", Password: goodPassword},
			want: []string{"username/blank"}},
		{name: "confirmation without a password", in: accounts.NewUser{Username: "bob", PasswordConfirmation: strp("x")},
			want: []string{"password_confirmation/mismatch"}},
		{name: "confirmation in another Unicode form", in: accounts.NewUser{Username: "bob", Password: "Ren\u00e9-zq8Lw2mR4t", PasswordConfirmation: strp("Rene\u0301-zq8Lw2mR4t")}},
		{name: "environment without arbitrary_id", in: accounts.NewUser{EnvironmentGUID: "env-1"},
			want: []string{"username/blank", "arbitrary_id/blank"}},
		{name: "username longer once normalised", in: accounts.NewUser{Username: strings.Repeat("\u0344", 255)}, want: []string{"username/too_long"}},

		{name: "e-mail realm: username only", email: true, in: accounts.NewUser{Username: "a@x.io", Password: goodPassword}},
		{name: "e-mail realm: e-mail only", email: true, in: accounts.NewUser{Email: "a@x.io", Password: goodPassword}},
		{name: "e-mail realm: both, differing in case", email: true, in: accounts.NewUser{Username: "A@x.io", Email: "a@X.IO"}},
		{name: "e-mail realm: both, different", email: true, in: accounts.NewUser{Username: "a@x.io", Email: "b@x.io"}, want: []string{"email/mismatch"}},
		{name: "e-mail realm: username not an e-mail", email: true, in: accounts.NewUser{Username: "sally"}, want: []string{"username/invalid"}},
		{name: "e-mail realm: e-mail not an e-mail", email: true, in: accounts.NewUser{Email: "sally"}, want: []string{"email/invalid"}},
		{name: "e-mail realm: both bad", email: true, in: accounts.NewUser{Username: "sally", Email: "sally@"}, want: []string{"username/invalid", "email/invalid"}},
		{name: "e-mail realm: Work API user", email: true, in: accounts.NewUser{ArbitraryID: "ext-1", EnvironmentGUID: "env-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			realm := f.realm
			if tc.email {
				realm = uie
			}
			err := f.svc.Validate(realm, tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("Validate = %v\nproblems %v\n    want %v", err, got, tc.want)
			}
			if !errors.Is(err, accounts.ErrInvalidUser) {
				t.Errorf("%v is not ErrInvalidUser", err)
			}
			wantWeak := slices.ContainsFunc(tc.want, func(s string) bool { return strings.HasPrefix(s, "password/") })
			if errors.Is(err, accounts.ErrWeakPassword) != wantWeak {
				t.Errorf("errors.Is(%v, ErrWeakPassword) = %v, want %v", err, !wantWeak, wantWeak)
			}
			// Error joins every message.
			var ve *accounts.ValidationError
			errors.As(err, &ve)
			for _, p := range ve.Problems {
				if !strings.Contains(err.Error(), p.Message) {
					t.Errorf("Error() %q lacks %q", err.Error(), p.Message)
				}
			}
			// Create refuses the same, with the same problems, without hashing
			// or storing.
			before := f.hashes.Load()
			u, cerr := f.svc.Create(t.Context(), realm, tc.in)
			if got := problemsOf(t, cerr); !slices.Equal(got, tc.want) {
				t.Errorf("Create = %+v, %v; problems %v, want %v", u, cerr, got, tc.want)
			}
			if n := f.hashes.Load() - before; n != 0 {
				t.Errorf("a refused user cost %d hashes", n)
			}
		})
	}
	if err := f.svc.Validate(nil, accounts.NewUser{Username: "x"}); !errors.Is(err, accounts.ErrInvalidUser) {
		t.Errorf("Validate without a realm = %v", err)
	}
}

// TestEmailRealmFillsTheOther: in a username_is_email realm the blank one
// of username and e-mail takes the other's value, as given.
func TestEmailRealmFillsTheOther(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	f.realm.UsernameIsEmail = true
	for _, in := range []accounts.NewUser{{Username: " Sally@Example.com "}, {Email: "Sally@Example.com"}} {
		u := f.create(t, in)
		if u.Username != "Sally@Example.com" || u.Email != "Sally@Example.com" {
			t.Errorf("Create(%+v) = username %q, email %q; want both Sally@Example.com", in, u.Username, u.Email)
		}
		if err := f.svc.Delete(t.Context(), f.realm.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTakenProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string // "" = none
	}{
		{accounts.ErrUsernameTaken, "username/taken"},
		{fmt.Errorf("wrapped: %w", accounts.ErrEmailTaken), "email/taken"},
		{accounts.ErrArbitraryIDTaken, "arbitrary_id/taken"},
		{accounts.ErrNotFound, ""},
		{nil, ""},
	} {
		p, ok := accounts.TakenProblem(tc.err)
		if got := map[bool]string{true: fc(p), false: ""}[ok]; got != tc.want || (ok && p.Message == "") {
			t.Errorf("TakenProblem(%v) = %+v, %v; want %q", tc.err, p, ok, tc.want)
		}
	}
}
