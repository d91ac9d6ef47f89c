package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
