package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// cheap are argon2id settings that hash in about a millisecond, for tests
// that are not about the cost.
var cheap = config.Passwords{
	Argon2id:            config.Argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1},
	MaxConcurrentHashes: 4,
	QueueTimeout:        30 * time.Second,
}

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var start = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

type fixture struct {
	svc    *accounts.Service
	store  *storage.Store
	clock  *clock
	realm  *config.Realm
	hashes atomic.Int64 // argon2id computations so far
}

func newRealm(id string) *config.Realm {
	return &config.Realm{
		ID:                id,
		Name:              id,
		PasswordMinLength: 10,
		Lockout:           config.Lockout{MaxFailures: 5, Window: 15 * time.Minute},
	}
}

func newFixture(t *testing.T, store *storage.Store) *fixture {
	t.Helper()
	f := &fixture{store: store, clock: &clock{t: start}, realm: newRealm("rl_test")}
	f.svc = accounts.New(store, accounts.Options{Now: f.clock.Now})
	f.svc.SetPolicy(cheap)
	accounts.SetHashHook(f.svc, func() { f.hashes.Add(1) })
	return f
}

// eachStore runs fn on SQLite and, when LATCHKEY_TEST_MYSQL_DSN is set, on
// MariaDB/MySQL.
func eachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newFixture(t, storagetest.OpenSQLite(t))) })
	t.Run("mysql", func(t *testing.T) { fn(t, newFixture(t, storagetest.OpenMySQL(t))) })
}

// A password that passes every check below.
const goodPassword = "zq8Lw2mR4t-blue"

func (f *fixture) create(t *testing.T, in accounts.NewUser) *accounts.User {
	t.Helper()
	u, err := f.svc.Create(t.Context(), f.realm, in)
	if err != nil {
		t.Fatalf("Create(%+v): %v", in, err)
	}
	return u
}

