package accounts

// Passkey registration: a new user with a passkey, or a passkey for an
// existing user; verified outside any transaction, stored inside the
// caller's.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// RegistrationStart starts registering a passkey.
type RegistrationStart struct {
	// Purpose is CeremonyRegister (a new user named Username) or
	// CeremonyAddPasskey (a passkey for User).
	Purpose  string
	User     *User
	Username string
	// DisplayName is shown by the authenticator; default the username.
	DisplayName string
	// CrossPlatform asks for a roaming authenticator (a security key or a
	// phone) instead of the device's own.
	CrossPlatform bool
	// Binding, when not empty, ties the ceremony to the caller's own
	// context (the login page's pending request): the finish must present
	// the same binding, so a challenge begun in one context cannot be
	// finished in another.
	Binding string
}

// RegistrationOptions are a started registration: the credential uuid the
// passkey will have, and the options for navigator.credentials.create.
type RegistrationOptions struct {
	CredentialUUID string
	Options        protocol.PublicKeyCredentialCreationOptions
}

// BeginRegistration starts a registration ceremony in realm. For
// CeremonyRegister the username is validated as a new user's and must be
// free (ErrUsernameTaken); the user's id is chosen now and kept with the
// ceremony. For CeremonyAddPasskey the user's passkeys are excluded.
func (p *Passkeys) BeginRegistration(ctx context.Context, realm *config.Realm, in RegistrationStart) (*RegistrationOptions, error) {
	var user *webUser
	c := &storage.Ceremony{Realm: realm.ID, Purpose: in.Purpose, CredentialUUID: newCredentialUUID()}
	switch in.Purpose {
	case CeremonyRegister:
		prepared, err := p.prepareUser(ctx, realm, in.Username)
		if err != nil {
			return nil, err
		}
		switch _, err := p.svc.GetByUsername(ctx, realm.ID, in.Username); {
		case err == nil:
			return nil, ErrUsernameTaken
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		user = &webUser{id: prepared.ID(), name: prepared.row.Username}
	case CeremonyAddPasskey:
		if in.User == nil || in.User.Realm != realm.ID {
			return nil, ErrNotFound
		}
		creds, err := p.passkeysOf(ctx, realm.ID, in.User.ID)
		if err != nil {
			return nil, err
		}
		name := in.User.Username
		if name == "" {
			name = in.User.Email
		}
		if name == "" {
			name = in.User.ID
		}
		user = &webUser{id: in.User.ID, name: name, creds: creds}
	default:
		return nil, fmt.Errorf("accounts: unknown registration purpose %q", in.Purpose)
	}
	user.display = strings.TrimSpace(in.DisplayName)
	if user.display == "" {
		user.display = user.name
	}
	sel := protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementPreferred,
		UserVerification: p.userVerification(),
	}
	if in.CrossPlatform {
		sel.AuthenticatorAttachment = protocol.CrossPlatform
	}
	creation, session, err := p.rp.BeginRegistration(user,
		webauthn.WithAuthenticatorSelection(sel),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(descriptors(user.creds)))
	if err != nil {
		return nil, fmt.Errorf("accounts: begin registration: %w", err)
	}
	c.UserID, c.Username = user.id, user.name
	if err := p.store(ctx, c, ceremonyData{Session: *session, DisplayName: user.display, Binding: bindingHash(in.Binding)}); err != nil {
		return nil, err
	}
	return &RegistrationOptions{CredentialUUID: c.CredentialUUID, Options: creation.Response}, nil
}

// prepareUser validates a new passkey user named username (its e-mail too
// in a realm whose usernames are e-mails).
func (p *Passkeys) prepareUser(ctx context.Context, realm *config.Realm, username string) (*PreparedUser, error) {
	in := NewUser{Username: username}
	if realm.UsernameIsEmail {
		in.Email = username
	}
	return p.svc.Prepare(ctx, realm, in)
}

// RegistrationFinish is the authenticator's answer to a registration, in
// its parts (binary values decoded).
type RegistrationFinish struct {
	Purpose string
	// Username and UserID, when not empty, must be the ceremony's.
	Username, UserID  string
	CredentialUUID    string
	Challenge         string // base64url, as sent to the authenticator
	CredentialID      []byte
	ClientDataJSON    []byte
	AttestationObject []byte
	Transports        []string
	// Name is the credential's name; default PasskeyCredentialName.
	Name string
	// Binding is the one the registration began with.
	Binding string
}

// VerifiedRegistration is a verified registration, ready for
// [Passkeys.InsertRegistration].
type VerifiedRegistration struct {
	user     *PreparedUser // CeremonyRegister only
	existing *User         // CeremonyAddPasskey only, read active when verified
	// UserID and Username are the user the passkey belongs to.
	UserID, Username string
	// UserVerified tells whether the authenticator verified the person.
	UserVerified bool
	cred         storage.Credential
	pk           storage.Passkey
}

