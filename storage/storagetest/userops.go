package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Changing and deleting users, and the transaction probe the accounts
// package relies on.

// RunUserOperations runs the conformance tests of UpdateUserProfile,
// DeleteUser, ClearLogins and InTransaction against stores made by open,
// one fresh store per subtest. (It belongs in RunConformance's list; until
// it is there, storage's own tests call it for both backends.)
func RunUserOperations(t *testing.T, open func(t *testing.T) *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"UserUpdateProfile", testUserUpdateProfile},
		{"UserUpdateProfileUnique", testUserUpdateProfileUnique},
		{"UserUpdateProfileInvalidInput", testUserUpdateProfileInvalidInput},
		{"DeleteUser", testDeleteUser},
		{"DeleteUserInTransaction", testDeleteUserInTransaction},
		{"ClearLogins", testClearLogins},
		{"InTransaction", testInTransaction},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func ptr(s string) *string { return &s }

func getUser(t *testing.T, s *storage.Store, realm, id string) *storage.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), realm, id)
	if err != nil {
		t.Fatalf("GetUser(%s, %s): %v", realm, id, err)
	}
	return u
}

// testUserUpdateProfile: the named columns change, the others stay; empty
// norms become NULL (and then never collide).
func testUserUpdateProfile(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_1", "rl_a", "sally", "sally@example.com"))
	before := getUser(t, s, "rl_a", "usr_1")
	later := base.Add(time.Hour)

	if err := s.UpdateUserProfile(ctx, "rl_a", "usr_1", storage.ProfileUpdate{
		Email: ptr("Sally.Ride@Example.com"), EmailNorm: ptr("sally.ride@example.com"),
		FirstName: ptr("Sally K."), Role: ptr("admin"),
	}, later); err != nil {
		t.Fatalf("UpdateUserProfile: %v", err)
	}
	got := getUser(t, s, "rl_a", "usr_1")
	want := *before
	want.Email, want.EmailNorm, want.FirstName, want.Role = "Sally.Ride@Example.com", "sally.ride@example.com", "Sally K.", "admin"
	checkTime(t, "UpdatedAt", got.UpdatedAt, later)
	want.UpdatedAt = got.UpdatedAt
	if *got != want {
		t.Fatalf("after UpdateUserProfile:\n got %+v\nwant %+v", got, &want)
	}
	// Found by the new e-mail, not by the old one.
	if u, err := s.FindUserByLogin(ctx, "rl_a", "sally.ride@example.com", false, true); err != nil || u.ID != "usr_1" {
		t.Errorf("FindUserByLogin(new email) = %v, %v", u, err)
	}
	if _, err := s.FindUserByLogin(ctx, "rl_a", "sally@example.com", false, true); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindUserByLogin(old email) = %v, want ErrNotFound", err)
	}

	// Username, last name and password hash; then the e-mail and the hash
	// removed. The same values again are no error (MySQL counts 0 changed
	// rows).
	for _, p := range []storage.ProfileUpdate{
		{Username: ptr("Sal"), UsernameNorm: ptr("sal"), LastName: ptr("Ride"), PasswordHash: ptr("hash-2")},
		{Username: ptr("Sal"), UsernameNorm: ptr("sal"), LastName: ptr("Ride"), PasswordHash: ptr("hash-2")},
		{Email: ptr(""), EmailNorm: ptr(""), PasswordHash: ptr("")},
	} {
		if err := s.UpdateUserProfile(ctx, "rl_a", "usr_1", p, later); err != nil {
			t.Fatalf("UpdateUserProfile(%+v): %v", p, err)
		}
	}
	got = getUser(t, s, "rl_a", "usr_1")
	if got.Username != "Sal" || got.UsernameNorm != "sal" || got.LastName != "Ride" || got.FirstName != "Sally K." ||
		got.Email != "" || got.EmailNorm != "" || got.PasswordHash != "" || got.Role != "admin" {
		t.Fatalf("after the updates: %+v", got)
	}
	// An empty e-mail is NULL: another user without one does not collide.
	createUser(t, s, newUser("usr_2", "rl_a", "bob", ""))

	// Nothing named: only updated_at moves.
	if err := s.UpdateUserProfile(ctx, "rl_a", "usr_1", storage.ProfileUpdate{}, later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	checkTime(t, "UpdatedAt", getUser(t, s, "rl_a", "usr_1").UpdatedAt, later.Add(time.Minute))

	// Unknown users and other realms' users are not found, and not created.
	for _, tc := range []struct{ realm, id string }{{"rl_a", "usr_nope"}, {"rl_b", "usr_1"}} {
		wantErrIs(t, "UpdateUserProfile("+tc.realm+", "+tc.id+")",
			s.UpdateUserProfile(ctx, tc.realm, tc.id, storage.ProfileUpdate{Role: ptr("x")}, later), storage.ErrNotFound)
	}
	if got := getUser(t, s, "rl_a", "usr_1"); got.Role != "admin" {
		t.Errorf("role %q after failed updates", got.Role)
	}
}