// login runs the password check and reports the error and how many argon2id
// computations it made.
func (f *fixture) login(t *testing.T, login, password string) (*accounts.User, int64, error) {
	t.Helper()
	before := f.hashes.Load()
	u, err := f.svc.VerifyPassword(t.Context(), f.realm, login, password)
	return u, f.hashes.Load() - before, err
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Sally", "sally"},
		{"  SALLY\t", "sally"},
		{"Sally@Example.COM", "sally@example.com"},
		{"Ren\u00e9", "ren\u00e9"},  // precomposed é
		{"Rene\u0301", "ren\u00e9"}, // e + combining acute: the same name
		{"RENE\u0301", "ren\u00e9"},
		{"ÅSA", "åsa"},
		{"", ""},
	} {
		if got := accounts.Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCreateValidation(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		long := strings.Repeat("a", 256)
		tests := []struct {
			name string
			in   accounts.NewUser
			want error  // nil: created
			msg  string // in the error
			// checks on the created user
			check func(t *testing.T, u *accounts.User)
		}{
			{name: "username and password", in: accounts.NewUser{Username: "sally", Password: goodPassword},
				check: func(t *testing.T, u *accounts.User) {
					if !regexp.MustCompile(`^usr_[0-9A-Za-z]{22}$`).MatchString(u.ID) {
						t.Errorf("id %q is not usr_ and 22 base62 characters", u.ID)
					}
					if u.Role != "user" || u.Status != accounts.StatusActive || u.Realm != "rl_test" {
						t.Errorf("defaults: role %q, status %q, realm %q", u.Role, u.Status, u.Realm)
					}
					if !u.CreatedAt.Equal(start) || !u.UpdatedAt.Equal(start) {
						t.Errorf("times %v %v, want the injected clock's %v", u.CreatedAt, u.UpdatedAt, start)
					}
				}},
			{name: "fields are trimmed", in: accounts.NewUser{Username: "  Bob ", Email: " Bob@Example.com ", FirstName: " Bob ", LastName: " Doe ", Role: " admin "},
				check: func(t *testing.T, u *accounts.User) {
					if u.Username != "Bob" || u.Email != "Bob@Example.com" || u.FirstName != "Bob" || u.LastName != "Doe" || u.Role != "admin" {
						t.Errorf("got %+v", u)
					}
				}},
			{name: "email only", in: accounts.NewUser{Email: "carol@example.com", Password: goodPassword}},
			{name: "work api user", in: accounts.NewUser{ArbitraryID: "ext-1", EnvironmentGUID: "env-1"}},
			{name: "username of 255 characters", in: accounts.NewUser{Username: strings.Repeat("é", 255)}},
			{name: "role of 64 characters", in: accounts.NewUser{Username: "dave", Role: strings.Repeat("r", 64)}},
			{name: "nothing to identify the user", in: accounts.NewUser{FirstName: "X"}, want: accounts.ErrInvalidUser, msg: "needs a username, an email or an arbitrary_id"},
			{name: "password without username or email", in: accounts.NewUser{ArbitraryID: "ext-2", EnvironmentGUID: "env-1", Password: goodPassword}, want: accounts.ErrInvalidUser, msg: "to log in with"},
			{name: "username too long", in: accounts.NewUser{Username: long}, want: accounts.ErrInvalidUser, msg: "username must be at most 255 characters"},
			{name: "username with a control character", in: accounts.NewUser{Username: "sa\x00lly"}, want: accounts.ErrInvalidUser, msg: "control characters"},
			{name: "username with a newline", in: accounts.NewUser{Username: "sa\nlly"}, want: accounts.ErrInvalidUser, msg: "control characters"},
			{name: "username not UTF-8", in: accounts.NewUser{Username: "sa\xfflly"}, want: accounts.ErrInvalidUser, msg: "UTF-8"},
			{name: "email without @", in: accounts.NewUser{Email: "example.com"}, want: accounts.ErrInvalidUser, msg: "does not look like an e-mail address"},
			{name: "email with two @", in: accounts.NewUser{Email: "a@b@example.com"}, want: accounts.ErrInvalidUser, msg: "does not look like an e-mail address"},
			{name: "email with a space", in: accounts.NewUser{Email: "a b@example.com"}, want: accounts.ErrInvalidUser, msg: "does not look like an e-mail address"},
			{name: "email without local part", in: accounts.NewUser{Email: "@example.com"}, want: accounts.ErrInvalidUser, msg: "does not look like an e-mail address"},
			{name: "email without domain", in: accounts.NewUser{Email: "a@"}, want: accounts.ErrInvalidUser, msg: "does not look like an e-mail address"},
			{name: "email too long", in: accounts.NewUser{Email: long + "@example.com"}, want: accounts.ErrInvalidUser, msg: "at most 255"},
			{name: "role too long", in: accounts.NewUser{Username: "erin", Role: strings.Repeat("r", 65)}, want: accounts.ErrInvalidUser, msg: "role must be at most 64 characters"},
			{name: "first name too long", in: accounts.NewUser{Username: "erin", FirstName: long}, want: accounts.ErrInvalidUser, msg: "first_name"},
			{name: "last name with a tab", in: accounts.NewUser{Username: "erin", LastName: "a\tb"}, want: accounts.ErrInvalidUser, msg: "control characters"},
			{name: "arbitrary_id without environment", in: accounts.NewUser{ArbitraryID: "ext-3"}, want: accounts.ErrInvalidUser, msg: "go together"},
			{name: "environment without arbitrary_id", in: accounts.NewUser{Username: "frank", EnvironmentGUID: "env-1"}, want: accounts.ErrInvalidUser, msg: "go together"},
			{name: "arbitrary_id with a trailing space", in: accounts.NewUser{ArbitraryID: "ext-4 ", EnvironmentGUID: "env-1"}, want: accounts.ErrInvalidUser, msg: "white space"},
			{name: "arbitrary_id too long", in: accounts.NewUser{ArbitraryID: long, EnvironmentGUID: "env-1"}, want: accounts.ErrInvalidUser, msg: "arbitrary_id must be at most 255"},
			{name: "password too short", in: accounts.NewUser{Username: "gina", Password: "x8#Lq2m"}, want: accounts.ErrWeakPassword, msg: "at least 10 characters"},
			{name: "common password", in: accounts.NewUser{Username: "gina", Password: "password123"}, want: accounts.ErrWeakPassword},
			{name: "password from the username", in: accounts.NewUser{Username: "ginavanderbilt", Password: "ginavanderbilt1"}, want: accounts.ErrWeakPassword, msg: "too easy to guess"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := f.hashes.Load()
				u, err := f.svc.Create(t.Context(), f.realm, tc.in)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("Create: %v", err)
					}
					if tc.check != nil {
						tc.check(t, u)
					}
					got, err := f.svc.Get(t.Context(), f.realm.ID, u.ID)
					if err != nil || *got != *u {
						t.Fatalf("Get = %+v, %v; want %+v", got, err, u)
					}
					return
				}
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("Create = %v, %v; want %v containing %q", u, err, tc.want, tc.msg)
				}
				if n := f.hashes.Load() - before; n != 0 {
					t.Errorf("a refused user cost %d hashes", n)
				}
			})
		}
		if _, err := f.svc.Create(t.Context(), nil, accounts.NewUser{Username: "x"}); !errors.Is(err, accounts.ErrInvalidUser) {
			t.Errorf("Create without a realm: %v", err)
		}
	})
}

