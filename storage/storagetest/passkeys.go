package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Passkeys (the WebAuthn part of a fido2 credential: raw credential ids
// unique per realm, an unsigned 32-bit counter that must increase),
// single-use WebAuthn ceremonies and passkey transactions completed once,
// on one store and on two stores sharing a database (two replicas). Run by
// RunConformance on every backend.

func testPasskeys(t *testing.T, s *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *storage.Store)
	}{
		{"PasskeyRoundTrip", testPasskeyRoundTrip},
		{"PasskeyDuplicateCredentialID", testPasskeyDuplicateCredentialID},
		{"PasskeyInvalidInput", testPasskeyInvalidInput},
		{"PasskeyInTransaction", testPasskeyInTransaction},
		{"PasskeyStatuses", testPasskeyStatuses},
		{"PasskeyCounter", testPasskeyCounter},
		{"PasskeyCounterConcurrent", testPasskeyCounterConcurrent},
		{"CeremonyRoundTrip", testCeremonyRoundTrip},
		{"CeremonyTakeConcurrent", testCeremonyTakeConcurrent},
		{"PasskeyTxRoundTrip", testPasskeyTxRoundTrip},
		{"PasskeyTxCompleteConcurrent", testPasskeyTxCompleteConcurrent},
		{"PasskeyReplicas", testPasskeyReplicas},
		{"DeleteUserTakesPasskeys", testDeleteUserTakesPasskeys},
		{"PasskeyPurge", testPasskeyPurge},
	} {
		// One store for the group: each test uses its own realm.
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// newPasskey returns a fido2 credential and its passkey, created at base.
func newPasskey(uuid, realm, userID string, credentialID []byte) (*storage.Credential, *storage.Passkey) {
	c := &storage.Credential{UUID: uuid, Realm: realm, UserID: userID, Type: storage.CredentialFIDO2, Name: "Passkey " + uuid[:4],
		Status: storage.CredentialActive, CreatedAt: base, UpdatedAt: base}
	p := &storage.Passkey{UUID: uuid, Realm: realm, UserID: userID, CredentialID: credentialID,
		PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01}, Transports: []string{"internal"},
		AAGUID: bytes.Repeat([]byte{0xad}, 16), AttestationType: "none", AttestationFormat: "none"}
	return c, p
}

func createPasskey(t *testing.T, s *storage.Store, c *storage.Credential, p *storage.Passkey) {
	t.Helper()
	if err := s.CreatePasskey(t.Context(), c, p); err != nil {
		t.Fatalf("CreatePasskey(%s): %v", p.UUID, err)
	}
}

// checkPasskey compares every field, bytes exactly.
func checkPasskey(t *testing.T, what string, got, want *storage.Passkey) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no passkey", what)
	}
	if got.UUID != want.UUID || got.Realm != want.Realm || got.UserID != want.UserID ||
		!bytes.Equal(got.CredentialID, want.CredentialID) || !bytes.Equal(got.PublicKey, want.PublicKey) ||
		got.SignCount != want.SignCount || !slices.Equal(got.Transports, want.Transports) ||
		got.BackupEligible != want.BackupEligible || got.BackupState != want.BackupState || got.UserVerified != want.UserVerified ||
		!bytes.Equal(got.AAGUID, want.AAGUID) || got.AttestationType != want.AttestationType || got.AttestationFormat != want.AttestationFormat {
		t.Errorf("%s = %+v,\nwant %+v", what, got, want)
	}
	checkTime(t, what+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	if got.Name != want.Name {
		t.Errorf("%s: Name = %q, want %q (the credential's)", what, got.Name, want.Name)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
}

// passkeyState is the stored passkey of credentialID and its status, or
// "missing".
func passkeyState(t *testing.T, s *storage.Store, realm string, credentialID []byte) (*storage.Passkey, string) {
	t.Helper()
	p, status, err := s.PasskeyByCredentialID(t.Context(), realm, credentialID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, "missing"
	case err != nil:
		t.Fatalf("PasskeyByCredentialID(%s, %x): %v", realm, credentialID, err)
	}
	return p, status
}

func passkeyUUIDs(t *testing.T, s *storage.Store, realm, userID string) string {
	t.Helper()
	list, err := s.PasskeysOfUser(t.Context(), realm, userID)
	if err != nil {
		t.Fatalf("PasskeysOfUser(%s, %s): %v", realm, userID, err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.UUID)
	}
	return strings.Join(ids, ",")
}

// allBytes is n bytes cycling through every byte value, NUL and 0xff
// included.
func allBytes(n int, offset byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) + offset
	}
	return b
}

// race runs fn n times at once and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner fails unless exactly one of errs is nil and every other is
// one of losers.
func wantOneWinner(t *testing.T, what string, errs []error, losers ...error) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, err := range errs {
		if err == nil {
			counts["won"]++
			continue
		}
		known := false
		for _, l := range losers {
			if errors.Is(err, l) {
				counts[l.Error()]++
				known = true
				break
			}
		}
		if !known {
			t.Errorf("%s: unexpected error %v", what, err)
		}
	}
	if counts["won"] != 1 {
		t.Fatalf("%s: %d of %d concurrent callers won, want exactly 1 (%v)", what, counts["won"], len(errs), counts)
	}
	return counts
}

func testPasskeyRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm, user = "rl_pk_rt", "usr_pk_rt"
	createUser(t, s, newUser(user, realm, "pkrt", ""))

	// The longest credential id, every byte value; the largest counter.
	c1, p1 := newPasskey("a1a1a1a1-0000-8000-8000-000000000001", realm, user, allBytes(1023, 0))
	p1.PublicKey = allBytes(300, 7)
	p1.SignCount = 4294967295
	p1.Transports = []string{"usb", "nfc", "hybrid", "internal"}
	p1.BackupEligible, p1.BackupState, p1.UserVerified = true, false, true
	p1.AAGUID = []byte{0x00, 0x01, 0xfe, 0xff, 0x20, 0x20, 0x00, 0x00, 0x41, 0x61, 0x7f, 0x80, 0xc3, 0xa9, 0x00, 0x00}
	p1.AttestationType, p1.AttestationFormat = "basic_full", "packed"
	// Created later, but inserted first: the list is by age. No transports,
	// no AAGUID, no attestation, a counter of 0, a last use.
	c2, p2 := newPasskey("b2b2b2b2-0000-8000-8000-000000000002", realm, user, []byte{0x00})
	c2.CreatedAt = base.Add(time.Second)
	p2.PublicKey = []byte{0x00, 0x00}
	p2.Transports, p2.AAGUID, p2.AttestationType, p2.AttestationFormat = nil, nil, "", ""
	p2.BackupEligible, p2.BackupState, p2.UserVerified = false, true, false
	p2.LastUsedAt = base.Add(30 * time.Minute)
	createPasskey(t, s, c2, p2)
	createPasskey(t, s, c1, p1)

	list, err := s.PasskeysOfUser(ctx, realm, user)
	if err != nil || len(list) != 2 {
		t.Fatalf("PasskeysOfUser = %d passkeys, %v; want 2", len(list), err)
	}
	checkPasskey(t, "the first passkey", list[0], p1)
	checkPasskey(t, "the second passkey", list[1], p2)
	if list[1].Transports != nil && len(list[1].Transports) != 0 {
		t.Errorf("no transports read back as %q", list[1].Transports)
	}
	for _, want := range []*storage.Passkey{p1, p2} {
		got, status := passkeyState(t, s, realm, want.CredentialID)
		if status != storage.CredentialActive {
			t.Errorf("status of %s = %s, want active", want.UUID, status)
		}
		checkPasskey(t, "PasskeyByCredentialID", got, want)
	}
	// The credential rows are there, as fido2 credentials.
	creds, err := s.ListCredentials(ctx, realm, user)
	if err != nil || len(creds) != 2 || creds[0].UUID != c1.UUID || creds[1].UUID != c2.UUID || creds[0].Type != storage.CredentialFIDO2 {
		t.Fatalf("ListCredentials = %+v, %v", creds, err)
	}
	if got, err := s.GetCredential(ctx, realm, c1.UUID); err != nil || got.Name != c1.Name || got.Status != storage.CredentialActive {
		t.Fatalf("GetCredential = %+v, %v", got, err)
	}

	// Another realm, another id, a prefix of an id: none.
	changed := slices.Clone(p1.CredentialID)
	changed[500] ^= 1
	for name, id := range map[string][]byte{"a changed id": changed, "a prefix": p1.CredentialID[:1022], "an empty id": nil, "an id too long": allBytes(1024, 0)} {
		if _, st := passkeyState(t, s, realm, id); st != "missing" {
			t.Errorf("%s: %s, want missing", name, st)
		}
	}
	if _, st := passkeyState(t, s, "rl_pk_other", p1.CredentialID); st != "missing" {
		t.Errorf("another realm's lookup: %s, want missing", st)
	}
	if got := passkeyUUIDs(t, s, realm, "usr_nobody"); got != "" {
		t.Errorf("passkeys of an unknown user: %s", got)
	}
	if got := passkeyUUIDs(t, s, "rl_pk_other", user); got != "" {
		t.Errorf("passkeys of the user in another realm: %s", got)
	}
}

func testPasskeyDuplicateCredentialID(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm, other = "rl_pk_dup", "rl_pk_dup_2"
	id := []byte("credential-\x00\xff-id")
	ca, pa := newPasskey("c3c3c3c3-0000-8000-8000-000000000001", realm, "usr_pk_a", id)
	createPasskey(t, s, ca, pa)

	// The same id in the realm, for another user: refused, nothing written.
	cb, pb := newPasskey("c3c3c3c3-0000-8000-8000-000000000002", realm, "usr_pk_b", slices.Clone(id))
	wantErrIs(t, "a credential id already in the realm", s.CreatePasskey(ctx, cb, pb), storage.ErrAlreadyExists)
	if _, err := s.GetCredential(ctx, realm, cb.UUID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused passkey's credential row was written: %v", err)
	}
	if got := passkeyUUIDs(t, s, realm, "usr_pk_b"); got != "" {
		t.Errorf("the refused passkey is listed: %s", got)
	}
	// A uuid already taken: refused.
	cu, pu := newPasskey(ca.UUID, realm, "usr_pk_a", []byte("another id"))
	wantErrIs(t, "a uuid already taken", s.CreatePasskey(ctx, cu, pu), storage.ErrAlreadyExists)
	if _, st := passkeyState(t, s, realm, []byte("another id")); st != "missing" {
		t.Errorf("the passkey of a taken uuid was written: %s", st)
	}
	// The same id in another realm: a passkey of its own.
	cc, pc := newPasskey("c3c3c3c3-0000-8000-8000-000000000003", other, "usr_pk_a", slices.Clone(id))
	createPasskey(t, s, cc, pc)
	if p, _ := passkeyState(t, s, other, id); p == nil || p.UUID != cc.UUID {
		t.Errorf("the other realm's passkey = %+v", p)
	}
	if p, _ := passkeyState(t, s, realm, id); p == nil || p.UUID != ca.UUID {
		t.Errorf("the first realm's passkey = %+v", p)
	}

	// Ids are compared byte for byte: case, trailing spaces and NULs count.
	variants := [][]byte{[]byte("AbC"), []byte("aBc"), []byte("abc"), []byte("AbC "), []byte("AbC\x00"), []byte(" AbC")}
	for i, v := range variants {
		c, p := newPasskey(fmt.Sprintf("d4d4d4d4-0000-8000-8000-%012d", i), realm, "usr_pk_v", v)
		createPasskey(t, s, c, p)
	}
	for i, v := range variants {
		if p, _ := passkeyState(t, s, realm, v); p == nil || p.UUID != fmt.Sprintf("d4d4d4d4-0000-8000-8000-%012d", i) || !bytes.Equal(p.CredentialID, v) {
			t.Errorf("lookup of %q = %+v", v, p)
		}
	}
}

func testPasskeyInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm, user = "rl_pk_bad", "usr_pk_bad"
	const uuid = "e5e5e5e5-0000-8000-8000-000000000001"
	for name, mutate := range map[string]func(c *storage.Credential, p *storage.Passkey){
		"a password credential":    func(c *storage.Credential, _ *storage.Passkey) { c.Type = storage.CredentialPassword },
		"another uuid":             func(_ *storage.Credential, p *storage.Passkey) { p.UUID = "e5e5e5e5-0000-8000-8000-000000000002" },
		"another realm":            func(_ *storage.Credential, p *storage.Passkey) { p.Realm = "rl_elsewhere" },
		"another user":             func(_ *storage.Credential, p *storage.Passkey) { p.UserID = "usr_else" },
		"no user":                  func(c *storage.Credential, p *storage.Passkey) { c.UserID, p.UserID = "", "" },
		"no credential id":         func(_ *storage.Credential, p *storage.Passkey) { p.CredentialID = nil },
		"a credential id too long": func(_ *storage.Credential, p *storage.Passkey) { p.CredentialID = allBytes(1024, 0) },
		"no public key":            func(_ *storage.Credential, p *storage.Passkey) { p.PublicKey = nil },
		"an AAGUID of 15 bytes":    func(_ *storage.Credential, p *storage.Passkey) { p.AAGUID = make([]byte, 15) },
		"a transport with a comma": func(_ *storage.Credential, p *storage.Passkey) { p.Transports = []string{"usb,nfc"} },
		"an empty transport":       func(_ *storage.Credential, p *storage.Passkey) { p.Transports = []string{"usb", ""} },
		"transports too long":      func(_ *storage.Credential, p *storage.Passkey) { p.Transports = []string{strings.Repeat("t", 256)} },
		"an attestation format of bad UTF-8": func(_ *storage.Credential, p *storage.Passkey) {
			p.AttestationFormat = "pack\xffed"
		},
		"an attestation type too long": func(_ *storage.Credential, p *storage.Passkey) { p.AttestationType = strings.Repeat("a", 65) },
		"a name too long":              func(c *storage.Credential, _ *storage.Passkey) { c.Name = strings.Repeat("n", 256) },
	} {
		c, p := newPasskey(uuid, realm, user, []byte("bad-"+name))
		mutate(c, p)
		wantErrIs(t, name, s.CreatePasskey(ctx, c, p), storage.ErrInvalidInput)
	}
	c, p := newPasskey(uuid, realm, user, []byte("bad"))
	wantErrIs(t, "no passkey", s.CreatePasskey(ctx, c, nil), storage.ErrInvalidInput)
	wantErrIs(t, "no credential", s.CreatePasskey(ctx, nil, p), storage.ErrInvalidInput)
	if _, err := s.GetCredential(ctx, realm, uuid); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused passkey left its credential: %v", err)
	}
	// The limits themselves are accepted.
	p.Transports = []string{strings.Repeat("t", 255)}
	p.AttestationType, p.AttestationFormat = strings.Repeat("a", 64), strings.Repeat("f", 64)
	createPasskey(t, s, c, p)
	got, _ := passkeyState(t, s, realm, []byte("bad"))
	checkPasskey(t, "the passkey at the limits", got, p)
}

