package accounts_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// Signup tokens: validation with every problem at once, the hash on
// arrival and never in a transaction, expiry, and the conversion into a
// user exactly once.

func sallyToken() accounts.NewSignupToken {
	return accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: goodPassword,
		PasswordConfirmation: strp(goodPassword)}
}

func (f *fixture) signup(t *testing.T, in accounts.NewSignupToken) *accounts.SignupToken {
	t.Helper()
	tok, err := f.svc.CreateSignupToken(t.Context(), f.realm, in)
	if err != nil {
		t.Fatalf("CreateSignupToken(%+v): %v", in, err)
	}
	return tok
}

// TestSignupValidation: each required field, the user rules, combinations,
// and a realm whose usernames are e-mails; every problem at once, in the
// order of the fields.
func TestSignupValidation(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	uie := newRealm("rl_uie")
	uie.UsernameIsEmail = true
	long := strings.Repeat("a", 256)
	tests := []struct {
		name  string
		email bool // in the username_is_email realm
		in    accounts.NewSignupToken
		want  []string // field/code in order; nil: valid
	}{
		{name: "valid", in: sallyToken()},
		{name: "valid without confirmation or names", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: goodPassword}},
		{name: "nothing at all", in: accounts.NewSignupToken{}, want: []string{"username/blank", "email/blank", "password/blank"}},
		{name: "no username", in: accounts.NewSignupToken{Email: "sally@example.com", Password: goodPassword}, want: []string{"username/blank"}},
		{name: "white space is blank", in: accounts.NewSignupToken{Username: "  ", Email: "\t", Password: goodPassword}, want: []string{"username/blank", "email/blank"}},
		{name: "no email", in: accounts.NewSignupToken{Username: "sally", Password: goodPassword}, want: []string{"email/blank"}},
		{name: "no password", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com"}, want: []string{"password/blank"}},
		{name: "no password, a confirmation", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", PasswordConfirmation: strp("x")},
			want: []string{"password/blank", "password_confirmation/mismatch"}},
		{name: "confirmation differs", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: goodPassword, PasswordConfirmation: strp(goodPassword + "x")},
			want: []string{"password_confirmation/mismatch"}},
		{name: "empty confirmation", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: goodPassword, PasswordConfirmation: strp("")},
			want: []string{"password_confirmation/mismatch"}},
		{name: "the seed's short password", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: "secret", PasswordConfirmation: strp("secret")},
			want: []string{"password/too_short"}},
		{name: "common password", in: accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: "password123"}, want: []string{"password/weak"}},
		{name: "everything wrong", in: accounts.NewSignupToken{Username: long, Email: "not-an-email", Password: "short", PasswordConfirmation: strp("other"), FirstName: "a\x00b", LastName: long},
			want: []string{"username/too_long", "email/invalid", "password/too_short", "password_confirmation/mismatch", "first_name/invalid", "last_name/too_long"}},
		{name: "invalid UTF-8", in: accounts.NewSignupToken{Username: "\xff", Email: "sally@example.com", Password: goodPassword}, want: []string{"username/invalid"}},

		{name: "email realm: the email alone", email: true, in: accounts.NewSignupToken{Email: "sally@example.com", Password: goodPassword}},
		{name: "email realm: the username alone", email: true, in: accounts.NewSignupToken{Username: "sally@example.com", Password: goodPassword}},
		{name: "email realm: both equal", email: true, in: accounts.NewSignupToken{Username: "Sally@example.com", Email: "sally@EXAMPLE.com", Password: goodPassword}},
		{name: "email realm: nothing", email: true, in: accounts.NewSignupToken{}, want: []string{"username/blank", "password/blank"}},
		{name: "email realm: username not an e-mail", email: true, in: accounts.NewSignupToken{Username: "sally", Password: goodPassword}, want: []string{"username/invalid"}},
		{name: "email realm: two different", email: true, in: accounts.NewSignupToken{Username: "sally@example.com", Email: "sal@example.com", Password: goodPassword}, want: []string{"email/mismatch"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			realm := f.realm
			if tc.email {
				realm = uie
			}
			err := f.svc.ValidateSignupToken(realm, tc.in)
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("problems = %v (%v), want %v", got, err, tc.want)
			}
			if tc.want != nil && !errors.Is(err, accounts.ErrInvalidUser) {
				t.Errorf("error %v is not ErrInvalidUser", err)
			}
		})
	}
	if err := f.svc.ValidateSignupToken(nil, sallyToken()); !errors.Is(err, accounts.ErrInvalidUser) {
		t.Errorf("no realm: %v", err)
	}
}

