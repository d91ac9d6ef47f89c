package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// Signup tokens: what a person typed while signing up, kept until it
// becomes a user (exactly once, voiding its siblings), is discarded or
// expires. Run by RunConformance on every backend.

func testSignupTokens(t *testing.T, s *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"RoundTrip", testSignupRoundTrip},
		{"CaseSensitiveIDs", testSignupCaseSensitiveIDs},
		{"InvalidInput", testSignupInvalidInput},
		{"Delete", testSignupDelete},
		{"Consume", testSignupConsume},
		{"ConsumeRollsBack", testSignupConsumeRollsBack},
		{"ConsumeConcurrent", testSignupConsumeConcurrent},
		{"Purge", testSignupPurge},
	} {
		// One store for the group: each test uses its own realm.
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
	t.Run("ClosedStore", func(t *testing.T) { testSignupClosedStore(t, s) })
}

// newSignup returns a signup token of realm for usernameNorm, created at
// base and expiring an hour later.
func newSignup(id, realm, usernameNorm string) *storage.SignupToken {
	return &storage.SignupToken{
		ID:             id,
		Realm:          realm,
		Username:       usernameNorm,
		UsernameNorm:   usernameNorm,
		Email:          usernameNorm + "@example.com",
		EmailNorm:      usernameNorm + "@example.com",
		FirstName:      "First",
		LastName:       "Last",
		CredentialType: "password",
		PasswordHash:   "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		CreatedAt:      base,
		ExpiresAt:      base.Add(time.Hour),
	}
}

func createSignup(t *testing.T, s *storage.Store, tok *storage.SignupToken) {
	t.Helper()
	if err := s.CreateSignupToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateSignupToken(%s): %v", tok.ID, err)
	}
}

// signupState reports "live" or "missing" for the token at base.
func signupState(t *testing.T, s *storage.Store, realm, id string) string {
	t.Helper()
	_, err := s.GetSignupToken(t.Context(), realm, id, base)
	switch {
	case err == nil:
		return "live"
	case errors.Is(err, storage.ErrNotFound):
		return "missing"
	}
	t.Fatalf("GetSignupToken(%s): %v", id, err)
	return ""
}

func wantSignup(t *testing.T, s *storage.Store, realm, id, want string) {
	t.Helper()
	if got := signupState(t, s, realm, id); got != want {
		t.Errorf("signup token %s is %s, want %s", id, got, want)
	}
}

func testSignupRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	east := time.FixedZone("UTC+05:30", 5*3600+30*60)
	want := newSignup("utk_RoundTrip00000000000001", "rl_rt", "sally")
	want.Username, want.Email = "Sally", "Sally@Example.com"
	want.CreatedAt = time.Date(2031, 5, 6, 12, 0, 0, 123456789, east)
	want.ExpiresAt = want.CreatedAt.Add(24 * time.Hour)
	createSignup(t, s, want)

	got, err := s.GetSignupToken(ctx, "rl_rt", want.ID, want.CreatedAt)
	if err != nil {
		t.Fatalf("GetSignupToken: %v", err)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt.Truncate(time.Microsecond))
	checkTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt.Truncate(time.Microsecond))
	got.CreatedAt, got.ExpiresAt = want.CreatedAt, want.ExpiresAt
	if *got != *want {
		t.Errorf("GetSignupToken = %+v\nwant %+v", got, want)
	}

	// No e-mail and no names (a realm where the username is the e-mail
	// keeps both; this checks that empty values round-trip).
	bare := newSignup("utk_RoundTrip00000000000002", "rl_rt", "bare")
	bare.Email, bare.EmailNorm, bare.FirstName, bare.LastName = "", "", "", ""
	createSignup(t, s, bare)
	got, err = s.GetSignupToken(ctx, "rl_rt", bare.ID, base)
	if err != nil || got.Email != "" || got.EmailNorm != "" || got.FirstName != "" || got.LastName != "" {
		t.Fatalf("GetSignupToken(bare) = %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name, realm, id string
		now             time.Time
	}{
		{"unknown", "rl_rt", "utk_nope", base},
		{"another realm", "rl_other", want.ID, want.CreatedAt},
		{"at its expiry", "rl_rt", want.ID, want.ExpiresAt},
		{"after its expiry", "rl_rt", want.ID, want.ExpiresAt.Add(time.Microsecond)},
		{"an id longer than the column", "rl_rt", strings.Repeat("x", 65), base},
	} {
		if _, err := s.GetSignupToken(ctx, tc.realm, tc.id, tc.now); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetSignupToken(%s) = %v, want ErrNotFound", tc.name, err)
		}
	}
	if _, err := s.GetSignupToken(ctx, "rl_rt", want.ID, want.ExpiresAt.Add(-time.Microsecond)); err != nil {
		t.Errorf("GetSignupToken a microsecond before expiry: %v", err)
	}
	if err := s.CreateSignupToken(ctx, newSignup(want.ID, "rl_rt", "other")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateSignupToken of a taken id = %v, want ErrAlreadyExists", err)
	}
}

