package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Credentials (a user's ways to log in, with a uuid, a name and a status)
// and one-time codes (hashed, short-lived, single-use, a bounded number of
// attempts). Run by RunConformance on every backend.

func testCredentialsAndCodes(t *testing.T, s *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"CredentialRoundTrip", testCredentialRoundTrip},
		{"EnsurePasswordCredential", testEnsurePasswordCredential},
		{"RevokeCredential", testRevokeCredential},
		{"RevokeCredentialConcurrent", testRevokeCredentialConcurrent},
		{"CodeUse", testCodeUse},
		{"CodeAttemptsConcurrent", testCodeAttemptsConcurrent},
		{"CodeDeleteAndPurge", testCodeDeleteAndPurge},
		{"DeleteUserTakesCredentialsAndCodes", testDeleteUserTakesCredentialsAndCodes},
	} {
		// One store for the group: each test uses its own realm.
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

func newCredential(uuid, realm, userID, typ string) *storage.Credential {
	return &storage.Credential{UUID: uuid, Realm: realm, UserID: userID, Type: typ, Name: "Key " + uuid[:4],
		Status: storage.CredentialActive, CreatedAt: base, UpdatedAt: base}
}

func createCredential(t *testing.T, s *storage.Store, c *storage.Credential) {
	t.Helper()
	if err := s.CreateCredential(t.Context(), c); err != nil {
		t.Fatalf("create credential %s: %v", c.UUID, err)
	}
}

func testCredentialRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cred_rt"
	createUser(t, s, newUser("usr_cred_rt", realm, "credrt", ""))
	a := newCredential("aaaaaaaa-0000-8000-8000-000000000001", realm, "usr_cred_rt", storage.CredentialPassword)
	b := newCredential("AAAAAAAA-0000-8000-8000-000000000001", realm, "usr_cred_rt", storage.CredentialFIDO2)
	b.CreatedAt = base.Add(time.Second)
	createCredential(t, s, a)
	createCredential(t, s, b) // uuids are case-sensitive
	wantErrIs(t, "a duplicate uuid", s.CreateCredential(ctx, a), storage.ErrAlreadyExists)
	list, err := s.ListCredentials(ctx, realm, "usr_cred_rt")
	if err != nil || len(list) != 2 || list[0].UUID != a.UUID || list[1].UUID != b.UUID || list[1].Type != storage.CredentialFIDO2 {
		t.Fatalf("list: %v %+v", err, list)
	}
	checkTime(t, "created_at", list[0].CreatedAt, base)
	if got, err := s.GetCredential(ctx, realm, b.UUID); err != nil || got.Name != b.Name || got.UserID != "usr_cred_rt" {
		t.Fatalf("get: %v %+v", err, got)
	}
	_, err = s.GetCredential(ctx, "rl_other_realm", a.UUID)
	wantErrIs(t, "another realm's credential", err, storage.ErrNotFound)
	_, err = s.GetCredential(ctx, realm, strings.Repeat("a", 37))
	wantErrIs(t, "an over-long uuid", err, storage.ErrNotFound)

	got, err := s.RenameCredential(ctx, realm, a.UUID, "Laptop ✓", base.Add(time.Minute))
	if err != nil || got.Name != "Laptop ✓" {
		t.Fatalf("rename: %v %+v", err, got)
	}
	checkTime(t, "updated_at after rename", got.UpdatedAt, base.Add(time.Minute))
	_, err = s.RenameCredential(ctx, realm, "nope", "x", base)
	wantErrIs(t, "rename unknown", err, storage.ErrNotFound)
	_, err = s.RenameCredential(ctx, realm, a.UUID, strings.Repeat("n", 256), base)
	wantErrIs(t, "rename to an over-long name", err, storage.ErrInvalidInput)
	bad := newCredential("bbbbbbbb-0000-8000-8000-000000000001", realm, "", storage.CredentialFIDO2)
	wantErrIs(t, "a credential without user", s.CreateCredential(ctx, bad), storage.ErrInvalidInput)

	if err := s.DeleteCredentials(ctx, realm, "usr_cred_rt"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListCredentials(ctx, realm, "usr_cred_rt"); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %v %+v", err, list)
	}
}