// testUserUpdateProfileUnique: an update onto another user's username or
// e-mail names the key it hit, in any case of the original.
func testUserUpdateProfileUnique(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_1", "rl_a", "sally", "sally@example.com"))
	createUser(t, s, newUser("usr_2", "rl_a", "bob", "bob@example.com"))
	createUser(t, s, newUser("usr_3", "rl_b", "carol", "carol@example.com"))
	for _, tc := range []struct {
		name string
		p    storage.ProfileUpdate
		want error // nil: updated
	}{
		{"username taken", storage.ProfileUpdate{Username: ptr("Sally"), UsernameNorm: ptr("sally")}, storage.ErrUsernameExists},
		{"email taken", storage.ProfileUpdate{Email: ptr("SALLY@example.com"), EmailNorm: ptr("sally@example.com")}, storage.ErrEmailExists},
		{"another realm's email", storage.ProfileUpdate{Email: ptr("carol@example.com"), EmailNorm: ptr("carol@example.com")}, nil},
		{"own username again", storage.ProfileUpdate{Username: ptr("BOB"), UsernameNorm: ptr("bob")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.UpdateUserProfile(ctx, "rl_a", "usr_2", tc.p, base.Add(time.Hour))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("UpdateUserProfile: %v", err)
				}
				return
			}
			wantErrIs(t, "UpdateUserProfile", err, tc.want)
			if !errors.Is(err, storage.ErrAlreadyExists) {
				t.Errorf("%v is not ErrAlreadyExists", err)
			}
		})
	}
	got := getUser(t, s, "rl_a", "usr_2")
	if got.UsernameNorm != "bob" || got.EmailNorm != "carol@example.com" || got.Username != "BOB" {
		t.Errorf("after the updates: %+v", got)
	}
}

func testUserUpdateProfileInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_1", "rl_a", "sally", "sally@example.com"))
	long := strings.Repeat("é", 256)
	for name, p := range map[string]storage.ProfileUpdate{
		"username without its norm": {Username: ptr("x")},
		"norm without its email":    {EmailNorm: ptr("x@example.com")},
		"empty role":                {Role: ptr("")},
		"long role":                 {Role: ptr(strings.Repeat("r", 65))},
		"long username":             {Username: ptr(long), UsernameNorm: ptr("x")},
		"long email norm":           {Email: ptr("x"), EmailNorm: ptr(long)},
		"long first name":           {FirstName: ptr(long)},
		"invalid UTF-8":             {LastName: ptr("\xff")},
		"long hash":                 {PasswordHash: ptr(strings.Repeat("h", 256))},
	} {
		wantErrIs(t, name, s.UpdateUserProfile(ctx, "rl_a", "usr_1", p, base), storage.ErrInvalidInput)
	}
	if got := getUser(t, s, "rl_a", "usr_1"); got.Role != "user" || got.Username != "sally" {
		t.Errorf("a refused update changed the user: %+v", got)
	}
}

// userWithTokens creates user id of rl_a with two grants (an access and a
// refresh token each) and failure slots on its username and e-mail.
func userWithTokens(t *testing.T, s *storage.Store, id, username, email string) {
	t.Helper()
	createUser(t, s, newUser(id, "rl_a", username, email))
	for _, g := range []string{"1", "2"} {
		r := newRequest(grant{id: id + "-req-" + g, subject: id})
		createAccess(t, s, t.Context(), sig("at-"+id+g), r)
		createRefresh(t, s, t.Context(), sig("rt-"+id+g), sig("at-"+id+g), r)
	}
	for _, login := range []string{username, email} {
		if !reserve(t, s, login, 3, time.Hour, base) {
			t.Fatalf("no slot for %s", login)
		}
	}
}

// wantUserIntact fails unless the user made by userWithTokens is all there.
func wantUserIntact(t *testing.T, s *storage.Store, id, username, email string) {
	t.Helper()
	getUser(t, s, "rl_a", id)
	for _, g := range []string{"1", "2"} {
		wantAccess(t, s, sig("at-"+id+g))
		wantRefresh(t, s, sig("rt-"+id+g), "active")
	}
	for _, login := range []string{username, email} {
		if n, _ := lockoutState(t, s, login, 3, base); n != 1 {
			t.Errorf("%d failure slots of %s, want 1", n, login)
		}
	}
}

