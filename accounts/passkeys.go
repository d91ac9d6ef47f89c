package accounts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Passkeys: every WebAuthn ceremony goes through [Passkeys], on
// go-webauthn. A ceremony's challenge is 32 random bytes; only its SHA-256
// is stored, with the realm, user, purpose and credential uuid it is bound
// to and go-webauthn's session data, in the database (any replica may
// finish it). Finishing takes the ceremony first — once, across replicas —
// so a challenge is used once even when the response then fails.

// Ceremony purposes.
const (
	// CeremonyRegister creates a user with a passkey.
	CeremonyRegister = "register"
	// CeremonyAddPasskey adds a passkey to an existing user.
	CeremonyAddPasskey = "add_passkey"
	// CeremonyLogin signs a named user in.
	CeremonyLogin = "login"
	// CeremonyDiscoverable signs in whoever's passkey answers (the login
	// page's passkey button: no username first).
	CeremonyDiscoverable = "login_discoverable"
	// CeremonyTx confirms a transaction.
	CeremonyTx = "tx"
)

// PasskeyCredentialName is the name a passkey gets when none is given.
const PasskeyCredentialName = "Passkey"

// ErrPasskeyRefused: a ceremony's response was refused. The error's text
// (a *PasskeyError) is one sentence of ours that may be shown; the
// library's reason is only in its Cause, for the logs.
var ErrPasskeyRefused = errors.New("accounts: passkey refused")

// PasskeyError is a refused ceremony: Reason is shown, Cause is logged.
type PasskeyError struct {
	Reason string
	Cause  error
}

func (e *PasskeyError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrPasskeyRefused) true.
func (e *PasskeyError) Is(target error) bool { return target == ErrPasskeyRefused }

// Unwrap returns the cause.
func (e *PasskeyError) Unwrap() error { return e.Cause }

func refused(reason string, cause error) error { return &PasskeyError{Reason: reason, Cause: cause} }

// Reasons of refusals that callers may test for.
const (
	reasonChallenge   = "The challenge is unknown, already used or expired; start the ceremony again."
	reasonBinding     = "The response belongs to another ceremony, user or credential than the one started."
	reasonUnknown     = "The passkey is not registered, or it is revoked."
	reasonInvalid     = "The passkey's response does not verify."
	reasonCounter     = "The passkey's signature counter went backwards, so it may be cloned; it is now inactive."
	reasonCounterRace = "Another sign-in with this passkey finished first; start the ceremony again."
	reasonUser        = "The user is deactivated or no longer exists."
)

// Passkeys runs the WebAuthn ceremonies of one snapshot's relying party.
// Make one per snapshot with [NewPasskeys]; it is safe for concurrent use.
type Passkeys struct {
	svc *Service
	rp  *webauthn.WebAuthn
	cfg config.WebAuthn

	decoyMu  sync.Mutex
	decoyKey []byte // HMAC key of decoy credential ids, read once
}

// decoySecret names the database's secret that keys decoy credential ids:
// random, shared by every replica, and untouched by key rotation or any
// config change (a decoy that changed while real ids stay would tell).
const decoySecret = "passkey decoys"

// NewPasskeys makes the ceremonies of snap's relying party (webauthn
// section). The decoy credential ids of unknown users are keyed by a
// secret of the database, so every replica answers alike.
func NewPasskeys(svc *Service, snap *config.Snapshot) (*Passkeys, error) {
	cfg := snap.WebAuthn
	rp, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             cfg.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		// Expiry is ours: the stored ceremony's, on the service's clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: webauthn relying party: %w", err)
	}
	return &Passkeys{svc: svc, rp: rp, cfg: cfg}, nil
}

// HasPasskey reports whether user userID of realmID has an active
// passkey; it only reads.
func (p *Passkeys) HasPasskey(ctx context.Context, realmID, userID string) (bool, error) {
	rows, err := p.svc.store.PasskeysOfUser(ctx, realmID, userID)
	if err != nil {
		return false, fmt.Errorf("%w: read the passkeys: %w", ErrUnavailable, err)
	}
	return len(rows) > 0, nil
}

