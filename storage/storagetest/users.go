package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// The users repository, run by RunConformance on every backend (the
// lockout primitive is in lockout.go).

// newUser returns a user row with defaults for the fields the test leaves
// empty; the norms are given as they are (the store does not compute them).
func newUser(id, realm, usernameNorm, emailNorm string) *storage.User {
	return &storage.User{
		ID:           id,
		Realm:        realm,
		Username:     usernameNorm,
		UsernameNorm: usernameNorm,
		Email:        emailNorm,
		EmailNorm:    emailNorm,
		FirstName:    "First",
		LastName:     "Last",
		Role:         "user",
		Status:       "active",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		CreatedAt:    base,
		UpdatedAt:    base,
	}
}

func createUser(t *testing.T, s *storage.Store, u *storage.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
}

func testUserRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	want := newUser("usr_1", "rl_a", "sally", "sally@example.com")
	want.Username, want.Email = "Sally", "Sally@Example.com"
	want.FirstName, want.LastName, want.Role = "Sally", "Ride", "admin"
	want.CreatedAt = time.Date(2031, 1, 2, 3, 4, 5, 123456789, east)
	want.UpdatedAt = want.CreatedAt.Add(time.Second)
	createUser(t, s, want)

	got, err := s.GetUser(ctx, "rl_a", "usr_1")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt.Truncate(time.Microsecond))
	checkTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt.Truncate(time.Microsecond))
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	if *got != *want {
		t.Errorf("GetUser = %+v\nwant %+v", got, want)
	}

	// A user without username, e-mail or password (a Work API user).
	wa := newUser("usr_2", "rl_a", "", "")
	wa.ArbitraryID, wa.EnvironmentGUID, wa.PasswordHash = "ext-42", "env-1", ""
	createUser(t, s, wa)
	got, err = s.GetUser(ctx, "rl_a", "usr_2")
	if err != nil || got.Username != "" || got.UsernameNorm != "" || got.Email != "" || got.PasswordHash != "" || got.ArbitraryID != "ext-42" {
		t.Fatalf("GetUser(Work API user) = %+v, %v", got, err)
	}

	for _, tc := range []struct{ realm, id string }{
		{"rl_a", "usr_nope"},
		{"rl_b", "usr_1"}, // another realm's user is not found
	} {
		if _, err := s.GetUser(ctx, tc.realm, tc.id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetUser(%s, %s) = %v, want ErrNotFound", tc.realm, tc.id, err)
		}
	}
}

func testUserFindByLogin(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_1", "rl_a", "sally", "sally@example.com"))
	// bob's username is sally's e-mail: a username match wins.
	createUser(t, s, newUser("usr_2", "rl_a", "sally@example.com", "bob@example.com"))
	createUser(t, s, newUser("usr_3", "rl_b", "sally", "sally@example.com"))

	for _, tc := range []struct {
		name              string
		realm, login      string
		byUsername, email bool
		want              string // "" = not found
	}{
		{"username", "rl_a", "sally", true, false, "usr_1"},
		{"username in another realm", "rl_b", "sally", true, false, "usr_3"},
		{"email", "rl_a", "bob@example.com", false, true, "usr_2"},
		{"email not matched by username", "rl_a", "bob@example.com", true, false, ""},
		{"username not matched by email", "rl_a", "sally", false, true, ""},
		{"either: username wins", "rl_a", "sally@example.com", true, true, "usr_2"},
		{"either: email", "rl_a", "bob@example.com", true, true, "usr_2"},
		{"email only", "rl_a", "sally@example.com", false, true, "usr_1"},
		{"unknown", "rl_a", "nobody", true, true, ""},
		{"unknown realm", "rl_c", "sally", true, true, ""},
		{"case-sensitive: the caller normalises", "rl_a", "Sally", true, true, ""},
		{"empty", "rl_a", "", true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.FindUserByLogin(ctx, tc.realm, tc.login, tc.byUsername, tc.email)
			if tc.want == "" {
				if !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("= %+v, %v; want ErrNotFound", u, err)
				}
				return
			}
			if err != nil || u.ID != tc.want {
				t.Fatalf("= %+v, %v; want %s", u, err, tc.want)
			}
		})
	}

	list, err := s.ListUsers(ctx, "rl_a")
	if err != nil || len(list) != 2 || list[0].ID != "usr_1" || list[1].ID != "usr_2" {
		t.Fatalf("ListUsers(rl_a) = %v, %v; want usr_1, usr_2", list, err)
	}
	if list, err := s.ListUsers(ctx, "rl_none"); err != nil || len(list) != 0 {
		t.Fatalf("ListUsers(unknown realm) = %v, %v; want none", list, err)
	}
}

