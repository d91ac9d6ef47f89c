package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// activeUser reads user userID of realmID for a ceremony: a user gone or
// deactivated is a refusal.
func (p *Passkeys) activeUser(ctx context.Context, realmID, userID string) (*User, error) {
	u, err := p.svc.Get(ctx, realmID, userID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, refused(reasonUser, err)
	case err != nil:
		return nil, err
	case u.Status != StatusActive:
		return nil, refused(reasonUser, nil)
	}
	return u, nil
}
