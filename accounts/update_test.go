package accounts_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// TestPrepareInsert: Prepare validates, hashes and assigns the id without
// touching the database; Insert stores exactly that user.
func TestPrepareInsert(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		before := f.hashes.Load()
		p, err := f.svc.Prepare(ctx, f.realm, accounts.NewUser{Username: " Sally ", Email: "sally@example.com", Password: goodPassword})
		if err != nil {
			t.Fatal(err)
		}
		if n := f.hashes.Load() - before; n != 1 {
			t.Errorf("Prepare made %d argon2id computations, want 1", n)
		}
		if _, err := f.svc.Get(ctx, f.realm.ID, p.ID()); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("a prepared user is stored before Insert: %v", err)
		}
		f.clock.Set(start.Add(time.Minute))
		u, err := f.svc.Insert(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != p.ID() || u.Username != "Sally" || !u.CreatedAt.Equal(start.Add(time.Minute)) {
			t.Errorf("Insert = %+v; want id %s, username Sally, created at Insert's time", u, p.ID())
		}
		if _, _, err := f.login(t, "sally", goodPassword); err != nil {
			t.Errorf("the inserted user cannot log in: %v", err)
		}
		if _, err := f.svc.Insert(ctx, p); err == nil {
			t.Error("a prepared user was inserted twice")
		}
		if _, err := f.svc.Insert(ctx, nil); !errors.Is(err, accounts.ErrInvalidUser) {
			t.Errorf("Insert(nil) = %v", err)
		}

		// Taken names are found at Insert, as by Create.
		for _, tc := range []struct {
			in   accounts.NewUser
			want error
		}{
			{accounts.NewUser{Username: "SALLY"}, accounts.ErrUsernameTaken},
			{accounts.NewUser{Username: "other", Email: "Sally@Example.com"}, accounts.ErrEmailTaken},
		} {
			p, err := f.svc.Prepare(ctx, f.realm, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Insert(ctx, p); !errors.Is(err, tc.want) {
				t.Errorf("Insert(%+v) = %v, want %v", tc.in, err, tc.want)
			}
		}

		// Prepare refuses to hash in a transaction, before hashing; without a
		// password it has nothing to hash and works there.
		err = f.store.InTx(ctx, func(ctx context.Context) error {
			before := f.hashes.Load()
			if _, err := f.svc.Prepare(ctx, f.realm, accounts.NewUser{Username: "tx", Password: goodPassword}); !errors.Is(err, accounts.ErrHashInTransaction) {
				t.Errorf("Prepare with a password in a transaction = %v, want ErrHashInTransaction", err)
			}
			if n := f.hashes.Load() - before; n != 0 {
				t.Errorf("Prepare in a transaction hashed %d times", n)
			}
			_, err := f.svc.Prepare(ctx, f.realm, accounts.NewUser{Username: "tx"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// The bound on hashes applies.
		f.svc.SetPolicy(config.Passwords{Argon2id: cheap.Argon2id, MaxConcurrentHashes: 1, QueueTimeout: 10 * time.Millisecond})
		release, err := accounts.HoldHashSlot(ctx, f.svc)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if _, err := f.svc.Prepare(ctx, f.realm, accounts.NewUser{Username: "busy", Password: goodPassword}); !errors.Is(err, accounts.ErrBusy) {
			t.Errorf("Prepare with the queue full = %v, want ErrBusy", err)
		}
	})
}

// grants issues and checks token pairs of a user.
type grants struct {
	t     *testing.T
	store *storage.Store
	sub   string
}

func (g grants) issue(requestID string) {
	g.t.Helper()
	ctx := g.t.Context()
	r := &fosite.Request{ID: requestID, RequestedAt: start, Client: &fosite.DefaultClient{ID: "c"},
		Session: &fosite.DefaultSession{Subject: g.sub}}
	if err := g.store.CreateAccessTokenSession(ctx, "at-"+requestID, r); err != nil {
		g.t.Fatal(err)
	}
	if err := g.store.CreateRefreshTokenSession(ctx, "rt-"+requestID, "at-"+requestID, r); err != nil {
		g.t.Fatal(err)
	}
}

// state is "live" (both tokens usable), "revoked" (access deleted, refresh
// inactive), "gone" (both deleted) or what else it found.
func (g grants) state(requestID string) string {
	g.t.Helper()
	ctx := g.t.Context()
	_, aErr := g.store.GetAccessTokenSession(ctx, "at-"+requestID, &fosite.DefaultSession{})
	_, rErr := g.store.GetRefreshTokenSession(ctx, "rt-"+requestID, &fosite.DefaultSession{})
	switch {
	case aErr == nil && rErr == nil:
		return "live"
	case errors.Is(aErr, fosite.ErrNotFound) && errors.Is(rErr, fosite.ErrInactiveToken):
		return "revoked"
	case errors.Is(aErr, fosite.ErrNotFound) && errors.Is(rErr, fosite.ErrNotFound):
		return "gone"
	}
	return "access " + errString(aErr) + ", refresh " + errString(rErr)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func TestUpdate(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.create(t, accounts.NewUser{Username: "sally", Email: "sally@example.com", Password: goodPassword, FirstName: "Sally"})
		f.create(t, accounts.NewUser{Username: "bob", Email: "bob@example.com"})
		g := grants{t, f.store, u.ID}

		// Profile fields; no password, so no hash and no revocation.
		g.issue("req-1")
		f.clock.Set(start.Add(time.Hour))
		before := f.hashes.Load()
		got, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{
			Email: strp(" Sally.Ride@Example.com "), FirstName: strp("Sally K."), LastName: strp("Ride"), Role: strp("admin"),
		}, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "Sally.Ride@Example.com" || got.FirstName != "Sally K." || got.LastName != "Ride" || got.Role != "admin" ||
			got.Username != "sally" || !got.UpdatedAt.Equal(start.Add(time.Hour)) || !got.CreatedAt.Equal(start) {
			t.Fatalf("Update = %+v", got)
		}
		if again, _ := f.svc.Get(ctx, f.realm.ID, u.ID); *again != *got {
			t.Errorf("Get after Update = %+v, Update returned %+v", again, got)
		}
		if n := f.hashes.Load() - before; n != 0 {
			t.Errorf("a profile update made %d hashes", n)
		}
		if s := g.state("req-1"); s != "live" {
			t.Errorf("a profile update revoked a grant: %s", s)
		}
		if _, err := f.svc.VerifyPasswordByEmail(ctx, f.realm, "sally.ride@example.com", goodPassword); err != nil {
			t.Errorf("login by the new e-mail: %v", err)
		}
		// Role "" is the default role; no changes change nothing.
		if got, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Role: strp("")}, ""); err != nil || got.Role != accounts.DefaultRole {
			t.Errorf("Update(role \"\") = %+v, %v", got, err)
		}
		f.clock.Set(start.Add(2 * time.Hour))
		if got, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{}, ""); err != nil || !got.UpdatedAt.Equal(start.Add(time.Hour)) {
			t.Errorf("Update(nothing) = %+v, %v; want the user unchanged", got, err)
		}

		// Every problem at once; nothing stored.
		_, err = f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Email: strp("bad"), LastName: strp("a\tb"), Password: strp("short")}, "")
		if want := []string{"email/invalid", "password/too_short", "last_name/invalid"}; !slices.Equal(problemsOf(t, err), want) {
			t.Errorf("Update with three problems = %v; want %v", err, want)
		}
		if !errors.Is(err, accounts.ErrWeakPassword) || !errors.Is(err, accounts.ErrInvalidUser) {
			t.Errorf("%v is not ErrWeakPassword and ErrInvalidUser", err)
		}
		for name, ch := range map[string]accounts.Changes{
			"empty password":         {Password: strp("")},
			"password from the name": {Password: strp("sallysally12")},
		} {
			if _, err := f.svc.Update(ctx, f.realm, u.ID, ch, ""); !errors.Is(err, accounts.ErrWeakPassword) {
				t.Errorf("Update(%s) = %v, want ErrWeakPassword", name, err)
			}
		}
		if cur, _ := f.svc.Get(ctx, f.realm.ID, u.ID); cur.Email != "Sally.Ride@Example.com" || cur.LastName != "Ride" {
			t.Errorf("a refused update changed the user: %+v", cur)
		}
		// Removing the e-mail is fine while the username remains.
		if got, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Email: strp("")}, ""); err != nil || got.Email != "" {
			t.Errorf("Update(email \"\") = %+v, %v", got, err)
		}

		// Taken, unknown, another realm's.
		if _, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Email: strp("BOB@example.com")}, ""); !errors.Is(err, accounts.ErrEmailTaken) {
			t.Errorf("Update onto bob's e-mail = %v, want ErrEmailTaken", err)
		}
		for name, err := range map[string]error{
			"unknown": func() error {
				_, err := f.svc.Update(ctx, f.realm, "usr_nope", accounts.Changes{FirstName: strp("x")}, "")
				return err
			}(),
			"another realm": func() error {
				_, err := f.svc.Update(ctx, newRealm("rl_other"), u.ID, accounts.Changes{FirstName: strp("x")}, "")
				return err
			}(),
		} {
			if !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("Update(%s) = %v, want ErrNotFound", name, err)
			}
		}

		// A password change revokes every grant but the one kept, frees the
		// lockout slots, and the old password stops working.
		g.issue("req-2")
		g.issue("req-3")
		for range f.realm.Lockout.MaxFailures {
			f.login(t, "sally", "wrong-password")
		}
		if _, hashes, _ := f.login(t, "sally", goodPassword); hashes != 0 {
			t.Fatal("sally is not locked out")
		}
		before = f.hashes.Load()
		if _, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Password: strp(goodPassword + "-new"), FirstName: strp("Sal")}, "req-2"); err != nil {
			t.Fatal(err)
		}
		if n := f.hashes.Load() - before; n != 1 {
			t.Errorf("a password update made %d hashes, want 1", n)
		}
		for id, want := range map[string]string{"req-1": "revoked", "req-2": "live", "req-3": "revoked"} {
			if got := g.state(id); got != want {
				t.Errorf("grant %s is %s after the password change, want %s", id, got, want)
			}
		}
		if _, _, err := f.login(t, "sally", goodPassword+"-new"); err != nil {
			t.Errorf("the new password (lockout freed?): %v", err)
		}
		if _, _, err := f.login(t, "sally", goodPassword); err != accounts.ErrInvalidCredentials {
			t.Errorf("the old password: %v", err)
		}

		// In a transaction: profile changes join it; a password is refused
		// before anything is hashed or written.
		boom := errors.New("boom")
		err = f.store.InTx(ctx, func(ctx context.Context) error {
			before := f.hashes.Load()
			if _, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{Password: strp(goodPassword + "-tx")}, ""); !errors.Is(err, accounts.ErrHashInTransaction) {
				t.Errorf("Update of the password in a transaction = %v, want ErrHashInTransaction", err)
			}
			if err := f.svc.SetPassword(ctx, f.realm, u.ID, goodPassword+"-tx", ""); !errors.Is(err, accounts.ErrHashInTransaction) {
				t.Errorf("SetPassword in a transaction = %v, want ErrHashInTransaction", err)
			}
			if n := f.hashes.Load() - before; n != 0 {
				t.Errorf("%d hashes in a transaction", n)
			}
			if _, err := f.svc.Update(ctx, f.realm, u.ID, accounts.Changes{LastName: strp("Tx")}, ""); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if cur, _ := f.svc.Get(ctx, f.realm.ID, u.ID); cur.LastName != "Ride" {
			t.Errorf("a rolled-back update stayed: last name %q", cur.LastName)
		}
		if _, _, err := f.login(t, "sally", goodPassword+"-new"); err != nil {
			t.Errorf("the password changed in a refused update: %v", err)
		}
	})
}