// CreatePasskey joins the caller's transaction: rolled back with it,
// committed with it.
func testPasskeyInTransaction(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm, user = "rl_pk_tx", "usr_pk_tx"
	c, p := newPasskey("f6f6f6f6-0000-8000-8000-000000000001", realm, user, []byte("in-a-transaction"))
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePasskey(txCtx, c, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PasskeysOfUser(txCtx, realm, user); err != nil || len(got) != 1 {
		t.Fatalf("inside the transaction: %d passkeys, %v", len(got), err)
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCredential(ctx, realm, c.UUID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the credential outlived the rollback: %v", err)
	}
	if _, st := passkeyState(t, s, realm, p.CredentialID); st != "missing" {
		t.Errorf("the passkey outlived the rollback: %s", st)
	}
	// Nothing was left behind: the same uuid and id go in now.
	err = s.InTx(ctx, func(ctx context.Context) error { return s.CreatePasskey(ctx, c, p) })
	if err != nil {
		t.Fatal(err)
	}
	if got := passkeyUUIDs(t, s, realm, user); got != c.UUID {
		t.Errorf("after the committed transaction: %q", got)
	}
}

// Only active credentials' passkeys are listed; the lookup by id returns
// the status with the passkey. Revoking an inactive passkey is allowed
// even when one active credential is left, which stays the last.
func testPasskeyStatuses(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_pk_status"
	u := newUser("usr_pk_status", realm, "pkstatus", "")
	u.PasswordHash = ""
	createUser(t, s, u)
	var ids [3]string
	for i := range ids {
		ids[i] = fmt.Sprintf("a7a7a7a7-0000-8000-8000-%012d", i)
		c, p := newPasskey(ids[i], realm, u.ID, []byte(ids[i]))
		c.CreatedAt = base.Add(time.Duration(i) * time.Second)
		p.SignCount = 10
		createPasskey(t, s, c, p)
	}
	if got := passkeyUUIDs(t, s, realm, u.ID); got != strings.Join(ids[:], ",") {
		t.Fatalf("passkeys = %s", got)
	}
	if _, err := s.RevokeCredential(ctx, realm, ids[0], base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "a counter that went back", s.RecordPasskeyUse(ctx, realm, ids[1], 9, false, base.Add(time.Minute)), storage.ErrCounterNotIncreased)
	if got := passkeyUUIDs(t, s, realm, u.ID); got != ids[2] {
		t.Errorf("passkeys beside a revoked and an inactive one = %s, want %s", got, ids[2])
	}
	for i, want := range []string{storage.CredentialRevoked, storage.CredentialInactive, storage.CredentialActive} {
		if p, st := passkeyState(t, s, realm, []byte(ids[i])); st != want || p.UUID != ids[i] {
			t.Errorf("passkey %d: status %s, want %s", i, st, want)
		}
		if c, err := s.GetCredential(ctx, realm, ids[i]); err != nil || c.Status != want {
			t.Errorf("credential %d: %+v, %v; want status %s", i, c, err, want)
		}
	}
	if list, err := s.ListCredentials(ctx, realm, u.ID); err != nil || len(list) != 3 {
		t.Errorf("ListCredentials lists every status: %d, %v", len(list), err)
	}
	// One active credential left: the inactive one can still be revoked,
	// the active one cannot.
	if c, err := s.RevokeCredential(ctx, realm, ids[1], base.Add(2*time.Minute)); err != nil || c.Status != storage.CredentialRevoked {
		t.Fatalf("revoking the inactive passkey beside the last active one: %+v, %v", c, err)
	}
	_, err := s.RevokeCredential(ctx, realm, ids[2], base.Add(2*time.Minute))
	wantErrIs(t, "revoking the last active passkey", err, storage.ErrLastCredential)
}

func testPasskeyCounter(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm, user = "rl_pk_count", "usr_pk_count"
	createUser(t, s, newUser(user, realm, "pkcount", "")) // with a password: the passkeys can be revoked
	c, p := newPasskey("b8b8b8b8-0000-8000-8000-000000000001", realm, user, []byte("counter"))
	p.SignCount = 5
	createPasskey(t, s, c, p)
	t1, t2 := base.Add(time.Hour), base.Add(2*time.Hour)

	// An increase: stored with the backup state and the time; the
	// credential's updated_at stays.
	if err := s.RecordPasskeyUse(ctx, realm, c.UUID, 6, true, t1); err != nil {
		t.Fatalf("an increasing counter: %v", err)
	}
	want := *p
	want.SignCount, want.BackupState, want.LastUsedAt = 6, true, t1
	got, st := passkeyState(t, s, realm, p.CredentialID)
	checkPasskey(t, "after a use", got, &want)
	if cred, err := s.GetCredential(ctx, realm, c.UUID); err != nil || st != storage.CredentialActive {
		t.Fatalf("after a use: %+v %s %v", cred, st, err)
	} else {
		checkTime(t, "credential updated_at after a use", cred.UpdatedAt, base)
	}
	// The same counter again: refused, the credential becomes inactive,
	// the passkey is as it was; and it stays so.
	wantErrIs(t, "an equal counter", s.RecordPasskeyUse(ctx, realm, c.UUID, 6, false, t2), storage.ErrCounterNotIncreased)
	got, st = passkeyState(t, s, realm, p.CredentialID)
	if st != storage.CredentialInactive {
		t.Fatalf("after an equal counter: status %s, want inactive", st)
	}
	checkPasskey(t, "after an equal counter", got, &want)
	wantErrIs(t, "a use of an inactive passkey", s.RecordPasskeyUse(ctx, realm, c.UUID, 100, false, t2), storage.ErrNotFound)
	if _, st := passkeyState(t, s, realm, p.CredentialID); st != storage.CredentialInactive {
		t.Fatalf("an inactive passkey became %s", st)
	}
	// A lower counter.
	c2, p2 := newPasskey("b8b8b8b8-0000-8000-8000-000000000002", realm, user, []byte("counter-2"))
	p2.SignCount = 5
	createPasskey(t, s, c2, p2)
	wantErrIs(t, "a lower counter", s.RecordPasskeyUse(ctx, realm, c2.UUID, 3, false, t1), storage.ErrCounterNotIncreased)
	if _, st := passkeyState(t, s, realm, p2.CredentialID); st != storage.CredentialInactive {
		t.Fatalf("after a lower counter: %s", st)
	}
	// Both 0: an authenticator without a counter, as often as it likes —
	// also twice at the same instant, which changes no column. Then it
	// counts from 0, and back to 0 is a decrease.
	c3, p3 := newPasskey("b8b8b8b8-0000-8000-8000-000000000003", realm, user, []byte("counter-3"))
	createPasskey(t, s, c3, p3)
	for i, use := range []struct {
		count  uint32
		backup bool
		at     time.Time
	}{{0, false, t1}, {0, false, t1}, {0, true, t2}, {1, true, t2}, {4294967295, false, t2}} {
		if err := s.RecordPasskeyUse(ctx, realm, c3.UUID, use.count, use.backup, use.at); err != nil {
			t.Fatalf("use %d (counter %d): %v", i, use.count, err)
		}
		got, st := passkeyState(t, s, realm, p3.CredentialID)
		if st != storage.CredentialActive || got.SignCount != use.count || got.BackupState != use.backup || !got.LastUsedAt.Equal(use.at) {
			t.Fatalf("after use %d: %s %+v", i, st, got)
		}
	}
	wantErrIs(t, "a counter past the largest", s.RecordPasskeyUse(ctx, realm, c3.UUID, 0, false, t2), storage.ErrCounterNotIncreased)

	// Missing, another realm's, revoked: not found, and a revoked one
	// stays revoked.
	wantErrIs(t, "an unknown passkey", s.RecordPasskeyUse(ctx, realm, "b8b8b8b8-0000-8000-8000-00000000dead", 9, false, t1), storage.ErrNotFound)
	c4, p4 := newPasskey("b8b8b8b8-0000-8000-8000-000000000004", realm, user, []byte("counter-4"))
	createPasskey(t, s, c4, p4)
	wantErrIs(t, "another realm's passkey", s.RecordPasskeyUse(ctx, "rl_pk_elsewhere", c4.UUID, 9, false, t1), storage.ErrNotFound)
	wantErrIs(t, "an over-long uuid", s.RecordPasskeyUse(ctx, realm, strings.Repeat("b", 37), 9, false, t1), storage.ErrNotFound)
	if _, err := s.RevokeCredential(ctx, realm, c4.UUID, t1); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "a revoked passkey, counter up", s.RecordPasskeyUse(ctx, realm, c4.UUID, 9, false, t1), storage.ErrNotFound)
	wantErrIs(t, "a revoked passkey, counter down", s.RecordPasskeyUse(ctx, realm, c4.UUID, 0, false, t1), storage.ErrNotFound)
	if got, st := passkeyState(t, s, realm, p4.CredentialID); st != storage.CredentialRevoked || got.SignCount != 0 || !got.LastUsedAt.IsZero() {
		t.Errorf("a revoked passkey after uses: %s %+v", st, got)
	}
}

// Of concurrent assertions with one counter value (a replay, a clone), one
// is recorded; the others are refused and the passkey ends inactive.
func testPasskeyCounterConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_pk_count_race"
	for round := range 3 {
		c, p := newPasskey(fmt.Sprintf("c9c9c9c9-0000-8000-8000-%012d", round), realm, "usr_pk_race", []byte(fmt.Sprint("race-", round)))
		p.SignCount = 10
		createPasskey(t, s, c, p)
		errs := race(16, func(int) error { return s.RecordPasskeyUse(ctx, realm, c.UUID, 11, false, base) })
		counts := wantOneWinner(t, fmt.Sprint("round ", round), errs, storage.ErrCounterNotIncreased, storage.ErrNotFound)
		if counts[storage.ErrCounterNotIncreased.Error()] == 0 {
			t.Errorf("round %d: no loser reported the counter: %v", round, counts)
		}
		if got, st := passkeyState(t, s, realm, p.CredentialID); st != storage.CredentialInactive || got.SignCount != 11 {
			t.Errorf("round %d: %s, counter %d; want inactive at 11", round, st, got.SignCount)
		}
	}
}