func TestUniqueness(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		f.create(t, accounts.NewUser{Username: "Sally", Email: "Sally@Example.com"})
		f.create(t, accounts.NewUser{Username: "Ren\u00e9"})
		f.create(t, accounts.NewUser{ArbitraryID: "Ext-1", EnvironmentGUID: "env-1"})
		tests := []struct {
			name string
			in   accounts.NewUser
			want error
		}{
			{"username differing in case", accounts.NewUser{Username: "sally"}, accounts.ErrUsernameTaken},
			{"username in capitals with spaces", accounts.NewUser{Username: " SALLY "}, accounts.ErrUsernameTaken},
			{"username decomposed", accounts.NewUser{Username: "Rene\u0301"}, accounts.ErrUsernameTaken},
			{"username decomposed, other case", accounts.NewUser{Username: "RENE\u0301"}, accounts.ErrUsernameTaken},
			{"email differing in case", accounts.NewUser{Username: "other", Email: "sally@EXAMPLE.com"}, accounts.ErrEmailTaken},
			{"arbitrary_id in the same environment", accounts.NewUser{ArbitraryID: "Ext-1", EnvironmentGUID: "env-1"}, accounts.ErrArbitraryIDTaken},
			{"arbitrary_id differing in case", accounts.NewUser{ArbitraryID: "ext-1", EnvironmentGUID: "env-1"}, nil},
			{"arbitrary_id in another environment", accounts.NewUser{ArbitraryID: "Ext-1", EnvironmentGUID: "env-2"}, nil},
			{"another user's email as username", accounts.NewUser{Username: "sally@example.com"}, nil},
			{"users without email", accounts.NewUser{Username: "noemail"}, nil},
			{"users without email, again", accounts.NewUser{Username: "noemail2"}, nil},
			{"users without username", accounts.NewUser{Email: "a@example.com"}, nil},
			{"users without username, again", accounts.NewUser{Email: "b@example.com"}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Create(ctx, f.realm, tc.in)
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("Create(%+v) = %v, want %v", tc.in, err, tc.want)
				}
			})
		}
		// Another realm has its own names.
		other := newRealm("rl_other")
		if _, err := f.svc.Create(ctx, other, accounts.NewUser{Username: "sally", Email: "sally@example.com"}); err != nil {
			t.Fatalf("the same username in another realm: %v", err)
		}

		// Lookups use the same normalisation, and stay in their realm.
		u, err := f.svc.GetByUsername(ctx, f.realm.ID, "SALLY")
		if err != nil || u.Username != "Sally" || u.Realm != f.realm.ID {
			t.Fatalf("GetByUsername(SALLY) = %+v, %v", u, err)
		}
		if u, err := f.svc.GetByUsername(ctx, f.realm.ID, "rene\u0301"); err != nil || u.Username != "Ren\u00e9" {
			t.Fatalf("GetByUsername(decomposed) = %+v, %v", u, err)
		}
		if u, err := f.svc.GetByEmail(ctx, f.realm.ID, "SALLY@example.com"); err != nil || u.Username != "Sally" {
			t.Fatalf("GetByEmail = %+v, %v", u, err)
		}
		for name, err := range map[string]error{
			"GetByUsername(unknown)": func() error { _, err := f.svc.GetByUsername(ctx, f.realm.ID, "nobody"); return err }(),
			"Get(another realm)":     func() error { _, err := f.svc.Get(ctx, "rl_other", u.ID); return err }(),
			"Get(unknown)":           func() error { _, err := f.svc.Get(ctx, f.realm.ID, "usr_nope"); return err }(),
		} {
			if !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("%s = %v, want ErrNotFound", name, err)
			}
		}
		list, err := f.svc.List(ctx, f.realm.ID)
		if err != nil || len(list) != 10 {
			t.Fatalf("List = %d users, %v; want 10", len(list), err)
		}
		for _, u := range list {
			if u.Realm != f.realm.ID {
				t.Errorf("List(%s) has a user of %s", f.realm.ID, u.Realm)
			}
		}
	})
}

// TestConcurrentCreate: of many concurrent creations of one username, in any
// case, exactly one succeeds; the others get ErrUsernameTaken.
func TestConcurrentCreate(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		names := []string{"zoe", "Zoe", "ZOE", " zoe", "zOe", "zoE", "ZoE", "zoe "}
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() { _, errs[i] = f.svc.Create(t.Context(), f.realm, accounts.NewUser{Username: name}) })
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, accounts.ErrUsernameTaken):
				t.Errorf("Create(%q): %v", names[i], err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent creations of one username succeeded, want 1", ok)
		}
	})
}