// testUserUniqueNorms: username_norm and email_norm are unique per realm,
// and empty ones (NULL) never collide.
func testUserUniqueNorms(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_1", "rl_a", "sally", "sally@example.com"))
	for _, tc := range []struct {
		name string
		u    *storage.User
		want error
	}{
		{"same username", newUser("usr_2", "rl_a", "sally", "other@example.com"), storage.ErrUsernameExists},
		{"same email", newUser("usr_3", "rl_a", "other", "sally@example.com"), storage.ErrEmailExists},
		{"username named like a key", newUser("usr_4", "rl_a", "email_norm", "x@example.com"), nil},
		{"the same again", newUser("usr_5", "rl_a", "email_norm", "y@example.com"), storage.ErrUsernameExists},
		{"same id", newUser("usr_1", "rl_a", "new", "new@example.com"), storage.ErrAlreadyExists},
		{"another realm", newUser("usr_6", "rl_b", "sally", "sally@example.com"), nil},
		{"no username or email", newUser("usr_7", "rl_a", "", ""), nil},
		{"no username or email again", newUser("usr_8", "rl_a", "", ""), nil},
		{"no email", newUser("usr_9", "rl_a", "noemail1", ""), nil},
		{"no email again", newUser("usr_10", "rl_a", "noemail2", ""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateUser(ctx, tc.u)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				return
			}
			wantErrIs(t, "CreateUser", err, tc.want)
			wantErrIs(t, "CreateUser", err, storage.ErrAlreadyExists)
		})
	}
	if _, err := s.GetUser(ctx, "rl_a", "usr_2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused user was stored: %v", err)
	}
}

// testUserArbitraryID: arbitrary_id is unique within its environment and
// compared byte for byte — but for trailing spaces, which MySQL's
// utf8mb4_bin ignores (PAD SPACE) and SQLite does not; package accounts
// refuses ids with surrounding white space, so the two never disagree.
func testUserArbitraryID(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	wa := func(id, env, arb string) *storage.User {
		u := newUser(id, "rl_a", "", "")
		u.EnvironmentGUID, u.ArbitraryID = env, arb
		return u
	}
	createUser(t, s, wa("usr_1", "env-1", "abc"))
	wantErrIs(t, "same arbitrary_id, same environment", s.CreateUser(ctx, wa("usr_2", "env-1", "abc")), storage.ErrArbitraryIDExists)
	for _, u := range []*storage.User{
		wa("usr_3", "env-1", "ABC"), // case differs
		wa("usr_5", "env-2", "abc"), // another environment
		wa("usr_6", "ENV-1", "abc"), // environments compare byte for byte too
	} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Errorf("CreateUser(%s, %q, %q): %v", u.ID, u.EnvironmentGUID, u.ArbitraryID, err)
		}
	}
	wantErrIs(t, "arbitrary_id without environment", s.CreateUser(ctx, wa("usr_7", "", "x")), storage.ErrInvalidInput)
}

