package accounts

// Passkey sign-in: by username (with decoys for unknown users) or
// discoverable; verified without writing, then used up in the caller's
// transaction.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// AssertionOptions are a started sign-in or confirmation: the options for
// navigator.credentials.get.
type AssertionOptions struct {
	Options protocol.PublicKeyCredentialRequestOptions
}

// BeginLogin starts signing in username of realm with a passkey. An
// unknown user, a deactivated one or one without passkeys gets the same
// shape, with a decoy credential list that is the same on every call and
// replica (no enumeration); its ceremony can never finish. An empty
// username starts a discoverable sign-in (CeremonyDiscoverable): the
// person picks a passkey, which names the user.
func (p *Passkeys) BeginLogin(ctx context.Context, realm *config.Realm, username string) (*AssertionOptions, error) {
	return p.BeginBoundLogin(ctx, realm, username, "")
}

// BeginBoundLogin is BeginLogin with a binding (see
// RegistrationStart.Binding) that the finish must present.
func (p *Passkeys) BeginBoundLogin(ctx context.Context, realm *config.Realm, username, binding string) (*AssertionOptions, error) {
	c := &storage.Ceremony{Realm: realm.ID, Purpose: CeremonyLogin, Username: username}
	var creds []protocol.CredentialDescriptor
	if username == "" {
		c.Purpose = CeremonyDiscoverable
	} else {
		u, err := p.svc.GetByUsername(ctx, realm.ID, username)
		switch {
		case err == nil && u.Status == StatusActive:
			wc, err := p.passkeysOf(ctx, realm.ID, u.ID)
			if err != nil {
				return nil, err
			}
			c.UserID, creds = u.ID, allowList(wc)
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, err
		}
		if len(creds) == 0 {
			var err error
			if creds, err = p.decoys(ctx, realm.ID, username); err != nil {
				return nil, err
			}
			c.UserID = ""
		}
	}
	return p.beginAssertion(ctx, c, creds, ceremonyData{Binding: bindingHash(binding)})
}

// decoys is the credential list of a user who has no passkeys: one id of
// 32 bytes (the length platform authenticators use), the same for the
// same username on every call and replica.
func (p *Passkeys) decoys(ctx context.Context, realmID, username string) ([]protocol.CredentialDescriptor, error) {
	p.decoyMu.Lock()
	key := p.decoyKey
	p.decoyMu.Unlock()
	if key == nil {
		k, err := p.svc.store.InstanceSecret(ctx, decoySecret, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: read the decoys' key: %w", ErrUnavailable, err)
		}
		p.decoyMu.Lock()
		p.decoyKey, key = k, k
		p.decoyMu.Unlock()
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(realmID + "\x00" + Normalize(username)))
	return []protocol.CredentialDescriptor{{Type: protocol.PublicKeyCredentialType, CredentialID: m.Sum(nil)}}, nil
}