func TestSignupTokenCreateAndGet(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.realm.SignupTokenTTL = 2 * time.Hour
		in := sallyToken()
		in.Username, in.FirstName = "  Sally ", "Sally"
		before := f.hashes.Load()
		tok := f.signup(t, in)
		if n := f.hashes.Load() - before; n != 1 {
			t.Errorf("create hashed %d times, want once", n)
		}
		if !regexp.MustCompile(`^utk_[0-9A-Za-z]{22}$`).MatchString(tok.ID) || !accounts.IsSignupTokenID(tok.ID) {
			t.Errorf("id %q is not utk_ and 22 base62 characters", tok.ID)
		}
		want := accounts.SignupToken{ID: tok.ID, Realm: "rl_test", Username: "Sally", Email: "sally@example.com", FirstName: "Sally",
			CredentialType: "password", CreatedAt: start, ExpiresAt: start.Add(2 * time.Hour)}
		if *tok != want {
			t.Errorf("created %+v\nwant    %+v", *tok, want)
		}
		got, err := f.svc.GetSignupToken(t.Context(), "rl_test", tok.ID)
		if err != nil || *got != want {
			t.Errorf("GetSignupToken = %+v, %v\nwant %+v", got, err, want)
		}
		// Several tokens for one username may exist.
		sibling := f.signup(t, sallyToken())
		if sibling.ID == tok.ID {
			t.Fatal("two tokens with one id")
		}
		for _, tc := range []struct{ name, realm, id string }{
			{"another realm", "rl_other", tok.ID},
			{"unknown", "rl_test", "utk_000000000000000000000A"},
			{"not an id", "rl_test", "utk_x' OR '1'='1"},
			{"too long", "rl_test", tok.ID + "0"},
			{"other case", "rl_test", swapCase(tok.ID)},
		} {
			if _, err := f.svc.GetSignupToken(t.Context(), tc.realm, tc.id); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
				t.Errorf("GetSignupToken(%s) = %v, want ErrSignupTokenNotFound", tc.name, err)
			}
		}
		// Expiry: at its ExpiresAt the token is gone, for every operation.
		f.clock.Set(start.Add(2 * time.Hour))
		if _, err := f.svc.GetSignupToken(t.Context(), "rl_test", tok.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("GetSignupToken at expiry = %v", err)
		}
		if err := f.svc.DiscardSignupToken(t.Context(), "rl_test", tok.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("DiscardSignupToken at expiry = %v", err)
		}
		if _, err := f.svc.ConvertSignupToken(t.Context(), f.realm, tok.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("ConvertSignupToken at expiry = %v", err)
		}
		if n, err := f.store.PurgeExpired(t.Context(), start.Add(2*time.Hour+time.Second), 0); err != nil || n != 2 {
			t.Errorf("PurgeExpired = %d, %v; want both tokens purged", n, err)
		}
	})
}

// swapCase swaps the case of every letter after the prefix.
func swapCase(id string) string {
	b := []byte(id)
	for i := len(accounts.SignupTokenPrefix); i < len(b); i++ {
		switch c := b[i]; {
		case 'a' <= c && c <= 'z':
			b[i] = c - 32
		case 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// TestSignupTokenTaken: a username or e-mail of an existing user is
// reported with the other problems, before any hash.
func TestSignupTokenTaken(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.create(t, accounts.NewUser{Username: "sally", Email: "sally@example.com", Password: goodPassword})
		before := f.hashes.Load()
		for _, tc := range []struct {
			name string
			in   accounts.NewSignupToken
			want []string
		}{
			{"username", accounts.NewSignupToken{Username: "SALLY", Email: "other@example.com", Password: goodPassword}, []string{"username/taken"}},
			{"email", accounts.NewSignupToken{Username: "sal", Email: "Sally@Example.com", Password: goodPassword}, []string{"email/taken"}},
			{"both, and a bad password", accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: "short"},
				[]string{"username/taken", "email/taken", "password/too_short"}},
			{"an invalid username is not looked up", accounts.NewSignupToken{Username: "sally\x00", Email: "sally@example.com", Password: goodPassword},
				[]string{"username/invalid", "email/taken"}},
		} {
			_, err := f.svc.CreateSignupToken(t.Context(), f.realm, tc.in)
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("%s: problems = %v (%v), want %v", tc.name, got, err, tc.want)
			}
		}
		if n := f.hashes.Load() - before; n != 0 {
			t.Errorf("refused tokens cost %d hashes, want none", n)
		}

		// In a username_is_email realm the e-mail is the username: checked
		// against both, reported once.
		f.realm = newRealm("rl_uie")
		f.realm.UsernameIsEmail = true
		f.create(t, accounts.NewUser{Email: "eve@example.com", Password: goodPassword})
		_, err := f.svc.CreateSignupToken(t.Context(), f.realm, accounts.NewSignupToken{Email: "EVE@example.com", Password: goodPassword})
		if got := problemsOf(t, err); !slices.Equal(got, []string{"username/taken"}) {
			t.Errorf("email realm: problems = %v (%v)", got, err)
		}
	})
}