// testUserCaseSensitiveColumns catches a case-insensitive collation on the
// users table: norms and ids are compared byte for byte (case folding is
// the caller's, in Go), so "Sally" and "sally" as norms are two values.
func testUserCaseSensitiveColumns(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("usr_aB", "rl_a", "sally", "s@example.com"))
	createUser(t, s, newUser("usr_Ab", "rl_a", "Sally", "S@example.com"))
	createUser(t, s, newUser("usr_x", "rl_a", "straße", "x@example.com"))
	createUser(t, s, newUser("usr_y", "rl_a", "strasse", "y@example.com")) // equal under some _ci collations
	createUser(t, s, newUser("usr_z", "rl_A", "sally", "s@example.com"))   // realm ids too
	if u, err := s.GetUser(ctx, "rl_a", "usr_Ab"); err != nil || u.UsernameNorm != "Sally" {
		t.Fatalf("GetUser(usr_Ab) = %+v, %v", u, err)
	}
	if _, err := s.GetUser(ctx, "rl_a", "USR_AB"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser with an id differing in case: %v, want ErrNotFound", err)
	}
	if u, err := s.FindUserByLogin(ctx, "rl_a", "strasse", true, false); err != nil || u.ID != "usr_y" {
		t.Errorf("FindUserByLogin(strasse) = %+v, %v; want usr_y", u, err)
	}
}

func testUserUpdates(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	u := newUser("usr_1", "rl_a", "sally", "")
	createUser(t, s, u)
	later := base.Add(time.Hour)

	if err := s.SetUserStatus(ctx, "rl_a", "usr_1", "deactivated", later); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetUser(ctx, "rl_a", "usr_1")
	if got.Status != "deactivated" {
		t.Errorf("status %q after SetUserStatus", got.Status)
	}
	checkTime(t, "UpdatedAt", got.UpdatedAt, later)
	checkTime(t, "CreatedAt", got.CreatedAt, base)
	// The same status again, at the same instant, is no error (MySQL
	// reports 0 changed rows).
	if err := s.SetUserStatus(ctx, "rl_a", "usr_1", "deactivated", later); err != nil {
		t.Errorf("SetUserStatus to the same status: %v", err)
	}
	for name, err := range map[string]error{
		"SetUserStatus(unknown)":         s.SetUserStatus(ctx, "rl_a", "usr_nope", "active", later),
		"SetUserStatus(another realm)":   s.SetUserStatus(ctx, "rl_b", "usr_1", "active", later),
		"SetUserPassword(unknown)":       s.SetUserPassword(ctx, "rl_a", "usr_nope", "h", later),
		"SetUserPassword(another realm)": s.SetUserPassword(ctx, "rl_b", "usr_1", "h", later),
	} {
		wantErrIs(t, name, err, storage.ErrNotFound)
	}
	wantErrIs(t, "SetUserStatus(empty status)", s.SetUserStatus(ctx, "rl_a", "usr_1", "", later), storage.ErrInvalidInput)
	wantErrIs(t, "SetUserPassword(long hash)", s.SetUserPassword(ctx, "rl_a", "usr_1", strings.Repeat("h", 256), later), storage.ErrInvalidInput)
	if got, _ := s.GetUser(ctx, "rl_b", "usr_1"); got != nil {
		t.Error("an update of another realm's user created one")
	}

	// Passwords: set, replace only if unchanged, remove.
	if err := s.SetUserPassword(ctx, "rl_a", "usr_1", "hash-A", later); err != nil {
		t.Fatal(err)
	}
	ok, err := s.ReplacePasswordHash(ctx, "usr_1", "hash-B", "hash-C")
	if err != nil || ok {
		t.Errorf("ReplacePasswordHash from a hash no longer stored = %v, %v; want false", ok, err)
	}
	ok, err = s.ReplacePasswordHash(ctx, "usr_1", "HASH-A", "hash-C")
	if err != nil || ok {
		t.Errorf("ReplacePasswordHash from a hash differing in case = %v, %v; want false", ok, err)
	}
	ok, err = s.ReplacePasswordHash(ctx, "usr_1", "hash-A", "hash-C")
	if err != nil || !ok {
		t.Errorf("ReplacePasswordHash = %v, %v; want true", ok, err)
	}
	if got, _ := s.GetUser(ctx, "rl_a", "usr_1"); got.PasswordHash != "hash-C" {
		t.Errorf("hash %q, want hash-C", got.PasswordHash)
	}
	if err := s.SetUserPassword(ctx, "rl_a", "usr_1", "", later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, "rl_a", "usr_1"); got.PasswordHash != "" {
		t.Errorf("hash %q after removing the password", got.PasswordHash)
	}
}

func testUserInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	long := strings.Repeat("é", 256)
	for name, mut := range map[string]func(u *storage.User){
		"no id":             func(u *storage.User) { u.ID = "" },
		"no realm":          func(u *storage.User) { u.Realm = "" },
		"no role":           func(u *storage.User) { u.Role = "" },
		"no status":         func(u *storage.User) { u.Status = "" },
		"long username":     func(u *storage.User) { u.Username = long },
		"long email norm":   func(u *storage.User) { u.EmailNorm = long },
		"long first name":   func(u *storage.User) { u.FirstName = long },
		"long role":         func(u *storage.User) { u.Role = strings.Repeat("r", 65) },
		"invalid UTF-8":     func(u *storage.User) { u.LastName = "\xff" },
		"zero created_at":   func(u *storage.User) { u.CreatedAt = time.Time{} },
		"env without arbid": func(u *storage.User) { u.EnvironmentGUID = "env-1" },
	} {
		u := newUser("usr_1", "rl_a", "sally", "")
		mut(u)
		wantErrIs(t, name, s.CreateUser(ctx, u), storage.ErrInvalidInput)
	}
	// 255 characters fit, multi-byte ones too.
	u := newUser("usr_1", "rl_a", strings.Repeat("é", 255), strings.Repeat("ü", 255))
	u.FirstName, u.LastName = strings.Repeat("名", 255), strings.Repeat("x", 255)
	createUser(t, s, u)
	if got, err := s.FindUserByLogin(ctx, "rl_a", strings.Repeat("é", 255), true, false); err != nil || got.FirstName != u.FirstName {
		t.Fatalf("FindUserByLogin(255 characters) = %v, %v", got, err)
	}
}

func testRevokeSubjectExcept(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, g := range []grant{
		{id: "req-1", subject: "usr_a"},
		{id: "req-2", subject: "usr_a"},
		{id: "req-3", subject: "usr_a"},
		{id: "req-4", subject: "usr_b"},
	} {
		r := newRequest(g)
		createAccess(t, s, ctx, sig("at-"+g.id), r)
		createRefresh(t, s, ctx, sig("rt-"+g.id), sig("at-"+g.id), r)
	}
	if err := s.RevokeSubjectExcept(ctx, "usr_a", "req-2"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"req-1", "req-3"} {
		wantNoAccess(t, s, sig("at-"+id))
		wantRefresh(t, s, sig("rt-"+id), "inactive")
	}
	wantAccess(t, s, sig("at-req-2"))
	wantRefresh(t, s, sig("rt-req-2"), "active")
	wantAccess(t, s, sig("at-req-4"))
	wantRefresh(t, s, sig("rt-req-4"), "active")

	// An empty keep revokes every grant; a keep of another subject's grant
	// spares nothing of this one.
	if err := s.RevokeSubjectExcept(ctx, "usr_b", "req-2"); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-req-4"))
	wantRefresh(t, s, sig("rt-req-4"), "inactive")
	if err := s.RevokeSubjectExcept(ctx, "usr_a", ""); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-req-2"))
	wantRefresh(t, s, sig("rt-req-2"), "inactive")
	if err := s.RevokeSubjectExcept(ctx, "usr_nobody", "req-x"); err != nil {
		t.Errorf("RevokeSubjectExcept(unknown): %v", err)
	}

	// In a transaction that rolls back, nothing is revoked.
	r := newRequest(grant{id: "req-5", subject: "usr_c"})
	createAccess(t, s, ctx, sig("at-req-5"), r)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.RevokeSubjectExcept(ctx, "usr_c", "req-other"); err != nil {
			return err
		}
		return boom
	})
	wantErrIs(t, "InTx", err, boom)
	wantAccess(t, s, sig("at-req-5"))
}
