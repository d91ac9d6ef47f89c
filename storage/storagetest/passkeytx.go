package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

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