// testDeleteUser: the user, their tokens and their failure slots go; no
// one else's do.
func testDeleteUser(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	userWithTokens(t, s, "usr_1", "sally", "sally@example.com")
	userWithTokens(t, s, "usr_2", "bob", "bob@example.com")

	if err := s.DeleteUser(ctx, "rl_a", "usr_1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := s.GetUser(ctx, "rl_a", "usr_1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUser after DeleteUser = %v, want ErrNotFound", err)
	}
	for _, g := range []string{"1", "2"} {
		wantNoAccess(t, s, sig("at-usr_1"+g))
		wantRefresh(t, s, sig("rt-usr_1"+g), "missing")
	}
	for _, login := range []string{"sally", "sally@example.com"} {
		if n, _ := lockoutState(t, s, login, 3, base); n != 0 {
			t.Errorf("%d failure slots of the deleted user's %s, want 0", n, login)
		}
	}
	wantUserIntact(t, s, "usr_2", "bob", "bob@example.com")
	// The names are free again.
	createUser(t, s, newUser("usr_3", "rl_a", "sally", "sally@example.com"))

	// Unknown, already deleted and other realms' users are not found, and
	// nothing of theirs is touched.
	for _, tc := range []struct{ realm, id string }{{"rl_a", "usr_nope"}, {"rl_a", "usr_1"}, {"rl_b", "usr_2"}} {
		wantErrIs(t, "DeleteUser("+tc.realm+", "+tc.id+")", s.DeleteUser(ctx, tc.realm, tc.id), storage.ErrNotFound)
	}
	wantUserIntact(t, s, "usr_2", "bob", "bob@example.com")

	// A user whose username is their e-mail (username_is_email) and one
	// without either (a Work API user).
	createUser(t, s, newUser("usr_4", "rl_a", "dan@example.com", "dan@example.com"))
	wa := newUser("usr_5", "rl_a", "", "")
	wa.ArbitraryID, wa.EnvironmentGUID = "ext-1", "env-1"
	createUser(t, s, wa)
	for _, id := range []string{"usr_4", "usr_5"} {
		if err := s.DeleteUser(ctx, "rl_a", id); err != nil {
			t.Fatalf("DeleteUser(%s): %v", id, err)
		}
	}
	if list, err := s.ListUsers(ctx, "rl_a"); err != nil || len(list) != 2 {
		t.Fatalf("ListUsers = %d users, %v; want usr_2, usr_3", len(list), err)
	}
}

// testDeleteUserInTransaction: DeleteUser joins the caller's transaction,
// so a rollback after it leaves everything.
func testDeleteUserInTransaction(t *testing.T, s *storage.Store) {
	userWithTokens(t, s, "usr_1", "sally", "sally@example.com")
	boom := errors.New("boom")
	err := s.InTx(t.Context(), func(ctx context.Context) error {
		if err := s.DeleteUser(ctx, "rl_a", "usr_1"); err != nil {
			return err
		}
		if _, err := s.GetUser(ctx, "rl_a", "usr_1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("in its transaction, the deleted user is still there: %v", err)
		}
		return boom
	})
	wantErrIs(t, "InTx", err, boom)
	wantUserIntact(t, s, "usr_1", "sally", "sally@example.com")
}

func testClearLogins(t *testing.T, s *storage.Store) {
	for _, login := range []string{"sally", "sally@example.com", "bob"} {
		reserve(t, s, login, 3, time.Hour, base)
	}
	if err := s.ClearLogins(t.Context(), "rl_a", "sally", "", "sally@example.com", "sally"); err != nil {
		t.Fatalf("ClearLogins: %v", err)
	}
	for login, want := range map[string]int{"sally": 0, "sally@example.com": 0, "bob": 1} {
		if n, _ := lockoutState(t, s, login, 3, base); n != want {
			t.Errorf("%s has %d slots, want %d", login, n, want)
		}
	}
	if err := s.ClearLogins(t.Context(), "rl_a"); err != nil {
		t.Errorf("ClearLogins(none): %v", err)
	}
}

func testInTransaction(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	if s.InTransaction(ctx) {
		t.Fatal("InTransaction without a transaction")
	}
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Rollback(txCtx) }()
	if !s.InTransaction(txCtx) {
		t.Fatal("InTransaction(BeginTX's context) = false")
	}
	if err := s.InTx(txCtx, func(ctx context.Context) error {
		if !s.InTransaction(ctx) {
			t.Error("InTransaction in a joined transaction = false")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Another store's transaction is not this one's.
	other := OpenSQLite(t)
	if other.InTransaction(txCtx) {
		t.Error("InTransaction of another store = true")
	}
}
