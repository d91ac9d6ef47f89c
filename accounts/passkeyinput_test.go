package accounts_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/internal/softauthn"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestPasskeyTransportsFromTheClient: the transports a client reports are
// hints; unknown, repeated or unstorable values are dropped, not stored
// and not an outage.
func TestPasskeyTransportsFromTheClient(t *testing.T) {
	f := newPasskeyFixture(t, newFixture(t, storagetest.OpenSQLite(t)), config.UserVerificationPreferred)
	u := f.create(t, accounts.NewUser{Username: "tia", Password: goodPassword})
	auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
	opts, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u})
	if err != nil {
		t.Fatal(err)
	}
	att, err := auth.Register(mustJSON(t, opts.Options))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.pk.VerifyRegistration(t.Context(), f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyAddPasskey,
		CredentialUUID: opts.CredentialUUID, Challenge: opts.Options.Challenge.String(), CredentialID: att.CredentialID,
		ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject,
		Transports: []string{"internal", "a,b", "hybrid", "internal", strings.Repeat("x", 300)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.pk.InsertRegistration(t.Context(), v); err != nil {
		t.Fatalf("InsertRegistration with odd transports: %v", err)
	}
	rows, err := f.store.PasskeysOfUser(t.Context(), f.realm.ID, u.ID)
	if err != nil || len(rows) != 1 || !slices.Equal(rows[0].Transports, []string{"internal", "hybrid"}) {
		t.Fatalf("stored passkeys %+v, %v; want one with transports [internal hybrid]", rows, err)
	}
}