// Timeout is how long a ceremony's challenge lives.
func (p *Passkeys) Timeout() time.Duration { return p.cfg.Timeout }

// webUser is a user as go-webauthn sees one.
type webUser struct {
	id, name, display string
	creds             []webauthn.Credential
}

func (u *webUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *webUser) WebAuthnName() string                       { return u.name }
func (u *webUser) WebAuthnDisplayName() string                { return u.display }
func (u *webUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// ceremonyData is what a stored ceremony carries besides its binding.
type ceremonyData struct {
	Session     webauthn.SessionData `json:"session"`
	DisplayName string               `json:"display_name,omitempty"`
	TxID        string               `json:"tx_id,omitempty"`
	ServerNonce string               `json:"server_nonce,omitempty"`
	// Binding is the SHA-256 (hex) of the caller's binding, when it gave
	// one: the finish must present the same (see RegistrationStart.Binding).
	Binding string `json:"binding,omitempty"`
}

// bindingHash is what a ceremony keeps of a caller's binding.
func bindingHash(binding string) string {
	if binding == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("latchkey ceremony binding\x00" + binding))
	return hex.EncodeToString(sum[:])
}

// challengeID is the stored id of a challenge (base64url, as sent).
func challengeID(challenge string) string {
	sum := sha256.Sum256([]byte(challenge))
	return hex.EncodeToString(sum[:])
}

// store records a started ceremony; the challenge itself is not kept.
func (p *Passkeys) store(ctx context.Context, c *storage.Ceremony, d ceremonyData) error {
	c.ID = challengeID(d.Session.Challenge)
	d.Session.Challenge = ""
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("accounts: encode ceremony: %w", err)
	}
	c.Data = data
	c.ExpiresAt = p.svc.now().UTC().Add(p.cfg.Timeout)
	switch err := p.svc.store.CreateCeremony(ctx, c); {
	case errors.Is(err, storage.ErrInvalidInput):
		return fmt.Errorf("%w: %w", ErrInvalidUser, err) // a username or name too long to store
	case err != nil:
		return fmt.Errorf("%w: store the ceremony: %w", ErrUnavailable, err)
	}
	return nil
}

// take uses up the ceremony of challenge in realm for purpose, once; its
// binding must be binding's.
func (p *Passkeys) take(ctx context.Context, realmID, purpose, challenge, binding string) (*storage.Ceremony, *ceremonyData, error) {
	return p.ceremony(ctx, realmID, purpose, challenge, binding, true)
}

// peek reads the ceremony of challenge as take does, without using it up:
// a refusal here uses it up (a challenge answered wrong is dead), a
// success leaves that to Consume.
func (p *Passkeys) peek(ctx context.Context, realmID, purpose, challenge, binding string) (*storage.Ceremony, *ceremonyData, error) {
	return p.ceremony(ctx, realmID, purpose, challenge, binding, false)
}