func testEnsurePasswordCredential(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cred_ensure"
	withPW := newUser("usr_ensure_pw", realm, "ensurepw", "")
	noPW := newUser("usr_ensure_none", realm, "ensurenone", "")
	noPW.PasswordHash = ""
	createUser(t, s, withPW)
	createUser(t, s, noPW)
	c := newCredential("cccccccc-0000-8000-8000-000000000001", realm, withPW.ID, storage.CredentialPassword)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.EnsurePasswordCredential(ctx, c) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent ensure: %v", err)
		}
	}
	list, err := s.ListCredentials(ctx, realm, withPW.ID)
	if err != nil || len(list) != 1 || list[0].Type != storage.CredentialPassword {
		t.Fatalf("after ensure: %v %+v", err, list)
	}
	// A renamed row is kept as it is.
	if _, err := s.RenameCredential(ctx, realm, c.UUID, "Mine", base); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsurePasswordCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetCredential(ctx, realm, c.UUID); got == nil || got.Name != "Mine" {
		t.Fatalf("ensure changed an existing row: %+v", got)
	}
	// No password, no credential; another realm's user, none either.
	for _, cc := range []*storage.Credential{
		newCredential("dddddddd-0000-8000-8000-000000000001", realm, noPW.ID, storage.CredentialPassword),
		newCredential("eeeeeeee-0000-8000-8000-000000000001", "rl_elsewhere", withPW.ID, storage.CredentialPassword),
	} {
		if err := s.EnsurePasswordCredential(ctx, cc); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetCredential(ctx, cc.Realm, cc.UUID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("ensure wrote a credential for %s/%s: %v", cc.Realm, cc.UserID, err)
		}
	}
	wantErrIs(t, "ensure of a passkey", s.EnsurePasswordCredential(ctx, newCredential("ffffffff-0000-8000-8000-000000000001", realm, withPW.ID, storage.CredentialFIDO2)), storage.ErrInvalidInput)
}

func testRevokeCredential(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cred_revoke"
	u := newUser("usr_revoke", realm, "revoker", "")
	createUser(t, s, u)
	pw := newCredential("11111111-0000-8000-8000-000000000001", realm, u.ID, storage.CredentialPassword)
	key := newCredential("22222222-0000-8000-8000-000000000001", realm, u.ID, storage.CredentialFIDO2)
	createCredential(t, s, key)
	// The password has no row yet, but counts: the passkey is not the last.
	got, err := s.RevokeCredential(ctx, realm, key.UUID, base.Add(time.Minute))
	if err != nil || got.Status != storage.CredentialRevoked {
		t.Fatalf("revoke the passkey beside an unwritten password: %v %+v", err, got)
	}
	if again, err := s.RevokeCredential(ctx, realm, key.UUID, base.Add(2*time.Minute)); err != nil || again.Status != storage.CredentialRevoked {
		t.Fatalf("revoke again: %v %+v", err, again)
	}
	if err := s.EnsurePasswordCredential(ctx, pw); err != nil {
		t.Fatal(err)
	}
	_, err = s.RevokeCredential(ctx, realm, pw.UUID, base)
	wantErrIs(t, "revoke the last active credential", err, storage.ErrLastCredential)
	_, err = s.RevokeCredential(ctx, realm, "nope", base)
	wantErrIs(t, "revoke unknown", err, storage.ErrNotFound)

	// With another active credential, revoking the password removes it.
	createCredential(t, s, newCredential("33333333-0000-8000-8000-000000000001", realm, u.ID, storage.CredentialFIDO2))
	if got, err := s.RevokeCredential(ctx, realm, pw.UUID, base); err != nil || got.Status != storage.CredentialRevoked {
		t.Fatalf("revoke the password: %v %+v", err, got)
	}
	after, err := s.FindUserByLogin(ctx, realm, "revoker", true, false)
	if err != nil || after.PasswordHash != "" {
		t.Fatalf("a revoked password must be gone: %v %q", err, after.PasswordHash)
	}
}