func newCeremony(id, realm, userID string, exp time.Time) *storage.Ceremony {
	return &storage.Ceremony{ID: id, Realm: realm, UserID: userID, Username: "user of " + userID, Purpose: "login",
		CredentialUUID: "a1a1a1a1-0000-8000-8000-000000000001", Data: []byte(`{"challenge":"` + id + `"}`), ExpiresAt: exp}
}

func checkCeremony(t *testing.T, what string, got, want *storage.Ceremony) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no ceremony", what)
	}
	if got.ID != want.ID || got.Realm != want.Realm || got.UserID != want.UserID || got.Username != want.Username ||
		got.Purpose != want.Purpose || got.CredentialUUID != want.CredentialUUID || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s = %+v (%d bytes of data),\nwant %+v (%d bytes)", what, got.ID, len(got.Data), want.ID, len(want.Data))
	}
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func testCeremonyRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cer_rt"
	// 64 KiB of data, every byte value; Unicode in the username.
	full := newCeremony(sig("ceremony-full"), realm, "usr_cer", base.Add(5*time.Minute))
	full.Username, full.Purpose, full.Data = "Ünïcode ✓", "registration", allBytes(64<<10, 3)
	// A login of a user not known yet: no user, no credential, no data.
	bare := &storage.Ceremony{ID: sig("ceremony-bare"), Realm: realm, Purpose: "discoverable_login", ExpiresAt: base.Add(5 * time.Minute)}
	for _, c := range []*storage.Ceremony{full, bare} {
		if err := s.CreateCeremony(ctx, c); err != nil {
			t.Fatalf("CreateCeremony(%.8s): %v", c.ID, err)
		}
	}
	wantErrIs(t, "a ceremony id taken", s.CreateCeremony(ctx, newCeremony(full.ID, realm, "usr_other", base.Add(time.Hour))), storage.ErrAlreadyExists)

	_, err := s.TakeCeremony(ctx, strings.ToUpper(full.ID), base)
	wantErrIs(t, "the id in upper case", err, storage.ErrNotFound)
	got, err := s.TakeCeremony(ctx, full.ID, base)
	if err != nil {
		t.Fatalf("TakeCeremony: %v", err)
	}
	checkCeremony(t, "the full ceremony", got, full)
	_, err = s.TakeCeremony(ctx, full.ID, base)
	wantErrIs(t, "a ceremony taken twice", err, storage.ErrNotFound)
	got, err = s.TakeCeremony(ctx, bare.ID, base)
	if err != nil {
		t.Fatalf("TakeCeremony(bare): %v", err)
	}
	checkCeremony(t, "the bare ceremony", got, bare)

	// Expired at its ExpiresAt: not found, and gone (an earlier clock does
	// not find it either).
	exp := newCeremony(sig("ceremony-expired"), realm, "usr_cer", base)
	if err := s.CreateCeremony(ctx, exp); err != nil {
		t.Fatal(err)
	}
	_, err = s.TakeCeremony(ctx, exp.ID, base)
	wantErrIs(t, "a ceremony at its expiry", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, exp.ID, base.Add(-time.Hour))
	wantErrIs(t, "an expired ceremony once taken", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, sig("never created"), base)
	wantErrIs(t, "an unknown ceremony", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, strings.Repeat("a", 65), base)
	wantErrIs(t, "an over-long id", err, storage.ErrNotFound)

	for name, c := range map[string]*storage.Ceremony{
		"no id":              {Realm: realm, Purpose: "login", ExpiresAt: base},
		"an id too long":     {ID: strings.Repeat("a", 65), Realm: realm, Purpose: "login", ExpiresAt: base},
		"no realm":           {ID: sig("bad-1"), Purpose: "login", ExpiresAt: base},
		"no purpose":         {ID: sig("bad-2"), Realm: realm, ExpiresAt: base},
		"a purpose too long": {ID: sig("bad-3"), Realm: realm, Purpose: strings.Repeat("p", 33), ExpiresAt: base},
		"data too long":      {ID: sig("bad-4"), Realm: realm, Purpose: "login", Data: make([]byte, 64<<10+1), ExpiresAt: base},
		"no expiry":          {ID: sig("bad-5"), Realm: realm, Purpose: "login"},
		"bad UTF-8":          {ID: sig("bad-6"), Realm: realm, Username: "\xc3", Purpose: "login", ExpiresAt: base},
		"a uuid too long":    {ID: sig("bad-7"), Realm: realm, Purpose: "login", CredentialUUID: strings.Repeat("u", 37), ExpiresAt: base},
	} {
		wantErrIs(t, name, s.CreateCeremony(ctx, c), storage.ErrInvalidInput)
	}
}