// TestCreateInTransaction: a user is stored in the transaction the context
// carries, but its password is never hashed there (it would hold the
// transaction's locks for the hash): Prepare before, Insert inside.
func TestCreateInTransaction(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		p, err := f.svc.Prepare(ctx, f.realm, accounts.NewUser{Username: "tx-user", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = f.store.InTx(ctx, func(ctx context.Context) error {
			before := f.hashes.Load()
			if _, err := f.svc.Create(ctx, f.realm, accounts.NewUser{Username: "tx-other", Password: goodPassword}); !errors.Is(err, accounts.ErrHashInTransaction) {
				t.Errorf("Create with a password in a transaction = %v, want ErrHashInTransaction", err)
			}
			if n := f.hashes.Load() - before; n != 0 {
				t.Errorf("Create in a transaction hashed %d times", n)
			}
			if _, err := f.svc.Create(ctx, f.realm, accounts.NewUser{Username: "tx-nopass"}); err != nil {
				return fmt.Errorf("a user without a password in a transaction: %w", err)
			}
			u, err := f.svc.Insert(ctx, p)
			if err != nil {
				return err
			}
			if u.ID != p.ID() {
				t.Errorf("Insert stored %s, Prepare assigned %s", u.ID, p.ID())
			}
			if _, err := f.svc.Get(ctx, f.realm.ID, u.ID); err != nil {
				return fmt.Errorf("not visible in its transaction: %w", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		for _, name := range []string{"tx-user", "tx-nopass", "tx-other"} {
			if _, err := f.svc.GetByUsername(ctx, f.realm.ID, name); !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("%s exists after a rolled-back transaction: %v", name, err)
			}
		}
	})
}

func TestPasswordPolicy(t *testing.T) {
	realm := newRealm("rl_p")
	tests := []struct {
		name, password string
		inputs         []string
		ok             bool
		msg            string
	}{
		{name: "random", password: "zq8Lw2mR4t", ok: true},
		{name: "words and digits", password: "blue-ocean-42", ok: true},
		{name: "passphrase", password: "correct horse battery staple", ok: true},
		{name: "exactly the minimum", password: "7Kd9pQ2xLm", ok: true},
		{name: "one short", password: "7Kd9pQ2xL", msg: "at least 10 characters"},
		{name: "minimum counts characters, not bytes", password: "éèêëēėęîïí", ok: true},
		{name: "too long", password: strings.Repeat("aZ3$kq9!", 129), msg: "at most 1024 characters"},
		{name: "long but fine", password: strings.Repeat("aZ3$kq9!", 128), ok: true},
		{name: "not UTF-8", password: "zq8Lw2mR4t\xff", msg: "UTF-8"},
		{name: "common: password123", password: "password123", msg: "easy to guess"},
		{name: "common: qwertyuiop", password: "qwertyuiop", msg: "common"},
		{name: "common: 1234567890", password: "1234567890", msg: "common"},
		{name: "common: iloveyou12", password: "iloveyou12", msg: "easy to guess"},
		{name: "season and year", password: "Summer2024!", msg: "easy to guess"},
		{name: "repetition", password: "aaaaaaaaaaaa", msg: "easy to guess"},
		{name: "the user's name", password: "sallysally1", inputs: []string{"sally"}, msg: "easy to guess"},
		{name: "the user's e-mail", password: "sally.ride!", inputs: []string{"Sally.Ride@example.com"}, msg: "easy to guess"},
		{name: "weak start of a long password", password: strings.Repeat("a", 70) + "Zq8#", msg: "easy to guess"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := accounts.CheckPassword(realm, tc.password, tc.inputs...)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckPassword(%q) = %v, want accepted", tc.password, err)
				}
				return
			}
			if !errors.Is(err, accounts.ErrWeakPassword) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("CheckPassword(%q) = %v; want ErrWeakPassword containing %q", tc.password, err, tc.msg)
			}
		})
	}

	// The list of common passwords by itself, with a short minimum: a hit
	// is refused in any case.
	short := &config.Realm{ID: "rl_s", PasswordMinLength: 1}
	for _, pw := range []string{"dragon", "DRAGON", "baseball", "letmein", "trustno1"} {
		if _, err := accounts.CheckPassword(short, pw); !errors.Is(err, accounts.ErrWeakPassword) || !strings.Contains(err.Error(), "most common passwords") {
			t.Errorf("CheckPassword(%q) = %v, want refused as a common password", pw, err)
		}
	}

	// NFC: the password is returned normalised.
	if pw, err := accounts.CheckPassword(realm, "Rene\u0301-zq8Lw2mR4t"); err != nil || pw != "Ren\u00e9-zq8Lw2mR4t" {
		t.Errorf("CheckPassword(decomposed) = %q, %v; want the NFC form", pw, err)
	}
}