// VerifyRegistration uses up the registration's ceremony and verifies the
// authenticator's answer (origin, rp id hash, challenge, flags,
// attestation of any format). It reads but never writes anything else, and
// must run outside a transaction: then [Passkeys.InsertRegistration]
// stores the result in the caller's. A refused answer is a *PasskeyError.
func (p *Passkeys) VerifyRegistration(ctx context.Context, realm *config.Realm, in RegistrationFinish) (*VerifiedRegistration, error) {
	c, d, err := p.take(ctx, realm.ID, in.Purpose, in.Challenge, in.Binding)
	if err != nil {
		return nil, err
	}
	if in.CredentialUUID != c.CredentialUUID || (in.UserID != "" && in.UserID != c.UserID) ||
		(in.Username != "" && Normalize(in.Username) != Normalize(c.Username)) {
		return nil, refused(reasonBinding, nil)
	}
	name := PasskeyCredentialName
	if in.Name != "" {
		if name, err = CheckCredentialName(in.Name); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(map[string]any{
		"id": b64(in.CredentialID), "rawId": b64(in.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(in.ClientDataJSON), "attestationObject": b64(in.AttestationObject), "transports": in.Transports},
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: encode registration: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, refused(reasonInvalid, err)
	}
	v := &VerifiedRegistration{UserID: c.UserID, Username: c.Username}
	user := &webUser{id: c.UserID, name: c.Username, display: d.DisplayName}
	if in.Purpose == CeremonyRegister {
		if v.user, err = p.prepareUser(ctx, realm, c.Username); err != nil {
			return nil, err
		}
		v.user.row.ID = c.UserID
	} else {
		if v.existing, err = p.activeUser(ctx, realm.ID, c.UserID); err != nil {
			return nil, err
		}
		v.Username = v.existing.Username // the ceremony's name may be the e-mail or id
	}
	cred, err := p.rp.CreateCredential(user, d.Session, parsed)
	if err != nil {
		return nil, refused(reasonInvalid, err)
	}
	now := p.svc.now().UTC().Truncate(time.Microsecond)
	ts := knownTransports(cred.Transport)
	v.UserVerified = cred.Flags.UserVerified
	v.cred = storage.Credential{UUID: c.CredentialUUID, Realm: realm.ID, UserID: c.UserID, Type: CredentialFIDO2, Name: name,
		Status: CredentialActive, CreatedAt: now, UpdatedAt: now}
	v.pk = storage.Passkey{UUID: c.CredentialUUID, Realm: realm.ID, UserID: c.UserID, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, Transports: ts, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, AAGUID: cred.Authenticator.AAGUID, AttestationType: cred.AttestationType,
		AttestationFormat: cred.AttestationFormat}
	return v, nil
}

// InsertRegistration stores a verified registration in ctx's transaction
// (if any): the new user first for CeremonyRegister, then the credential.
// A username taken since the ceremony began is ErrUsernameTaken; a
// credential id already registered in the realm is a *PasskeyError.
func (p *Passkeys) InsertRegistration(ctx context.Context, v *VerifiedRegistration) (*User, *Credential, error) {
	user := v.existing
	if v.user != nil {
		var err error
		if user, err = p.svc.Insert(ctx, v.user); err != nil {
			return nil, nil, err
		}
	}
	switch err := p.svc.store.CreatePasskey(ctx, &v.cred, &v.pk); {
	case errors.Is(err, storage.ErrAlreadyExists):
		return nil, nil, refused("This passkey is already registered.", err)
	case errors.Is(err, storage.ErrInvalidInput):
		return nil, nil, refused("The passkey's answer has values too large to store.", err) // a client's, not an outage
	case err != nil:
		return nil, nil, fmt.Errorf("%w: store the passkey: %w", ErrUnavailable, err)
	}
	return user, credentialFromStorage(&v.cred), nil
}

// transports are the AuthenticatorTransport values WebAuthn defines.
var transports = map[protocol.AuthenticatorTransport]bool{protocol.USB: true, protocol.NFC: true, protocol.BLE: true,
	protocol.SmartCard: true, protocol.Hybrid: true, protocol.Internal: true}

// knownTransports keeps the transports a client reported that WebAuthn
// defines, once each: they are hints, and anything else (or a value the
// store cannot hold) is dropped rather than refused.
func knownTransports(in []protocol.AuthenticatorTransport) []string {
	out := []string{}
	for _, t := range in {
		if transports[t] && !slices.Contains(out, string(t)) {
			out = append(out, string(t))
		}
	}
	return out
}