// testSignupCaseSensitiveIDs: ids differing only in case are two tokens
// (utf8mb4_bin on MySQL, whatever the database's default collation).
func testSignupCaseSensitiveIDs(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	lower := newSignup("utk_aB000000000000000000000", "rl_case", "alice")
	upper := newSignup("utk_Ab000000000000000000000", "rl_case", "bob")
	createSignup(t, s, lower)
	createSignup(t, s, upper)
	for _, tok := range []*storage.SignupToken{lower, upper} {
		got, err := s.GetSignupToken(ctx, "rl_case", tok.ID, base)
		if err != nil || got.ID != tok.ID || got.Username != tok.Username {
			t.Errorf("GetSignupToken(%s) = %+v, %v; want %s's token", tok.ID, got, err, tok.Username)
		}
	}
	if _, err := s.GetSignupToken(ctx, "rl_case", "utk_AB000000000000000000000", base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSignupToken(utk_AB…) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSignupToken(ctx, "rl_case", lower.ID, base); err != nil {
		t.Fatal(err)
	}
	wantSignup(t, s, "rl_case", upper.ID, "live")
	if _, _, err := s.ConsumeSignupToken(ctx, "rl_case", "utk_ab000000000000000000000", base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ConsumeSignupToken(utk_ab…) = %v, want ErrNotFound", err)
	}
	wantSignup(t, s, "rl_case", upper.ID, "live")
	// The realm is compared byte for byte too.
	if _, err := s.GetSignupToken(ctx, "RL_CASE", upper.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSignupToken in realm RL_CASE = %v, want ErrNotFound", err)
	}
}

func testSignupInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	long := strings.Repeat("é", 256)
	for name, mutate := range map[string]func(*storage.SignupToken){
		"no id":                  func(x *storage.SignupToken) { x.ID = "" },
		"long id":                func(x *storage.SignupToken) { x.ID = strings.Repeat("u", 65) },
		"no realm":               func(x *storage.SignupToken) { x.Realm = "" },
		"no username":            func(x *storage.SignupToken) { x.Username = "" },
		"no username_norm":       func(x *storage.SignupToken) { x.UsernameNorm = "" },
		"long username":          func(x *storage.SignupToken) { x.Username = long },
		"long email":             func(x *storage.SignupToken) { x.Email = long },
		"long first_name":        func(x *storage.SignupToken) { x.FirstName = long },
		"invalid UTF-8":          func(x *storage.SignupToken) { x.LastName = "\xff" },
		"no credential_type":     func(x *storage.SignupToken) { x.CredentialType = "" },
		"no password hash":       func(x *storage.SignupToken) { x.PasswordHash = "" },
		"long password hash":     func(x *storage.SignupToken) { x.PasswordHash = strings.Repeat("h", 256) },
		"zero created_at":        func(x *storage.SignupToken) { x.CreatedAt = time.Time{} },
		"zero expires_at":        func(x *storage.SignupToken) { x.ExpiresAt = time.Time{} },
		"long credential_type":   func(x *storage.SignupToken) { x.CredentialType = strings.Repeat("c", 33) },
		"long username_norm":     func(x *storage.SignupToken) { x.UsernameNorm = long },
		"long email_norm":        func(x *storage.SignupToken) { x.EmailNorm = long },
		"long last_name (ASCII)": func(x *storage.SignupToken) { x.LastName = strings.Repeat("l", 256) },
	} {
		tok := newSignup("utk_Invalid0000000000000001", "rl_invalid", "ivan")
		mutate(tok)
		if err := s.CreateSignupToken(ctx, tok); !errors.Is(err, storage.ErrInvalidInput) {
			t.Errorf("%s: CreateSignupToken = %v, want ErrInvalidInput", name, err)
		}
	}
	// 255 characters of 2 bytes each fit.
	ok := newSignup("utk_Invalid0000000000000002", "rl_invalid", strings.Repeat("é", 255))
	ok.Username = strings.Repeat("é", 255)
	ok.Email, ok.EmailNorm = "ivan@example.com", "ivan@example.com"
	createSignup(t, s, ok)
	for _, op := range []func() error{
		func() error { return s.DeleteSignupToken(ctx, "rl_invalid", strings.Repeat("u", 65), base) },
		func() error {
			_, _, err := s.ConsumeSignupToken(ctx, "rl_invalid", strings.Repeat("u", 65), base)
			return err
		},
	} {
		if err := op(); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a long id = %v, want ErrNotFound", err)
		}
	}
}