func (p *Passkeys) beginAssertion(ctx context.Context, c *storage.Ceremony, creds []protocol.CredentialDescriptor, d ceremonyData, opts ...webauthn.LoginOption) (*AssertionOptions, error) {
	opts = append(opts, webauthn.WithUserVerification(p.userVerification()))
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	var err error
	if c.Purpose == CeremonyDiscoverable {
		assertion, session, err = p.rp.BeginDiscoverableLogin(opts...)
	} else {
		user := &webUser{id: c.UserID, name: c.Username, creds: make([]webauthn.Credential, len(creds))}
		for i, cd := range creds {
			user.creds[i] = webauthn.Credential{ID: cd.CredentialID, Transport: cd.Transport}
		}
		if c.UserID == "" {
			user.id = "decoy"
		}
		assertion, session, err = p.rp.BeginLogin(user, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("accounts: begin sign-in: %w", err)
	}
	d.Session = *session
	if err := p.store(ctx, c, d); err != nil {
		return nil, err
	}
	return &AssertionOptions{Options: assertion.Response}, nil
}

// AssertionFinish is the authenticator's answer to a sign-in or a
// confirmation, in its parts (binary values decoded).
type AssertionFinish struct {
	// Purpose is CeremonyLogin, CeremonyDiscoverable or CeremonyTx.
	Purpose string
	// Username, when not empty, must be the ceremony's.
	Username          string
	Challenge         string // base64url, as sent to the authenticator
	CredentialID      []byte
	ClientDataJSON    []byte
	AuthenticatorData []byte
	Signature         []byte
	UserHandle        []byte
	// Binding is the one the sign-in began with.
	Binding string
}

// PasskeyLogin is a verified assertion.
type PasskeyLogin struct {
	User       *User
	Credential *Credential
	// UserVerified tells whether the authenticator verified the person
	// (a PIN or biometric), not only their presence.
	UserVerified bool
	// TxID and ServerNonce are a confirmation's (CeremonyTx).
	TxID, ServerNonce string

	// What Consume writes: the ceremony to use up, the counter to store.
	ceremonyID, realmID string
	signCount           uint32
	backupState         bool
}

// FinishLogin verifies the assertion (VerifyLogin) and uses its ceremony
// up (Consume) in a transaction of its own. It must run outside a
// transaction. A refused assertion is a *PasskeyError.
func (p *Passkeys) FinishLogin(ctx context.Context, realm *config.Realm, in AssertionFinish) (*PasskeyLogin, error) {
	l, err := p.VerifyLogin(ctx, realm, in)
	if err != nil {
		return nil, err
	}
	if err := p.svc.store.InTx(ctx, func(ctx context.Context) error { return p.Consume(ctx, l) }); err != nil {
		return nil, err
	}
	return l, nil
}

// VerifyLogin verifies an assertion without writing anything when it
// verifies: the credential must be an active passkey of the ceremony's
// user (of the user its user handle names, for a discoverable sign-in),
// the user active, the signature, origin, rp id hash, flags and challenge
// right, and the signature counter must increase — a counter that does
// not makes the credential inactive at once (possibly cloned). A refused
// answer uses the ceremony up. A verified one is used up by Consume, in
// the transaction that stores what the sign-in gives (a token, a
// session): so a sign-in is one write. It must run outside a transaction.
// A refused assertion is a *PasskeyError.
func (p *Passkeys) VerifyLogin(ctx context.Context, realm *config.Realm, in AssertionFinish) (*PasskeyLogin, error) {
	c, d, err := p.peek(ctx, realm.ID, in.Purpose, in.Challenge, in.Binding)
	if err != nil {
		return nil, err
	}
	l, err := p.verifyLogin(ctx, realm, in, c, d)
	if err != nil {
		var pe *PasskeyError
		if errors.As(err, &pe) {
			p.burn(ctx, c.ID, false)
		}
		return nil, err
	}
	return l, nil
}

// Consume uses up a verified sign-in's ceremony and stores its signature
// counter, in ctx's transaction (if any): of concurrent Consumes of one
// ceremony, on any replica, one succeeds; the others, and a counter
// overtaken meanwhile by another sign-in of the same passkey, are a
// *PasskeyError (the caller's transaction then rolls back).
func (p *Passkeys) Consume(ctx context.Context, l *PasskeyLogin) error {
	if l == nil || l.ceremonyID == "" {
		return errors.New("accounts: consume: not a verified sign-in")
	}
	switch err := p.svc.store.DeleteCeremony(ctx, l.ceremonyID); {
	case errors.Is(err, storage.ErrNotFound):
		return refused(reasonChallenge, err)
	case err != nil:
		return fmt.Errorf("%w: use the ceremony up: %w", ErrUnavailable, err)
	}
	switch err := p.svc.store.RecordPasskeyUse(ctx, l.realmID, l.Credential.UUID, l.signCount, l.backupState, p.svc.now().UTC()); {
	case errors.Is(err, storage.ErrCounterNotIncreased):
		return refused(reasonCounterRace, err)
	case errors.Is(err, storage.ErrNotFound):
		return refused(reasonUnknown, err)
	case err != nil:
		return fmt.Errorf("%w: record the passkey's use: %w", ErrUnavailable, err)
	}
	return nil
}

func (p *Passkeys) verifyLogin(ctx context.Context, realm *config.Realm, in AssertionFinish, c *storage.Ceremony, d *ceremonyData) (*PasskeyLogin, error) {
	if in.Username != "" && Normalize(in.Username) != Normalize(c.Username) {
		return nil, refused(reasonBinding, nil)
	}
	pk, rows, err := p.assertedPasskey(ctx, realm.ID, c, in.CredentialID)
	switch {
	case err != nil:
		return nil, err
	case len(in.UserHandle) > 0 && !bytes.Equal(in.UserHandle, []byte(pk.UserID)):
		return nil, refused(reasonBinding, nil)
	}
	u, err := p.activeUser(ctx, realm.ID, pk.UserID)
	if err != nil {
		return nil, err
	}
	creds := make([]webauthn.Credential, 0, len(rows))
	for _, r := range rows {
		creds = append(creds, toWebAuthn(r))
	}
	body, err := json.Marshal(map[string]any{
		"id": b64(in.CredentialID), "rawId": b64(in.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(in.ClientDataJSON), "authenticatorData": b64(in.AuthenticatorData),
			"signature": b64(in.Signature), "userHandle": b64(in.UserHandle)},
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: encode assertion: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, refused(reasonInvalid, err)
	}
	user := &webUser{id: u.ID, name: c.Username, creds: creds}
	if c.Purpose == CeremonyDiscoverable {
		_, err = p.rp.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return user, nil }, d.Session, parsed)
	} else {
		_, err = p.rp.ValidateLogin(user, d.Session, parsed)
	}
	if err != nil {
		return nil, refused(reasonInvalid, err)
	}
	flags, count := parsed.Response.AuthenticatorData.Flags, parsed.Response.AuthenticatorData.Counter
	if count <= pk.SignCount && (count != 0 || pk.SignCount != 0) {
		// The counter did not increase. An answer replayed after its first
		// use committed looks the same: only the request that uses the
		// ceremony up now may judge, so a replay cannot get a good passkey
		// marked as cloned.
		switch err := p.svc.store.DeleteCeremony(ctx, c.ID); {
		case errors.Is(err, storage.ErrNotFound):
			return nil, refused(reasonChallenge, err)
		case err != nil:
			return nil, fmt.Errorf("%w: use the ceremony up: %w", ErrUnavailable, err)
		}
		// The counter went backwards: the inactive mark is written now (a
		// statement of its own), whatever happens to the caller's request.
		err := p.svc.store.RecordPasskeyUse(ctx, realm.ID, pk.UUID, count, flags.HasBackupState(), p.svc.now().UTC())
		switch {
		case errors.Is(err, storage.ErrCounterNotIncreased):
			p.svc.log.Warn("a passkey's signature counter went backwards: it is marked inactive as possibly cloned; the user must sign in another way and register a new passkey",
				"realm", realm.ID, "user_id", u.ID, "credential_uuid", pk.UUID)
			return nil, refused(reasonCounter, err)
		case errors.Is(err, storage.ErrNotFound):
			return nil, refused(reasonUnknown, err)
		case err != nil:
			return nil, fmt.Errorf("%w: record the passkey's use: %w", ErrUnavailable, err)
		}
		// nil: both counts were 0 after all (stored counts only grow).
	}
	cred := &Credential{UUID: pk.UUID, UserID: pk.UserID, Type: CredentialFIDO2, Name: pk.Name, Status: CredentialActive,
		CreatedAt: pk.CreatedAt, UpdatedAt: pk.UpdatedAt}
	return &PasskeyLogin{User: u, Credential: cred, UserVerified: flags.HasUserVerified(), TxID: d.TxID, ServerNonce: d.ServerNonce,
		ceremonyID: c.ID, realmID: realm.ID, signCount: count, backupState: flags.HasBackupState()}, nil
}