// TestDevDemoPasswordPassesPolicy: the demo user's generated password
// passes the demo realm's policy, so the server can create the user.
func TestDevDemoPasswordPassesPolicy(t *testing.T) {
	var snap *config.Snapshot
	var creds map[string]string
	for range 5 { // several generated passwords
		dir := t.TempDir()
		var err error
		if snap, _, err = config.LoadDev(dir, nil); err != nil {
			t.Fatal(err)
		}
		if creds, err = config.ReadDevCredentials(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := accounts.CheckPassword(snap.Realm("rl_demo"), creds["DEMO_PASSWORD"], creds["DEMO_USERNAME"]); err != nil {
			t.Fatalf("the generated demo password is refused: %v", err)
		}
	}
	realm := snap.Realm("rl_demo")
	f := newFixture(t, storagetest.OpenSQLite(t))
	if _, err := f.svc.Create(t.Context(), realm, accounts.NewUser{Username: creds["DEMO_USERNAME"], Password: creds["DEMO_PASSWORD"]}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyPassword(t.Context(), realm, "demo", creds["DEMO_PASSWORD"]); err != nil {
		t.Fatalf("the demo user cannot log in: %v", err)
	}
}

func TestHashAndRehash(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.create(t, accounts.NewUser{Username: "sally", Password: goodPassword})
		oldHash, err := accounts.StoredHash(ctx, f.svc, f.realm.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(oldHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Fatalf("stored hash %q is not argon2id PHC with the policy's parameters", oldHash)
		}
		if strings.Contains(oldHash, goodPassword) {
			t.Fatal("the password is stored in clear")
		}

		// New parameters: the old hash still verifies, and is re-hashed.
		f.svc.SetPolicy(config.Passwords{
			Argon2id:            config.Argon2Params{MemoryKiB: 2048, Iterations: 2, Parallelism: 2},
			MaxConcurrentHashes: 4, QueueTimeout: 30 * time.Second,
		})
		got, hashes, err := f.login(t, "sally", goodPassword)
		if err != nil || got.ID != u.ID {
			t.Fatalf("login with an old-parameter hash = %+v, %v", got, err)
		}
		if hashes != 2 {
			t.Errorf("login with re-hash made %d argon2id computations, want 2 (verify, re-hash)", hashes)
		}
		newHash, _ := accounts.StoredHash(ctx, f.svc, f.realm.ID, u.ID)
		if newHash == oldHash || !strings.HasPrefix(newHash, "$argon2id$v=19$m=2048,t=2,p=2$") {
			t.Fatalf("hash after login %q; want re-hashed with m=2048,t=2,p=2 (was %q)", newHash, oldHash)
		}
		// Once current, no more re-hashing; the new hash verifies.
		if _, hashes, err := f.login(t, "sally", goodPassword); err != nil || hashes != 1 {
			t.Fatalf("second login = %v with %d hashes; want ok with 1", err, hashes)
		}
		if again, _ := accounts.StoredHash(ctx, f.svc, f.realm.ID, u.ID); again != newHash {
			t.Error("a current hash was re-hashed")
		}
		if _, _, err := f.login(t, "sally", goodPassword+"x"); !errors.Is(err, accounts.ErrInvalidCredentials) {
			t.Fatalf("wrong password after re-hash: %v", err)
		}
		// A failed login never re-hashes.
		f.svc.SetPolicy(cheap)
		if _, hashes, err := f.login(t, "sally", "wrong-password"); !errors.Is(err, accounts.ErrInvalidCredentials) || hashes != 1 {
			t.Fatalf("wrong password = %v with %d hashes", err, hashes)
		}
		if again, _ := accounts.StoredHash(ctx, f.svc, f.realm.ID, u.ID); again != newHash {
			t.Error("a failed login re-hashed")
		}

		// Unicode passwords are NFC-normalised: either form logs in.
		f.create(t, accounts.NewUser{Username: "rene", Password: "Ren\u00e9-zq8Lw2mR4t"})
		if _, _, err := f.login(t, "rene", "Rene\u0301-zq8Lw2mR4t"); err != nil {
			t.Fatalf("login with the decomposed form of the password: %v", err)
		}
	})
}

// TestEqualAnswers: unknown user, wrong password, deactivated user and a
// user without a password get the same error after the same work: one
// argon2id computation with the current parameters.
func TestEqualAnswers(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		f.create(t, accounts.NewUser{Username: "sally", Password: goodPassword})
		off := f.create(t, accounts.NewUser{Username: "olga", Password: goodPassword})
		if err := f.svc.SetStatus(ctx, f.realm.ID, off.ID, accounts.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		f.create(t, accounts.NewUser{Username: "nopass"})
		f.create(t, accounts.NewUser{Email: "mail@example.com", Password: goodPassword})

		for _, tc := range []struct{ name, login, password string }{
			{"unknown user", "nobody", goodPassword},
			{"wrong password", "sally", goodPassword + "!"},
			{"deactivated user, right password", "olga", goodPassword},
			{"user without a password", "nopass", goodPassword},
			{"e-mail where the realm wants a username", "mail@example.com", goodPassword},
			{"wrong case of the password", "sally", strings.ToUpper(goodPassword)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, hashes, err := f.login(t, tc.login, tc.password)
				if err != accounts.ErrInvalidCredentials || u != nil {
					t.Fatalf("= %+v, %v; want exactly ErrInvalidCredentials", u, err)
				}
				if hashes != 1 {
					t.Fatalf("%d argon2id computations, want 1", hashes)
				}
			})
		}
		if !strings.HasPrefix(accounts.DummyHash(f.svc), "$argon2id$v=19$m=1024,t=1,p=1$") {
			t.Errorf("the dummy hash %q does not have the current parameters", accounts.DummyHash(f.svc))
		}
		f.svc.SetPolicy(accounts.DefaultPasswords)
		if !strings.HasPrefix(accounts.DummyHash(f.svc), "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("after SetPolicy the dummy hash %q does not have the new parameters", accounts.DummyHash(f.svc))
		}

		// Input that can match nobody is refused without any work.
		for _, tc := range []struct{ login, password string }{
			{"", goodPassword}, {"   ", goodPassword}, {"sally", ""},
			{strings.Repeat("x", 256), goodPassword}, {"sally", strings.Repeat("x", 1025)}, {"sally", "\xff"},
		} {
			if _, hashes, err := f.login(t, tc.login, tc.password); err != accounts.ErrInvalidCredentials || hashes != 0 {
				t.Errorf("login(%.10q, %.10q) = %v with %d hashes; want ErrInvalidCredentials with none", tc.login, tc.password, err, hashes)
			}
		}

		// The right password logs in, by username in any case; by e-mail
		// when the realm says username_is_email, and through the e-mail
		// entry point.
		if u, _, err := f.login(t, " SALLY ", goodPassword); err != nil || u.Username != "sally" {
			t.Fatalf("login(SALLY) = %+v, %v", u, err)
		}
		f.realm.UsernameIsEmail = true
		if _, _, err := f.login(t, "MAIL@example.com", goodPassword); err != nil {
			t.Fatalf("login by e-mail with username_is_email: %v", err)
		}
		f.realm.UsernameIsEmail = false
		if _, err := f.svc.VerifyPasswordByEmail(ctx, f.realm, "mail@EXAMPLE.com", goodPassword); err != nil {
			t.Fatalf("VerifyPasswordByEmail: %v", err)
		}
		if _, err := f.svc.VerifyPasswordByEmail(ctx, f.realm, "sally", goodPassword); err != accounts.ErrInvalidCredentials {
			t.Fatalf("VerifyPasswordByEmail with a username = %v, want ErrInvalidCredentials", err)
		}
		// Another realm's user is unknown here.
		other := newRealm("rl_other")
		if _, err := f.svc.VerifyPassword(ctx, other, "sally", goodPassword); err != accounts.ErrInvalidCredentials {
			t.Fatalf("login in another realm = %v", err)
		}
	})
}