func testSignupDelete(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	tok := newSignup("utk_Delete00000000000000001", "rl_del", "dora")
	sibling := newSignup("utk_Delete00000000000000002", "rl_del", "dora")
	expired := newSignup("utk_Delete00000000000000003", "rl_del", "dora")
	expired.ExpiresAt = base
	for _, x := range []*storage.SignupToken{tok, sibling, expired} {
		createSignup(t, s, x)
	}
	if err := s.DeleteSignupToken(ctx, "rl_other", tok.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteSignupToken from another realm = %v, want ErrNotFound", err)
	}
	wantSignup(t, s, "rl_del", tok.ID, "live")
	if err := s.DeleteSignupToken(ctx, "rl_del", tok.ID, base); err != nil {
		t.Fatalf("DeleteSignupToken: %v", err)
	}
	wantSignup(t, s, "rl_del", tok.ID, "missing")
	wantSignup(t, s, "rl_del", sibling.ID, "live") // a discard voids no sibling
	if err := s.DeleteSignupToken(ctx, "rl_del", tok.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteSignupToken = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSignupToken(ctx, "rl_del", expired.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("DeleteSignupToken of an expired token = %v, want ErrNotFound", err)
	}
}

func testSignupConsume(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	tok := newSignup("utk_Consume0000000000000001", "rl_con", "carol")
	sib1 := newSignup("utk_Consume0000000000000002", "rl_con", "carol")
	sib2 := newSignup("utk_Consume0000000000000003", "rl_con", "carol")
	sib2.ExpiresAt = base.Add(-time.Minute) // expired siblings go too
	other := newSignup("utk_Consume0000000000000004", "rl_con", "carl")
	elsewhere := newSignup("utk_Consume0000000000000005", "rl_con2", "carol")
	expired := newSignup("utk_Consume0000000000000006", "rl_con", "eve")
	expired.ExpiresAt = base
	for _, x := range []*storage.SignupToken{tok, sib1, sib2, other, elsewhere, expired} {
		createSignup(t, s, x)
	}

	if _, _, err := s.ConsumeSignupToken(ctx, "rl_con2", tok.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ConsumeSignupToken from another realm = %v, want ErrNotFound", err)
	}
	if _, _, err := s.ConsumeSignupToken(ctx, "rl_con", expired.ID, base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ConsumeSignupToken of an expired token = %v, want ErrNotFound", err)
	}
	got, voided, err := s.ConsumeSignupToken(ctx, "rl_con", tok.ID, base)
	if err != nil {
		t.Fatalf("ConsumeSignupToken: %v", err)
	}
	if got.ID != tok.ID || got.PasswordHash != tok.PasswordHash || got.UsernameNorm != "carol" || voided != 2 {
		t.Errorf("ConsumeSignupToken = %+v, %d voided; want the token and 2 voided", got, voided)
	}
	for _, x := range []*storage.SignupToken{tok, sib1} {
		wantSignup(t, s, "rl_con", x.ID, "missing")
	}
	wantSignup(t, s, "rl_con", other.ID, "live")
	wantSignup(t, s, "rl_con2", elsewhere.ID, "live")
	// Consumed once: the token again, or a sibling, is not found.
	for _, id := range []string{tok.ID, sib1.ID} {
		if _, _, err := s.ConsumeSignupToken(ctx, "rl_con", id, base); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ConsumeSignupToken(%s) after conversion = %v, want ErrNotFound", id, err)
		}
	}
}