// assertedPasskey finds the passkey credentialID answered ceremony c with:
// an active passkey of the ceremony's user (of its owner, for a
// discoverable sign-in), with that user's active passkeys. When the
// ceremony names the user and the passkey is theirs, it is one read.
func (p *Passkeys) assertedPasskey(ctx context.Context, realmID string, c *storage.Ceremony, credentialID []byte) (*storage.Passkey, []*storage.Passkey, error) {
	if c.UserID == "" && c.Purpose != CeremonyDiscoverable {
		return nil, nil, refused(reasonUnknown, nil) // a decoy's ceremony never finishes
	}
	if c.UserID != "" {
		rows, err := p.svc.store.PasskeysOfUser(ctx, realmID, c.UserID)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: read the passkeys: %w", ErrUnavailable, err)
		}
		for _, r := range rows {
			if bytes.Equal(r.CredentialID, credentialID) {
				return r, rows, nil
			}
		}
	}
	// A discoverable sign-in, or not one of the user's active passkeys:
	// whose is it?
	pk, status, err := p.svc.store.PasskeyByCredentialID(ctx, realmID, credentialID)
	switch {
	case errors.Is(err, storage.ErrNotFound) || (err == nil && status != CredentialActive):
		return nil, nil, refused(reasonUnknown, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: read the passkey: %w", ErrUnavailable, err)
	case c.UserID != "":
		return nil, nil, refused(reasonBinding, nil) // another user's passkey
	}
	rows, err := p.svc.store.PasskeysOfUser(ctx, realmID, pk.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read the passkeys: %w", ErrUnavailable, err)
	}
	return pk, rows, nil
}