// Of concurrent takers of one ceremony, exactly one gets it.
func testCeremonyTakeConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for round := range 5 {
		c := newCeremony(sig(fmt.Sprint("ceremony-race-", round)), "rl_cer_race", "usr_cer", base.Add(time.Minute))
		if err := s.CreateCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var taken []*storage.Ceremony
		errs := race(16, func(int) error {
			got, err := s.TakeCeremony(ctx, c.ID, base)
			if err == nil {
				mu.Lock()
				taken = append(taken, got)
				mu.Unlock()
			}
			return err
		})
		wantOneWinner(t, fmt.Sprint("round ", round), errs, storage.ErrNotFound)
		checkCeremony(t, "the ceremony taken", taken[0], c)
	}
}

func newPasskeyTx(id, realm, userID string) *storage.PasskeyTx {
	return &storage.PasskeyTx{ID: id, Realm: realm, UserID: userID, Username: "Zoë", Type: "transfer",
		Payload: `{"amount":"100.00","to":"ACME"}`, Nonce: "nonce-" + id, Status: storage.TxPending,
		CreatedAt: base, ExpiresAt: base.Add(5 * time.Minute)}
}

func checkPasskeyTx(t *testing.T, what string, got, want *storage.PasskeyTx) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no transaction", what)
	}
	if got.ID != want.ID || got.Realm != want.Realm || got.UserID != want.UserID || got.Username != want.Username ||
		got.Type != want.Type || got.Payload != want.Payload || got.Nonce != want.Nonce || got.Status != want.Status {
		t.Errorf("%s = %+v,\nwant %+v", what, got, want)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTime(t, what+": CompletedAt", got.CompletedAt, want.CompletedAt)
}

func testPasskeyTxRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_ptx_rt"
	// 16 KiB of UTF-8 exactly: 5461 three-byte characters and one byte.
	big := newPasskeyTx("ptx_big", realm, "usr_ptx")
	big.Payload = strings.Repeat("€", 5461) + "x"
	big.Nonce = strings.Repeat("n", 255)
	if err := s.CreatePasskeyTx(ctx, big); err != nil {
		t.Fatalf("CreatePasskeyTx: %v", err)
	}
	got, err := s.GetPasskeyTx(ctx, realm, big.ID, base)
	if err != nil {
		t.Fatal(err)
	}
	checkPasskeyTx(t, "the pending transaction", got, big)
	wantErrIs(t, "an id taken", s.CreatePasskeyTx(ctx, newPasskeyTx(big.ID, "rl_ptx_other", "usr_ptx")), storage.ErrAlreadyExists)
	// An empty status is pending.
	bare := newPasskeyTx("ptx_bare", realm, "usr_ptx")
	bare.Status, bare.Username, bare.Payload, bare.Nonce = "", "", "", ""
	if err := s.CreatePasskeyTx(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPasskeyTx(ctx, realm, bare.ID, base); err != nil || got.Status != storage.TxPending {
		t.Fatalf("a transaction created without status: %+v, %v", got, err)
	}

	for name, get := range map[string]func() error{
		"another realm's": func() error { _, err := s.GetPasskeyTx(ctx, "rl_ptx_other", big.ID, base); return err },
		"at its expiry":   func() error { _, err := s.GetPasskeyTx(ctx, realm, big.ID, big.ExpiresAt); return err },
		"unknown":         func() error { _, err := s.GetPasskeyTx(ctx, realm, "ptx_nope", base); return err },
		"in upper case":   func() error { _, err := s.GetPasskeyTx(ctx, realm, "PTX_BIG", base); return err },
		"over-long":       func() error { _, err := s.GetPasskeyTx(ctx, realm, strings.Repeat("p", 65), base); return err },
	} {
		wantErrIs(t, "get of a transaction "+name, get(), storage.ErrNotFound)
	}
	for name, complete := range map[string]func() error{
		"another realm's": func() error { return s.CompletePasskeyTx(ctx, "rl_ptx_other", big.ID, base) },
		"at its expiry":   func() error { return s.CompletePasskeyTx(ctx, realm, big.ID, big.ExpiresAt) },
		"unknown":         func() error { return s.CompletePasskeyTx(ctx, realm, "ptx_nope", base) },
	} {
		wantErrIs(t, "completing a transaction "+name, complete(), storage.ErrNotFound)
	}
	// Those changed nothing: still pending.
	if got, _ := s.GetPasskeyTx(ctx, realm, big.ID, base); got == nil || got.Status != storage.TxPending || !got.CompletedAt.IsZero() {
		t.Fatalf("after refused completions: %+v", got)
	}
	done := base.Add(time.Minute)
	if err := s.CompletePasskeyTx(ctx, realm, big.ID, done); err != nil {
		t.Fatalf("CompletePasskeyTx: %v", err)
	}
	want := *big
	want.Status, want.CompletedAt = storage.TxCompleted, done
	got, err = s.GetPasskeyTx(ctx, realm, big.ID, done)
	if err != nil {
		t.Fatal(err)
	}
	checkPasskeyTx(t, "the completed transaction", got, &want)
	wantErrIs(t, "completing twice", s.CompletePasskeyTx(ctx, realm, big.ID, done), storage.ErrAlreadyUsed)

	for name, tx := range map[string]*storage.PasskeyTx{
		"a payload over 16 KiB": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_1", realm, "usr_ptx")
			x.Payload = strings.Repeat("€", 5461) + "xy"
			return x
		}(),
		"a payload of bad UTF-8": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_2", realm, "usr_ptx")
			x.Payload = "\xff"
			return x
		}(),
		"an unknown status": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_3", realm, "usr_ptx")
			x.Status = "bogus"
			return x
		}(),
		"no user": newPasskeyTx("ptx_bad_4", realm, ""),
		"no type": func() *storage.PasskeyTx { x := newPasskeyTx("ptx_bad_5", realm, "usr_ptx"); x.Type = ""; return x }(),
		"a type too long": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_6", realm, "usr_ptx")
			x.Type = strings.Repeat("t", 17)
			return x
		}(),
		"a nonce too long": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_7", realm, "usr_ptx")
			x.Nonce = strings.Repeat("n", 256)
			return x
		}(),
		"no expiry": func() *storage.PasskeyTx {
			x := newPasskeyTx("ptx_bad_8", realm, "usr_ptx")
			x.ExpiresAt = time.Time{}
			return x
		}(),
		"no id": newPasskeyTx("", realm, "usr_ptx"),
	} {
		wantErrIs(t, name, s.CreatePasskeyTx(ctx, tx), storage.ErrInvalidInput)
	}
}

// Of concurrent completions, exactly one succeeds; the others are told the
// transaction was used.
func testPasskeyTxCompleteConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_ptx_race"
	for round := range 5 {
		tx := newPasskeyTx(fmt.Sprint("ptx_race_", round), realm, "usr_ptx")
		if err := s.CreatePasskeyTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
		errs := race(16, func(i int) error {
			return s.CompletePasskeyTx(ctx, realm, tx.ID, base.Add(time.Duration(i)*time.Second))
		})
		wantOneWinner(t, fmt.Sprint("round ", round), errs, storage.ErrAlreadyUsed)
		if got, err := s.GetPasskeyTx(ctx, realm, tx.ID, base); err != nil || got.Status != storage.TxCompleted || got.CompletedAt.IsZero() {
			t.Fatalf("round %d: %+v, %v", round, got, err)
		}
	}
}

// Two stores on one database, as two replicas: a ceremony is taken once,
// a transaction completed once, a counter value recorded once, whichever
// replica each caller reaches.
func testPasskeyReplicas(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	s2 := openReplica(t, s)
	stores := []*storage.Store{s, s2}
	const realm = "rl_pk_replicas"

	c := newCeremony(sig("replica-ceremony"), realm, "usr_rep", base.Add(time.Minute))
	if err := s.CreateCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.TakeCeremony(ctx, c.ID, base); err != nil {
		t.Fatalf("a ceremony created on one replica, taken on the other: %v", err)
	} else {
		checkCeremony(t, "the ceremony of the other replica", got, c)
	}
	_, err := s.TakeCeremony(ctx, c.ID, base)
	wantErrIs(t, "a ceremony the other replica took", err, storage.ErrNotFound)

	for round := range 5 {
		c := newCeremony(sig(fmt.Sprint("replica-race-", round)), realm, "usr_rep", base.Add(time.Minute))
		if err := stores[round%2].CreateCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		errs := race(16, func(i int) error { _, err := stores[i%2].TakeCeremony(ctx, c.ID, base); return err })
		wantOneWinner(t, fmt.Sprint("ceremony round ", round), errs, storage.ErrNotFound)

		tx := newPasskeyTx(fmt.Sprint("ptx_replica_", round), realm, "usr_rep")
		if err := stores[round%2].CreatePasskeyTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
		errs = race(16, func(i int) error { return stores[i%2].CompletePasskeyTx(ctx, realm, tx.ID, base) })
		wantOneWinner(t, fmt.Sprint("transaction round ", round), errs, storage.ErrAlreadyUsed)

		cred, p := newPasskey(fmt.Sprintf("dadadada-0000-8000-8000-%012d", round), realm, "usr_rep", []byte(fmt.Sprint("replica-", round)))
		p.SignCount = 41
		createPasskey(t, stores[round%2], cred, p)
		errs = race(16, func(i int) error { return stores[i%2].RecordPasskeyUse(ctx, realm, cred.UUID, 42, true, base) })
		wantOneWinner(t, fmt.Sprint("counter round ", round), errs, storage.ErrCounterNotIncreased, storage.ErrNotFound)
	}
}