// Of concurrent revocations of a user's two active credentials, one wins:
// the user keeps one.
func testRevokeCredentialConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for round := range 5 {
		realm := fmt.Sprintf("rl_cred_race_%d", round)
		u := newUser(fmt.Sprintf("usr_cred_race_%d", round), realm, "racer", "")
		u.PasswordHash = ""
		createUser(t, s, u)
		uuids := []string{fmt.Sprintf("44444444-0000-8000-8000-%012d", round), fmt.Sprintf("55555555-0000-8000-8000-%012d", round)}
		for _, id := range uuids {
			createCredential(t, s, newCredential(id, realm, u.ID, storage.CredentialFIDO2))
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.RevokeCredential(ctx, realm, uuids[i], base) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrLastCredential) && !storage.IsRetryable(err):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		list, _ := s.ListCredentials(ctx, realm, u.ID)
		active := 0
		for _, c := range list {
			if c.Status == storage.CredentialActive {
				active++
			}
		}
		if wins > 1 || active != 2-wins || active < 1 {
			t.Fatalf("round %d: %d revocations won, %d credentials active", round, wins, active)
		}
	}
}

func newCode(id, realm, userID, purpose, hash string) *storage.OneTimeCode {
	return &storage.OneTimeCode{ID: id, Realm: realm, UserID: userID, Purpose: purpose, CodeHash: hash, CreatedAt: base, ExpiresAt: base.Add(5 * time.Minute)}
}