// TestSignupTokenNeverHashesInATransaction: create refuses a context that
// carries a transaction, and conversion computes no hash at all.
func TestSignupTokenNeverHashesInATransaction(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	err := f.store.InTx(t.Context(), func(ctx context.Context) error {
		_, err := f.svc.CreateSignupToken(ctx, f.realm, sallyToken())
		return err
	})
	if !errors.Is(err, accounts.ErrHashInTransaction) {
		t.Fatalf("CreateSignupToken in a transaction = %v, want ErrHashInTransaction", err)
	}
	tok := f.signup(t, sallyToken())
	before := f.hashes.Load()
	if _, err := f.svc.ConvertSignupToken(t.Context(), f.realm, tok.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.hashes.Load() - before; n != 0 {
		t.Errorf("conversion computed %d hashes, want none", n)
	}
}

// TestSignupTokenBusyHasher: with every hash slot taken for longer than the
// queue timeout, create answers ErrBusy and stores nothing.
func TestSignupTokenBusyHasher(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	p := cheap
	p.MaxConcurrentHashes, p.QueueTimeout = 1, 20*time.Millisecond
	f.svc.SetPolicy(p)
	release, err := accounts.HoldHashSlot(t.Context(), f.svc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.CreateSignupToken(t.Context(), f.realm, sallyToken())
	release()
	if !errors.Is(err, accounts.ErrBusy) {
		t.Fatalf("CreateSignupToken with the hasher full = %v, want ErrBusy", err)
	}
	if n, _ := f.store.PurgeExpired(t.Context(), start.Add(100*time.Hour), 0); n != 0 {
		t.Errorf("%d rows stored by a refused create", n)
	}
}

func TestSignupTokenConvert(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		in := sallyToken()
		in.FirstName, in.LastName = "Sally", "Ride"
		tok := f.signup(t, in)
		sibling := f.signup(t, sallyToken())
		other := f.signup(t, accounts.NewSignupToken{Username: "bob", Email: "bob@example.com", Password: goodPassword})
		f.clock.Set(start.Add(time.Minute))

		u, err := f.svc.ConvertSignupToken(ctx, f.realm, tok.ID)
		if err != nil {
			t.Fatalf("ConvertSignupToken: %v", err)
		}
		if !regexp.MustCompile(`^usr_[0-9A-Za-z]{22}$`).MatchString(u.ID) || u.Realm != "rl_test" || u.Username != "sally" ||
			u.Email != "sally@example.com" || u.FirstName != "Sally" || u.LastName != "Ride" || u.Role != accounts.DefaultRole ||
			u.Status != accounts.StatusActive || !u.CreatedAt.Equal(start.Add(time.Minute)) {
			t.Errorf("user = %+v", u)
		}
		// The password typed at signup logs the user in.
		if got, _, err := f.login(t, "sally", goodPassword); err != nil || got.ID != u.ID {
			t.Errorf("login with the signup password = %v, %v", got, err)
		}
		// Exactly once: the token again, and its sibling, are gone.
		for _, id := range []string{tok.ID, sibling.ID} {
			if _, err := f.svc.ConvertSignupToken(ctx, f.realm, id); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
				t.Errorf("ConvertSignupToken(%s) again = %v, want ErrSignupTokenNotFound", id, err)
			}
			if _, err := f.svc.GetSignupToken(ctx, "rl_test", id); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
				t.Errorf("GetSignupToken(%s) after conversion = %v", id, err)
			}
		}
		if _, err := f.svc.GetSignupToken(ctx, "rl_test", other.ID); err != nil {
			t.Errorf("another username's token: %v", err)
		}
		// Another realm cannot convert it.
		rl := newRealm("rl_other")
		if _, err := f.svc.ConvertSignupToken(ctx, rl, other.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("ConvertSignupToken from another realm = %v", err)
		}
		if users, _ := f.svc.List(ctx, "rl_test"); len(users) != 1 {
			t.Errorf("%d users, want 1", len(users))
		}
		// Discard: gone for conversion too; its siblings stay.
		d1 := f.signup(t, accounts.NewSignupToken{Username: "dora", Email: "dora@example.com", Password: goodPassword})
		d2 := f.signup(t, accounts.NewSignupToken{Username: "dora", Email: "dora@example.com", Password: goodPassword})
		if err := f.svc.DiscardSignupToken(ctx, "rl_test", d1.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DiscardSignupToken(ctx, "rl_test", d1.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("second discard = %v", err)
		}
		if _, err := f.svc.ConvertSignupToken(ctx, f.realm, d1.ID); !errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("convert a discarded token = %v", err)
		}
		if _, err := f.svc.ConvertSignupToken(ctx, f.realm, d2.ID); err != nil {
			t.Errorf("convert the discarded token's sibling = %v", err)
		}
	})
}