// Deleting a user deletes their passkeys (the rows themselves: the id can
// be registered again), ceremonies and passkey transactions, and no one
// else's.
func testDeleteUserTakesPasskeys(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_pk_delete"
	gone, kept := newUser("usr_pk_gone", realm, "pkgone", ""), newUser("usr_pk_kept", realm, "pkkept", "")
	for i, u := range []*storage.User{gone, kept} {
		createUser(t, s, u)
		c, p := newPasskey(fmt.Sprintf("ebebebeb-0000-8000-8000-%012d", i), realm, u.ID, []byte("id-of-"+u.ID))
		createPasskey(t, s, c, p)
		if err := s.CreateCeremony(ctx, newCeremony(sig("ceremony-"+u.ID), realm, u.ID, base.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := s.CreatePasskeyTx(ctx, newPasskeyTx("ptx_"+u.ID, realm, u.ID)); err != nil {
			t.Fatal(err)
		}
	}
	// A login ceremony of no user yet stays.
	if err := s.CreateCeremony(ctx, newCeremony(sig("ceremony-nobody"), realm, "", base.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, realm, gone.ID); err != nil {
		t.Fatal(err)
	}

	if got := passkeyUUIDs(t, s, realm, gone.ID); got != "" {
		t.Errorf("passkeys of the deleted user: %s", got)
	}
	if _, st := passkeyState(t, s, realm, []byte("id-of-"+gone.ID)); st != "missing" {
		t.Errorf("the deleted user's passkey: %s", st)
	}
	_, err := s.TakeCeremony(ctx, sig("ceremony-"+gone.ID), base)
	wantErrIs(t, "the deleted user's ceremony", err, storage.ErrNotFound)
	_, err = s.GetPasskeyTx(ctx, realm, "ptx_"+gone.ID, base)
	wantErrIs(t, "the deleted user's transaction", err, storage.ErrNotFound)
	// The rows are gone, not hidden: the credential id and uuid are free.
	createUser(t, s, newUser("usr_pk_next", realm, "pknext", ""))
	c, p := newPasskey("ebebebeb-0000-8000-8000-000000000000", realm, "usr_pk_next", []byte("id-of-"+gone.ID))
	createPasskey(t, s, c, p)
	if err := s.CreatePasskeyTx(ctx, newPasskeyTx("ptx_"+gone.ID, realm, "usr_pk_next")); err != nil {
		t.Errorf("the deleted user's transaction id is still taken: %v", err)
	}

	if got := passkeyUUIDs(t, s, realm, kept.ID); got != "ebebebeb-0000-8000-8000-000000000001" {
		t.Errorf("passkeys of another user: %q", got)
	}
	if _, err := s.GetPasskeyTx(ctx, realm, "ptx_"+kept.ID, base); err != nil {
		t.Errorf("another user's transaction: %v", err)
	}
	for _, id := range []string{sig("ceremony-" + kept.ID), sig("ceremony-nobody")} {
		if _, err := s.TakeCeremony(ctx, id, base); err != nil {
			t.Errorf("a ceremony of another user (%.8s): %v", id, err)
		}
	}
}

// Expired ceremonies and transactions are purged, in batches; live ones
// are kept.
func testPasskeyPurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_pk_purge"
	var expired, live []string
	for i := range 9 {
		name, exp := fmt.Sprint("purge-old-", i), base.Add(-time.Minute)
		if i >= 7 {
			name, exp = fmt.Sprint("purge-new-", i), base.Add(time.Hour)
			live = append(live, name)
		} else {
			expired = append(expired, name)
		}
		if err := s.CreateCeremony(ctx, newCeremony(sig(name), realm, "usr_purge", exp)); err != nil {
			t.Fatal(err)
		}
		tx := newPasskeyTx(name, realm, "usr_purge")
		tx.CreatedAt, tx.ExpiresAt = exp.Add(-time.Hour), exp
		if err := s.CreatePasskeyTx(ctx, tx); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeExpired(ctx, base, 3) // a batch smaller than each table's count
	if err != nil || n < int64(2*len(expired)) {
		t.Fatalf("PurgeExpired = %d, %v; want at least %d", n, err, 2*len(expired))
	}
	// An earlier clock would still see a row that was not purged.
	earlier := base.Add(-2 * time.Hour)
	for _, name := range expired {
		if _, err := s.TakeCeremony(ctx, sig(name), earlier); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired ceremony %s after the purge: %v", name, err)
		}
		if _, err := s.GetPasskeyTx(ctx, realm, name, earlier); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired transaction %s after the purge: %v", name, err)
		}
	}
	for _, name := range live {
		if _, err := s.GetPasskeyTx(ctx, realm, name, base); err != nil {
			t.Errorf("live transaction %s after the purge: %v", name, err)
		}
		if _, err := s.TakeCeremony(ctx, sig(name), base); err != nil {
			t.Errorf("live ceremony %s after the purge: %v", name, err)
		}
	}
}