// TestLockout: SPEC §3 "Lockout", on an injected clock.
func TestLockout(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		f.create(t, accounts.NewUser{Username: "sally", Password: goodPassword})
		f.create(t, accounts.NewUser{Username: "bob", Password: goodPassword})
		window := f.realm.Lockout.Window

		// 20 parallel wrong guesses with max_failures 5: at most 5 are
		// evaluated; every one gets the same answer.
		f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 2, QueueTimeout: time.Minute})
		var wg sync.WaitGroup
		errs := make([]error, 20)
		before := f.hashes.Load()
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.svc.VerifyPassword(t.Context(), f.realm, "sally", fmt.Sprint("guess-", i)) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != accounts.ErrInvalidCredentials {
				t.Errorf("guess %d: %v, want ErrInvalidCredentials", i, err)
			}
		}
		if n := f.hashes.Load() - before; n > 5 {
			t.Fatalf("%d of 20 parallel guesses were evaluated, want at most 5", n)
		} else if n < 5 {
			t.Errorf("%d of 20 parallel guesses were evaluated, want 5 (each slot evaluates one)", n)
		}

		// Locked: even the right password is refused, without hashing, and
		// the lock is not extended by attempts.
		lockedAt := start
		for _, at := range []time.Duration{0, time.Minute, window - time.Microsecond} {
			f.clock.Set(lockedAt.Add(at))
			if _, hashes, err := f.login(t, "sally", goodPassword); err != accounts.ErrInvalidCredentials || hashes != 0 {
				t.Fatalf("at +%v while locked: %v with %d hashes; want ErrInvalidCredentials with none", at, err, hashes)
			}
		}
		// Other users are not locked.
		if _, _, err := f.login(t, "bob", goodPassword); err != nil {
			t.Fatalf("another user is locked too: %v", err)
		}
		// The lock ends a window after the failure that set it.
		f.clock.Set(lockedAt.Add(window))
		if _, _, err := f.login(t, "sally", goodPassword); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		// A success frees the slots: 4 failures, a success, 4 failures —
		// never locked.
		for i := range 9 {
			pw := "wrong-password"
			if i == 4 {
				pw = goodPassword
			}
			_, hashes, err := f.login(t, "sally", pw)
			if hashes != 1 {
				t.Fatalf("attempt %d was not evaluated (%v): the slots were not freed by the success", i, err)
			}
		}

		// Unknown users lock too, and their locked attempts cost no hash.
		for range 5 {
			if _, hashes, err := f.login(t, "ghost", "whatever-pw"); err != accounts.ErrInvalidCredentials || hashes != 1 {
				t.Fatalf("unknown user: %v with %d hashes", err, hashes)
			}
		}
		if _, hashes, err := f.login(t, "ghost", "whatever-pw"); err != accounts.ErrInvalidCredentials || hashes != 0 {
			t.Fatalf("locked unknown user: %v with %d hashes; want no hash", err, hashes)
		}
		// The lock is on the normalised login: another spelling is the same.
		if _, hashes, _ := f.login(t, " GHOST", "whatever-pw"); hashes != 0 {
			t.Fatal("a different spelling of a locked login was evaluated")
		}
		// The same name in another realm is another lock.
		if _, err := f.svc.VerifyPassword(t.Context(), newRealm("rl_other"), "ghost", "whatever-pw"); err != accounts.ErrInvalidCredentials {
			t.Fatal(err)
		}

		// A new password set by an admin ends the lock.
		for range 5 {
			f.login(t, "bob", "wrong-password")
		}
		if _, hashes, err := f.login(t, "bob", goodPassword); err == nil || hashes != 0 {
			t.Fatalf("bob is not locked: %v, %d hashes", err, hashes)
		}
		bob, _ := f.svc.GetByUsername(t.Context(), f.realm.ID, "bob")
		if err := f.svc.SetPassword(t.Context(), f.realm, bob.ID, goodPassword+"-2", ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.login(t, "bob", goodPassword+"-2"); err != nil {
			t.Fatalf("after set-password: %v", err)
		}
	})
}