// testSignupConsumeRollsBack: a consumption in a transaction that rolls
// back (the user's insert failed) leaves the token and its siblings.
func testSignupConsumeRollsBack(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	tok := newSignup("utk_Rollback000000000000001", "rl_rb", "rita")
	sib := newSignup("utk_Rollback000000000000002", "rl_rb", "rita")
	createSignup(t, s, tok)
	createSignup(t, s, sib)
	boom := errors.New("the user's insert failed")
	err := s.InTx(ctx, func(ctx context.Context) error {
		if _, _, err := s.ConsumeSignupToken(ctx, "rl_rb", tok.ID, base); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want the injected failure", err)
	}
	wantSignup(t, s, "rl_rb", tok.ID, "live")
	wantSignup(t, s, "rl_rb", sib.ID, "live")
}

// testSignupConsumeConcurrent: concurrent conversions of one token and of
// its siblings, each in a transaction that also inserts the user: exactly
// one wins each round, the others find nothing (never a deadlock or
// another error), and one user exists.
func testSignupConsumeConcurrent(t *testing.T, s *storage.Store) {
	const rounds, tokens, perToken = 8, 3, 3
	for round := range rounds {
		realm := fmt.Sprintf("rl_race_%d", round)
		ids := make([]string, tokens)
		for i := range ids {
			ids[i] = fmt.Sprintf("utk_Race%02d%017d", round, i)
			createSignup(t, s, newSignup(ids[i], realm, "racer"))
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			wins     int
			failures []error
		)
		for i := range tokens * perToken {
			wg.Go(func() {
				err := s.InTx(t.Context(), func(ctx context.Context) error {
					tok, _, err := s.ConsumeSignupToken(ctx, realm, ids[i%tokens], base)
					if err != nil {
						return err
					}
					u := newUser(fmt.Sprintf("usr_race_%d_%d", round, i), realm, tok.UsernameNorm, tok.EmailNorm)
					u.PasswordHash = tok.PasswordHash
					return s.CreateUser(ctx, u)
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, storage.ErrNotFound):
					failures = append(failures, err)
				}
			})
		}
		wg.Wait()
		for _, err := range failures {
			t.Errorf("round %d: a concurrent conversion failed otherwise than ErrNotFound: %v", round, err)
		}
		if wins != 1 {
			t.Errorf("round %d: %d conversions won, want exactly 1", round, wins)
		}
		if users, err := s.ListUsers(t.Context(), realm); err != nil || len(users) != 1 {
			t.Errorf("round %d: %d users (%v), want 1", round, len(users), err)
		}
		for _, id := range ids {
			wantSignup(t, s, realm, id, "missing")
		}
	}
}

func testSignupPurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	// The group shares one store: other tests' expired rows may go too.
	for i := range 12 {
		tok := newSignup(fmt.Sprintf("utk_Purge%018d", i), "rl_purge", fmt.Sprint("p", i))
		tok.ExpiresAt = base.Add(-time.Duration(i+1) * time.Minute)
		createSignup(t, s, tok)
	}
	live := newSignup("utk_PurgeLive0000000000001", "rl_purge", "live")
	createSignup(t, s, live)
	n, err := s.PurgeExpired(ctx, base.Add(-30*time.Second), 5) // batches smaller than the count
	if err != nil {
		t.Fatal(err)
	}
	if n < 12 {
		t.Errorf("PurgeExpired deleted %d rows, want at least the 12 expired signup tokens", n)
	}
	for i := range 12 {
		if _, err := s.GetSignupToken(ctx, "rl_purge", fmt.Sprintf("utk_Purge%018d", i), base.Add(-time.Hour)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired signup token %d survived the purge: %v", i, err)
		}
	}
	wantSignup(t, s, "rl_purge", live.ID, "live")
}

// testSignupClosedStore: with the database gone, every method errors —
// never a panic, never "not found".
func testSignupClosedStore(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createSignup(t, s, newSignup("utk_Closed00000000000000001", "rl_closed", "cleo"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func() error{
		"CreateSignupToken": func() error {
			return s.CreateSignupToken(ctx, newSignup("utk_Closed00000000000000002", "rl_closed", "cleo"))
		},
		"GetSignupToken": func() error {
			_, err := s.GetSignupToken(ctx, "rl_closed", "utk_Closed00000000000000001", base)
			return err
		},
		"DeleteSignupToken": func() error { return s.DeleteSignupToken(ctx, "rl_closed", "utk_Closed00000000000000001", base) },
		"ConsumeSignupToken": func() error {
			_, _, err := s.ConsumeSignupToken(ctx, "rl_closed", "utk_Closed00000000000000001", base)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panicked on a closed store: %v", p)
					}
				}()
				err = check()
			}()
			if err == nil || errors.Is(err, fosite.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("on a closed store: %v, want a storage failure", err)
			}
		})
	}
}