func testCodeUse(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_codes"
	h1, h2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if err := s.CreateOneTimeCode(ctx, newCode("otc_1", realm, "usr_c", "temporary_authentication", h1)); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "a duplicate id", s.CreateOneTimeCode(ctx, newCode("otc_1", realm, "usr_c", "temporary_authentication", h1)), storage.ErrAlreadyExists)
	wantErrIs(t, "a code without hash", s.CreateOneTimeCode(ctx, newCode("otc_x", realm, "usr_c", "temporary_authentication", "")), storage.ErrInvalidInput)
	if err := s.CreateOneTimeCode(ctx, newCode("otc_2", realm, "usr_c", "add_credential", h2)); err != nil {
		t.Fatal(err)
	}
	now := base.Add(time.Minute)
	// Wrong code: counted, refused.
	_, err := s.UseOneTimeCode(ctx, realm, "usr_c", "temporary_authentication", h2, now, 5, storage.CodeConsume)
	wantErrIs(t, "a wrong code", err, storage.ErrCodeMismatch)
	// Another user's, realm's or purpose's codes are not tried.
	for _, c := range [][3]string{{realm, "usr_other", "temporary_authentication"}, {"rl_elsewhere", "usr_c", "temporary_authentication"}, {realm, "usr_c", "no_purpose"}} {
		_, err := s.UseOneTimeCode(ctx, c[0], c[1], c[2], h1, now, 5, storage.CodeConsume)
		wantErrIs(t, "a code of "+strings.Join(c[:], "/"), err, storage.ErrNotFound)
	}
	// After expiry: not found.
	_, err = s.UseOneTimeCode(ctx, realm, "usr_c", "temporary_authentication", h1, base.Add(5*time.Minute), 5, storage.CodeConsume)
	wantErrIs(t, "an expired code", err, storage.ErrNotFound)
	// Right code: consumed, once.
	got, err := s.UseOneTimeCode(ctx, realm, "usr_c", "temporary_authentication", h1, now, 5, storage.CodeConsume)
	if err != nil || got.ID != "otc_1" || got.Attempts != 2 {
		t.Fatalf("use: %v %+v", err, got)
	}
	_, err = s.UseOneTimeCode(ctx, realm, "usr_c", "temporary_authentication", h1, now, 5, storage.CodeConsume)
	wantErrIs(t, "a used code", err, storage.ErrNotFound)
	// Redeeming a code not authorized yet is refused and keeps it.
	_, err = s.UseOneTimeCode(ctx, realm, "usr_c", "add_credential", h2, now, 5, storage.CodeRedeemAuthorized)
	wantErrIs(t, "redeeming a code not authorized", err, storage.ErrCodeNotAuthorized)
	// Authorize (not consume): marked, and still there; returned as read.
	for i := range 2 {
		got, err := s.UseOneTimeCode(ctx, realm, "usr_c", "add_credential", h2, now, 5, storage.CodeAuthorize)
		if err != nil || got.Authorized != (i == 1) {
			t.Fatalf("authorize %d: %v %+v", i, err, got)
		}
	}
	// Redeeming the authorized code deletes it: once.
	if got, err := s.UseOneTimeCode(ctx, realm, "usr_c", "add_credential", h2, now, 5, storage.CodeRedeemAuthorized); err != nil || !got.Authorized {
		t.Fatalf("redeem an authorized code: %v %+v", err, got)
	}
	_, err = s.UseOneTimeCode(ctx, realm, "usr_c", "add_credential", h2, now, 5, storage.CodeRedeemAuthorized)
	wantErrIs(t, "redeeming a redeemed code", err, storage.ErrNotFound)
	// The attempt limit: after 5 attempts even the right code is refused.
	if err := s.CreateOneTimeCode(ctx, newCode("otc_3", realm, "usr_d", "temporary_authentication", h1)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := s.UseOneTimeCode(ctx, realm, "usr_d", "temporary_authentication", h2, now, 5, storage.CodeConsume)
		wantErrIs(t, fmt.Sprintf("wrong attempt %d", i+1), err, storage.ErrCodeMismatch)
	}
	_, err = s.UseOneTimeCode(ctx, realm, "usr_d", "temporary_authentication", h1, now, 5, storage.CodeConsume)
	wantErrIs(t, "the right code after 5 attempts", err, storage.ErrNotFound)
}

// Parallel wrong guesses cannot outrun the limit: of 20 at once, 5 are
// counted, the rest find no live code.
func testCodeAttemptsConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_codes_race"
	if err := s.CreateOneTimeCode(ctx, newCode("otc_race", realm, "usr_r", "temporary_authentication", strings.Repeat("c", 64))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for range 20 {
		wg.Go(func() {
			_, err := s.UseOneTimeCode(ctx, realm, "usr_r", "temporary_authentication", strings.Repeat("d", 64), base.Add(time.Minute), 5, storage.CodeConsume)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, storage.ErrCodeMismatch):
				counts["counted"]++
			case errors.Is(err, storage.ErrNotFound):
				counts["exhausted"]++
			case storage.IsRetryable(err):
				counts["retry"]++
			default:
				t.Errorf("a concurrent attempt: %v", err)
			}
		})
	}
	wg.Wait()
	if counts["counted"] > 5 || counts["counted"]+counts["exhausted"]+counts["retry"] != 20 {
		t.Fatalf("20 parallel wrong attempts: %v, want at most 5 counted", counts)
	}
	_, err := s.UseOneTimeCode(ctx, realm, "usr_r", "temporary_authentication", strings.Repeat("c", 64), base.Add(time.Minute), 5, storage.CodeConsume)
	if counts["counted"] == 5 {
		wantErrIs(t, "the right code after the limit", err, storage.ErrNotFound)
	}
}

func testCodeDeleteAndPurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_codes_del"
	for i, p := range []string{"temporary_authentication", "add_credential", "add_credential"} {
		if err := s.CreateOneTimeCode(ctx, newCode(fmt.Sprintf("otc_del_%d", i), realm, "usr_del", p, strings.Repeat("e", 64))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteOneTimeCodes(ctx, realm, "usr_del", "add_credential"); err != nil || n != 2 {
		t.Fatalf("delete by purpose: %d %v", n, err)
	}
	if n, err := s.DeleteOneTimeCodes(ctx, realm, "usr_del", ""); err != nil || n != 1 {
		t.Fatalf("delete all: %d %v", n, err)
	}
	old := newCode("otc_old", realm, "usr_del", "add_credential", strings.Repeat("f", 64))
	old.ExpiresAt = base.Add(-time.Minute)
	live := newCode("otc_live", realm, "usr_del", "add_credential", strings.Repeat("f", 64))
	for _, c := range []*storage.OneTimeCode{old, live} {
		if err := s.CreateOneTimeCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PurgeExpired(ctx, base, 100); err != nil || n < 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := s.UseOneTimeCode(ctx, realm, "usr_del", "add_credential", strings.Repeat("f", 64), base, 5, storage.CodeAuthorize); err != nil {
		t.Fatalf("purge took a live code: %v", err)
	}
}

// Deleting a user, by whatever route, deletes their credentials, codes,
// browser sessions and consents in the same transaction, and no one else's.
func testDeleteUserTakesCredentialsAndCodes(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cred_delete"
	gone, kept := newUser("usr_gone", realm, "gone", ""), newUser("usr_kept", realm, "kept", "")
	createUser(t, s, gone)
	createUser(t, s, kept)
	createCredential(t, s, newCredential("dddddddd-0000-8000-8000-000000000001", realm, gone.ID, storage.CredentialPassword))
	createCredential(t, s, newCredential("dddddddd-0000-8000-8000-000000000002", realm, kept.ID, storage.CredentialPassword))
	hash := strings.Repeat("d", 64)
	for _, c := range []*storage.OneTimeCode{
		newCode("otc_gone", realm, gone.ID, "add_credential", hash),
		newCode("otc_kept", realm, kept.ID, "add_credential", hash),
	} {
		if err := s.CreateOneTimeCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []*storage.User{gone, kept} {
		sess := &storage.BrowserSession{IDHash: sig("session-" + u.ID), SID: "sid-" + u.ID, Realm: realm, UserID: u.ID,
			Username: u.Username, AuthTime: base, LastSeen: base, ExpiresAt: base.Add(time.Hour)}
		if err := s.CreateBrowserSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConsent(ctx, realm, u.ID, "web", []string{"openid"}, base); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, realm, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBrowserSession(ctx, sig("session-"+gone.ID)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("browser session of the deleted user: %v, want ErrNotFound", err)
	}
	if _, err := s.GetConsent(ctx, realm, gone.ID, "web"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("consent of the deleted user: %v, want ErrNotFound", err)
	}
	if _, err := s.GetBrowserSession(ctx, sig("session-"+kept.ID)); err != nil {
		t.Errorf("browser session of another user: %v", err)
	}
	if list, err := s.ListCredentials(ctx, realm, gone.ID); err != nil || len(list) != 0 {
		t.Errorf("credentials of the deleted user: %v %v", list, err)
	}
	if list, err := s.ListCredentials(ctx, realm, kept.ID); err != nil || len(list) != 1 {
		t.Errorf("credentials of another user: %v %v", list, err)
	}
	if n, err := s.DeleteOneTimeCodes(ctx, realm, gone.ID, ""); err != nil || n != 0 {
		t.Errorf("codes of the deleted user left: %d %v", n, err)
	}
	if n, err := s.DeleteOneTimeCodes(ctx, realm, kept.ID, ""); err != nil || n != 1 {
		t.Errorf("codes of another user: %d %v", n, err)
	}
}