// TestBusy: beyond max_concurrent_hashes a caller waits up to queue_timeout,
// then gets ErrBusy; an attempt that was never evaluated gives its lockout
// slot back.
func TestBusy(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		f.create(t, accounts.NewUser{Username: "sally", Password: goodPassword})
		f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 1, QueueTimeout: 20 * time.Millisecond})
		release, err := accounts.HoldHashSlot(ctx, f.svc)
		if err != nil {
			t.Fatal(err)
		}
		for range f.realm.Lockout.MaxFailures + 2 {
			began := time.Now()
			if _, hashes, err := f.login(t, "sally", goodPassword); !errors.Is(err, accounts.ErrBusy) || hashes != 0 {
				t.Fatalf("VerifyPassword with the queue full = %v with %d hashes; want ErrBusy", err, hashes)
			}
			if waited := time.Since(began); waited < 20*time.Millisecond {
				t.Fatalf("ErrBusy after %v, before the queue timeout", waited)
			}
		}
		if _, err := f.svc.Create(ctx, f.realm, accounts.NewUser{Username: "new", Password: goodPassword}); !errors.Is(err, accounts.ErrBusy) {
			t.Fatalf("Create with the queue full = %v; want ErrBusy", err)
		}
		// A context that ends while waiting.
		short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		defer cancel()
		f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 1, QueueTimeout: time.Minute})
		if _, err := f.svc.VerifyPassword(short, f.realm, "sally", goodPassword); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("VerifyPassword with an ending context = %v", err)
		}
		// Raising the bound lets a waiter in at once.
		done := make(chan error, 1)
		go func() { _, err := f.svc.VerifyPassword(ctx, f.realm, "sally", goodPassword); done <- err }()
		time.Sleep(10 * time.Millisecond)
		f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 2, QueueTimeout: time.Minute})
		select {
		case err := <-done:
			// More attempts than max_failures failed busy: had they kept
			// their slots, this one would be locked out.
			if err != nil {
				t.Fatalf("login after raising the bound: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("raising the bound did not let the waiter in")
		}
		release()
	})
}