// TestUpdateChecksOnlyWhatChanges: a value stored before a rule existed
// (or by another path) does not block a change of another field, and the
// rules between fields still hold.
func TestUpdateChecksOnlyWhatChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		// A user whose username is not an e-mail, in a realm that later
		// turned username_is_email on.
		legacy := f.create(t, accounts.NewUser{Username: "olduser", Email: "old@example.com", Password: goodPassword})
		f.realm.UsernameIsEmail = true
		if got, err := f.svc.Update(ctx, f.realm, legacy.ID, accounts.Changes{FirstName: strp("Old")}, ""); err != nil || got.Username != "olduser" {
			t.Errorf("Update of a name = %+v, %v", got, err)
		}
		// Changing the e-mail makes the username the e-mail too.
		got, err := f.svc.Update(ctx, f.realm, legacy.ID, accounts.Changes{Email: strp("New@Example.com")}, "")
		if err != nil || got.Username != "New@Example.com" || got.Email != "New@Example.com" {
			t.Fatalf("Update(email) in an e-mail realm = %+v, %v; want username and e-mail New@Example.com", got, err)
		}
		if _, err := f.svc.GetByUsername(ctx, f.realm.ID, "olduser"); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("the old username still finds the user: %v", err)
		}
		// A bad e-mail is one problem, not one more for the username made
		// of it.
		if _, err := f.svc.Update(ctx, f.realm, legacy.ID, accounts.Changes{Email: strp("not-an-email")}, ""); !slices.Equal(problemsOf(t, err), []string{"email/invalid"}) {
			t.Errorf("Update(bad e-mail) in an e-mail realm = %v, want email/invalid alone", err)
		}
		// A user with a password keeps a name to log in with.
		if _, err := f.svc.Update(ctx, f.realm, legacy.ID, accounts.Changes{Email: strp("")}, ""); !slices.Equal(problemsOf(t, err), []string{"username/blank"}) {
			t.Errorf("Update removing the only login name = %v, want username/blank", err)
		}
		// Another user's e-mail is taken, whichever key it hits first.
		other := f.create(t, accounts.NewUser{Username: "other@example.com"})
		if _, err := f.svc.Update(ctx, f.realm, legacy.ID, accounts.Changes{Email: strp("OTHER@example.com")}, ""); !errors.Is(err, accounts.ErrEmailTaken) {
			t.Errorf("Update onto another user's e-mail in an e-mail realm = %v, want ErrEmailTaken", err)
		}
		if u, err := f.svc.VerifyPassword(ctx, f.realm, "new@example.com", goodPassword); err != nil || u.ID != legacy.ID {
			t.Errorf("login by the new e-mail = %+v, %v", u, err)
		}
		_ = other
		// A Work API user has no password: removing nothing is fine.
		wa := f.create(t, accounts.NewUser{ArbitraryID: "ext-1", EnvironmentGUID: "env-1"})
		if got, err := f.svc.Update(ctx, f.realm, wa.ID, accounts.Changes{FirstName: strp("W"), Email: strp("")}, ""); err != nil || got.Username != "" {
			t.Errorf("Update of a Work API user = %+v, %v", got, err)
		}
		if err := f.svc.SetPassword(ctx, f.realm, wa.ID, goodPassword, ""); !slices.Equal(problemsOf(t, err), []string{"username/blank"}) {
			t.Errorf("SetPassword of a user without a login name = %v, want username/blank", err)
		}
	})
}

func TestDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		u := f.create(t, accounts.NewUser{Username: "sally", Email: "sally@example.com", Password: goodPassword})
		bob := f.create(t, accounts.NewUser{Username: "bob", Password: goodPassword})
		g, gb := grants{t, f.store, u.ID}, grants{t, f.store, bob.ID}
		g.issue("req-1")
		g.issue("req-2")
		gb.issue("req-b")
		for range f.realm.Lockout.MaxFailures {
			f.login(t, "sally", "wrong-password")
		}
		f.login(t, "bob", "wrong-password")

		for name, err := range map[string]error{
			"unknown":       f.svc.Delete(ctx, f.realm.ID, "usr_nope"),
			"another realm": f.svc.Delete(ctx, "rl_other", u.ID),
		} {
			if !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("Delete(%s) = %v, want ErrNotFound", name, err)
			}
		}
		if s := g.state("req-1"); s != "live" {
			t.Fatalf("a refused Delete touched the tokens: %s", s)
		}

		if err := f.svc.Delete(ctx, f.realm.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, f.realm.ID, u.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("Get after Delete = %v", err)
		}
		for _, id := range []string{"req-1", "req-2"} {
			if s := g.state(id); s != "gone" {
				t.Errorf("grant %s of the deleted user is %s, want gone", id, s)
			}
		}
		if s := gb.state("req-b"); s != "live" {
			t.Errorf("another user's grant is %s", s)
		}
		if err := f.svc.Delete(ctx, f.realm.ID, u.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("Delete twice = %v", err)
		}
		// The name is free, and so is its lock: a new sally logs in at once.
		f.create(t, accounts.NewUser{Username: "sally", Email: "sally@example.com", Password: goodPassword + "-2"})
		if _, hashes, err := f.login(t, "sally", goodPassword+"-2"); err != nil || hashes != 1 {
			t.Errorf("the new sally = %v with %d hashes; the old one's lock survived?", err, hashes)
		}
		// bob's slot is bob's still: 4 more failures lock him.
		for range f.realm.Lockout.MaxFailures - 1 {
			f.login(t, "bob", "wrong-password")
		}
		if _, hashes, _ := f.login(t, "bob", goodPassword); hashes != 0 {
			t.Error("another user's failure slots were freed by the delete")
		}
	})
}