// TestSignupTokenTakenMeanwhile: a user who took the username (or the
// e-mail) after the token was made wins; the conversion changes nothing.
func TestSignupTokenTakenMeanwhile(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		tok := f.signup(t, sallyToken())
		byEmail := f.signup(t, accounts.NewSignupToken{Username: "carol", Email: "carol@example.com", Password: goodPassword})
		f.create(t, accounts.NewUser{Username: "Sally", Password: goodPassword})
		f.create(t, accounts.NewUser{Username: "caz", Email: "carol@example.com", Password: goodPassword})
		if _, err := f.svc.ConvertSignupToken(ctx, f.realm, tok.ID); !errors.Is(err, accounts.ErrUsernameTaken) {
			t.Errorf("convert a taken username = %v, want ErrUsernameTaken", err)
		}
		if _, err := f.svc.ConvertSignupToken(ctx, f.realm, byEmail.ID); !errors.Is(err, accounts.ErrEmailTaken) {
			t.Errorf("convert a taken e-mail = %v, want ErrEmailTaken", err)
		}
		for _, id := range []string{tok.ID, byEmail.ID} {
			if _, err := f.svc.GetSignupToken(ctx, "rl_test", id); err != nil {
				t.Errorf("the token of a refused conversion is gone: %v", err)
			}
		}
		if users, _ := f.svc.List(ctx, "rl_test"); len(users) != 2 {
			t.Errorf("%d users, want the 2 created directly", len(users))
		}
	})
}

// TestSignupTokenRealmRulesChanged: a token made before the realm began to
// use e-mails as usernames no longer makes a valid user: the conversion is
// refused with the problem and the token stays.
func TestSignupTokenRealmRulesChanged(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	tok := f.signup(t, sallyToken())
	changed := *f.realm
	changed.UsernameIsEmail = true
	_, err := f.svc.ConvertSignupToken(t.Context(), &changed, tok.ID)
	if got := problemsOf(t, err); !slices.Equal(got, []string{"username/invalid"}) {
		t.Errorf("problems = %v (%v), want username/invalid", got, err)
	}
	if _, err := f.svc.GetSignupToken(t.Context(), "rl_test", tok.ID); err != nil {
		t.Errorf("the token is gone: %v", err)
	}
}

// TestSignupTokenConcurrentConversions: five parallel conversions of one
// token, and five of its siblings, make exactly one user; every other
// conversion is ErrSignupTokenNotFound.
func TestSignupTokenConcurrentConversions(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		for round := range 5 {
			f.realm = newRealm("rl_race" + string(rune('a'+round)))
			tok := f.signup(t, sallyToken())
			sib := f.signup(t, sallyToken())
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				wins []string
				errs []error
			)
			for i := range 10 {
				id := tok.ID
				if i%2 == 1 {
					id = sib.ID
				}
				wg.Go(func() {
					u, err := f.svc.ConvertSignupToken(t.Context(), f.realm, id)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins = append(wins, u.ID)
					case !errors.Is(err, accounts.ErrSignupTokenNotFound):
						errs = append(errs, err)
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				t.Errorf("round %d: a losing conversion failed with %v, want ErrSignupTokenNotFound", round, err)
			}
			users, err := f.svc.List(t.Context(), f.realm.ID)
			if len(wins) != 1 || err != nil || len(users) != 1 || users[0].ID != wins[0] {
				t.Errorf("round %d: %d conversions won, %d users (%v); want exactly one", round, len(wins), len(users), err)
			}
		}
	})
}

// TestSignupTokenStoreDown: with the database gone, every operation is
// ErrUnavailable — never "no such token", which a surface would answer 404.
func TestSignupTokenStoreDown(t *testing.T) {
	f := newFixture(t, storagetest.OpenSQLite(t))
	tok := f.signup(t, sallyToken())
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, createErr := f.svc.CreateSignupToken(ctx, f.realm, sallyToken())
	_, getErr := f.svc.GetSignupToken(ctx, "rl_test", tok.ID)
	discardErr := f.svc.DiscardSignupToken(ctx, "rl_test", tok.ID)
	_, convertErr := f.svc.ConvertSignupToken(ctx, f.realm, tok.ID)
	for name, err := range map[string]error{"create": createErr, "get": getErr, "discard": discardErr, "convert": convertErr} {
		if !errors.Is(err, accounts.ErrUnavailable) || errors.Is(err, accounts.ErrSignupTokenNotFound) {
			t.Errorf("%s on a closed store: %v, want ErrUnavailable", name, err)
		}
	}
}