func TestSetStatusAndPasswordRevoke(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.create(t, accounts.NewUser{Username: "sally", Password: goodPassword})
		issue := func(requestID string) {
			t.Helper()
			r := &fosite.Request{ID: requestID, RequestedAt: start, Client: &fosite.DefaultClient{ID: "c"},
				Session: &fosite.DefaultSession{Subject: u.ID}}
			if err := f.store.CreateAccessTokenSession(ctx, "at-"+requestID, r); err != nil {
				t.Fatal(err)
			}
			if err := f.store.CreateRefreshTokenSession(ctx, "rt-"+requestID, "at-"+requestID, r); err != nil {
				t.Fatal(err)
			}
		}
		live := func(requestID string) (access, refresh bool) {
			t.Helper()
			_, aErr := f.store.GetAccessTokenSession(ctx, "at-"+requestID, &fosite.DefaultSession{})
			_, rErr := f.store.GetRefreshTokenSession(ctx, "rt-"+requestID, &fosite.DefaultSession{})
			return aErr == nil, rErr == nil
		}

		// A password change revokes every grant but the one kept.
		issue("req-1")
		issue("req-2")
		f.clock.Set(start.Add(time.Hour))
		if err := f.svc.SetPassword(ctx, f.realm, u.ID, goodPassword+"-new", "req-1"); err != nil {
			t.Fatal(err)
		}
		if a, r := live("req-1"); !a || !r {
			t.Errorf("the kept grant was revoked: access %v, refresh %v", a, r)
		}
		if a, r := live("req-2"); a || r {
			t.Errorf("another grant survived a password change: access %v, refresh %v", a, r)
		}
		if _, _, err := f.login(t, "sally", goodPassword); err != accounts.ErrInvalidCredentials {
			t.Errorf("the old password still works: %v", err)
		}
		if _, _, err := f.login(t, "sally", goodPassword+"-new"); err != nil {
			t.Errorf("the new password does not work: %v", err)
		}
		if got, _ := f.svc.Get(ctx, f.realm.ID, u.ID); !got.UpdatedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("updated_at %v after SetPassword", got.UpdatedAt)
		}
		for name, err := range map[string]error{
			"weak":           f.svc.SetPassword(ctx, f.realm, u.ID, "password123", ""),
			"short":          f.svc.SetPassword(ctx, f.realm, u.ID, "x", ""),
			"empty":          f.svc.SetPassword(ctx, f.realm, u.ID, "", ""),
			"from the names": f.svc.SetPassword(ctx, f.realm, u.ID, "sallysally12", ""),
		} {
			if !errors.Is(err, accounts.ErrWeakPassword) {
				t.Errorf("SetPassword(%s) = %v, want ErrWeakPassword", name, err)
			}
		}
		if err := f.svc.SetPassword(ctx, f.realm, "usr_nope", goodPassword, ""); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("SetPassword(unknown) = %v", err)
		}
		if err := f.svc.SetPassword(ctx, newRealm("rl_other"), u.ID, goodPassword, ""); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("SetPassword(another realm's user) = %v", err)
		}

		// Deactivation revokes every token, at once; activation restores
		// logins, not tokens.
		if err := f.svc.SetStatus(ctx, f.realm.ID, u.ID, accounts.StatusDeactivated); err != nil {
			t.Fatal(err)
		}
		if a, r := live("req-1"); a || r {
			t.Errorf("a deactivated user's tokens survived: access %v, refresh %v", a, r)
		}
		if got, _ := f.svc.Get(ctx, f.realm.ID, u.ID); got.Status != accounts.StatusDeactivated {
			t.Errorf("status %q", got.Status)
		}
		if _, _, err := f.login(t, "sally", goodPassword+"-new"); err != accounts.ErrInvalidCredentials {
			t.Errorf("a deactivated user logged in: %v", err)
		}
		if err := f.svc.SetStatus(ctx, f.realm.ID, u.ID, accounts.StatusDeactivated); err != nil {
			t.Errorf("deactivating twice: %v", err)
		}
		if err := f.svc.SetStatus(ctx, f.realm.ID, u.ID, accounts.StatusActive); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.login(t, "sally", goodPassword+"-new"); err != nil {
			t.Errorf("a re-activated user cannot log in: %v", err)
		}
		for name, err := range map[string]error{
			"unknown user":         f.svc.SetStatus(ctx, f.realm.ID, "usr_nope", accounts.StatusActive),
			"another realm's user": f.svc.SetStatus(ctx, "rl_other", u.ID, accounts.StatusDeactivated),
		} {
			if !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("SetStatus(%s) = %v, want ErrNotFound", name, err)
			}
		}
		if err := f.svc.SetStatus(ctx, f.realm.ID, u.ID, "suspended"); !errors.Is(err, accounts.ErrInvalidUser) {
			t.Errorf("SetStatus(suspended) = %v, want ErrInvalidUser", err)
		}
	})
}