func (p *Passkeys) ceremony(ctx context.Context, realmID, purpose, challenge, binding string, use bool) (*storage.Ceremony, *ceremonyData, error) {
	if challenge == "" {
		return nil, nil, refused(reasonChallenge, nil)
	}
	read := p.svc.store.PeekCeremony
	if use {
		read = p.svc.store.TakeCeremony
	}
	c, err := read(ctx, challengeID(challenge), p.svc.now().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil, refused(reasonChallenge, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: read the ceremony: %w", ErrUnavailable, err)
	case c.Realm != realmID || c.Purpose != purpose:
		p.burn(ctx, c.ID, use)
		return nil, nil, refused(reasonBinding, nil)
	}
	var d ceremonyData
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return nil, nil, fmt.Errorf("accounts: decode ceremony: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(d.Binding), []byte(bindingHash(binding))) != 1 {
		p.burn(ctx, c.ID, use)
		return nil, nil, refused(reasonBinding, nil)
	}
	d.Session.Challenge = challenge
	return c, &d, nil
}

// burn uses up a peeked ceremony whose answer was refused (a taken one is
// gone already). It is best effort: a failure leaves the ceremony to
// expire, and Consume still takes it only once.
func (p *Passkeys) burn(ctx context.Context, id string, taken bool) {
	if !taken {
		_ = p.svc.store.DeleteCeremony(ctx, id)
	}
}

// passkeysOf returns user's active passkeys as go-webauthn credentials,
// with the stored rows by credential id.
func (p *Passkeys) passkeysOf(ctx context.Context, realmID, userID string) ([]webauthn.Credential, error) {
	rows, err := p.svc.store.PasskeysOfUser(ctx, realmID, userID)
	if err != nil {
		return nil, fmt.Errorf("%w: read the passkeys: %w", ErrUnavailable, err)
	}
	out := make([]webauthn.Credential, 0, len(rows))
	for _, r := range rows {
		out = append(out, toWebAuthn(r))
	}
	return out, nil
}

func toWebAuthn(r *storage.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, 0, len(r.Transports))
	for _, t := range r.Transports {
		ts = append(ts, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: r.CredentialID, PublicKey: r.PublicKey, AttestationType: r.AttestationType, AttestationFormat: r.AttestationFormat,
		Transport:     ts,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: r.UserVerified, BackupEligible: r.BackupEligible, BackupState: r.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: r.AAGUID, SignCount: r.SignCount},
	}
}

func descriptors(creds []webauthn.Credential) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		out = append(out, c.Descriptor())
	}
	return out
}

// allowList is the allowCredentials of a sign-in: the credential ids
// without their transports. Transports are only hints, and they would tell
// a real passkey (whose transports depend on where it was registered)
// from a decoy.
func allowList(creds []webauthn.Credential) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		out = append(out, protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: c.ID})
	}
	return out
}

func (p *Passkeys) userVerification() protocol.UserVerificationRequirement {
	return protocol.UserVerificationRequirement(p.cfg.UserVerification)
}

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
	user *PreparedUser // CeremonyRegister only
	// UserID is the user the passkey belongs to.
	UserID string
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
	v := &VerifiedRegistration{UserID: c.UserID}
	user := &webUser{id: c.UserID, name: c.Username, display: d.DisplayName}
	if in.Purpose == CeremonyRegister {
		if v.user, err = p.prepareUser(ctx, realm, c.Username); err != nil {
			return nil, err
		}
		v.user.row.ID = c.UserID
	} else {
		switch u, err := p.svc.Get(ctx, realm.ID, c.UserID); {
		case errors.Is(err, ErrNotFound):
			return nil, refused(reasonUser, err)
		case err != nil:
			return nil, err
		case u.Status != StatusActive:
			return nil, refused(reasonUser, nil)
		}
	}
	cred, err := p.rp.CreateCredential(user, d.Session, parsed)
	if err != nil {
		return nil, refused(reasonInvalid, err)
	}
	now := p.svc.now().UTC().Truncate(time.Microsecond)
	ts := make([]string, 0, len(cred.Transport))
	for _, t := range cred.Transport {
		ts = append(ts, string(t))
	}
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
	var user *User
	var err error
	if v.user != nil {
		if user, err = p.svc.Insert(ctx, v.user); err != nil {
			return nil, nil, err
		}
	} else if user, err = p.svc.Get(ctx, v.cred.Realm, v.UserID); err != nil {
		return nil, nil, err
	}
	switch err := p.svc.store.CreatePasskey(ctx, &v.cred, &v.pk); {
	case errors.Is(err, storage.ErrAlreadyExists):
		return nil, nil, refused("This passkey is already registered.", err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: store the passkey: %w", ErrUnavailable, err)
	}
	return user, credentialFromStorage(&v.cred), nil
}

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
	u, err := p.svc.Get(ctx, realm.ID, pk.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, refused(reasonUser, err)
	case err != nil:
		return nil, err
	case u.Status != StatusActive:
		return nil, refused(reasonUser, nil)
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

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newCredentialUUID is a random RFC 9562 version 4 UUID.
func newCredentialUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
