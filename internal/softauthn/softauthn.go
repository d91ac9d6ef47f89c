// Package softauthn is a software passkey authenticator for tests and the
// load generator: EC P-256 credentials, "none" attestation, authenticator
// data with the flags and signature counter a real one sets. It answers
// the options a relying party sends (navigator.credentials.create and
// .get) with the parts a WebAuthn response carries. It keeps its keys in
// memory and is not for real use.
//
// It is built on github.com/descope/virtualwebauthn, which writes the
// authenticator data and signatures; softauthn turns its "packed"
// self-attestation into "none" and counts signatures.
package softauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/descope/virtualwebauthn"
	"github.com/fxamacker/cbor/v2"
)

// Authenticator is one software authenticator of a relying party (rp id
// and origin). Its zero value is not usable: make one with [New]. It is
// safe for concurrent use.
type Authenticator struct {
	mu sync.Mutex
	rp virtualwebauthn.RelyingParty
	// auth holds the flags: Options.UserNotPresent and UserNotVerified
	// leave out the UP and UV flags (for tests of refusals).
	auth  virtualwebauthn.Authenticator
	creds []virtualwebauthn.Credential
	users map[string][]byte // credential id (b64url) → user handle
}

// Options change how an authenticator answers, for tests of refusals.
type Options struct {
	// UserNotPresent and UserNotVerified leave out the UP and UV flags.
	UserNotPresent, UserNotVerified bool
}

// New returns an authenticator for rpID whose client data names origin.
func New(rpID, origin string, opts Options) *Authenticator {
	return &Authenticator{
		rp: virtualwebauthn.RelyingParty{ID: rpID, Name: rpID, Origin: origin},
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
			UserNotPresent: opts.UserNotPresent, UserNotVerified: opts.UserNotVerified,
		}),
		users: map[string][]byte{},
	}
}

// Attestation is the answer to a registration, its parts decoded.
type Attestation struct {
	CredentialID      []byte
	ClientDataJSON    []byte
	AttestationObject []byte
}

// Assertion is the answer to a sign-in, its parts decoded.
type Assertion struct {
	CredentialID      []byte
	ClientDataJSON    []byte
	AuthenticatorData []byte
	Signature         []byte
	UserHandle        []byte
}

// Register makes a credential for the creation options (JSON of
// PublicKeyCredentialCreationOptions, or of {"publicKey": …}) and
// answers with "none" attestation.
func (a *Authenticator) Register(options []byte) (*Attestation, error) {
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		return nil, fmt.Errorf("softauthn: creation options: %w", err)
	}
	cred, err := newP256Credential()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	auth := a.auth
	a.mu.Unlock()
	resp := virtualwebauthn.CreateAttestationResponse(a.rp, auth, cred, *opts)
	var parts struct {
		RawID    string `json:"rawId"`
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AttestationObject string `json:"attestationObject"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(resp), &parts); err != nil {
		return nil, fmt.Errorf("softauthn: attestation: %w", err)
	}
	out := &Attestation{}
	if out.CredentialID, err = decode(parts.RawID); err != nil {
		return nil, err
	}
	if out.ClientDataJSON, err = decode(parts.Response.ClientDataJSON); err != nil {
		return nil, err
	}
	packed, err := decode(parts.Response.AttestationObject)
	if err != nil {
		return nil, err
	}
	if out.AttestationObject, err = noneAttestation(packed); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.creds = append(a.creds, cred)
	a.users[base64.RawURLEncoding.EncodeToString(cred.ID)] = []byte(opts.UserID)
	a.mu.Unlock()
	return out, nil
}

// newP256Credential is a credential with a new P-256 key whose
// coordinates are 32 bytes each: virtualwebauthn writes them unpadded into
// the COSE key (big.Int.Bytes), which a relying party rightly refuses for
// the one key in 128 whose coordinate starts with a zero byte.
func newP256Credential() (virtualwebauthn.Credential, error) {
	for {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return virtualwebauthn.Credential{}, fmt.Errorf("softauthn: key: %w", err)
		}
		if len(key.X.Bytes()) != 32 || len(key.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return virtualwebauthn.Credential{}, fmt.Errorf("softauthn: key: %w", err)
		}
		cred := virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
		cred.ID = make([]byte, 32)
		if _, err := rand.Read(cred.ID); err != nil {
			return virtualwebauthn.Credential{}, err
		}
		return cred, nil
	}
}

// noneAttestation rewrites a packed attestation object as "none": the
// same authenticator data, no statement.
func noneAttestation(packed []byte) ([]byte, error) {
	var obj map[string]cbor.RawMessage
	if err := cbor.Unmarshal(packed, &obj); err != nil {
		return nil, fmt.Errorf("softauthn: attestation object: %w", err)
	}
	authData, ok := obj["authData"]
	if !ok {
		return nil, errors.New("softauthn: attestation object without authData")
	}
	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	return enc.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
}

// Assert signs the request options (JSON of
// PublicKeyCredentialRequestOptions, or of {"publicKey": …}) with a
// credential they allow — any of its credentials when they allow none (a
// discoverable sign-in) — and counts the signature. ErrNoCredential when
// it has none that fits.
func (a *Authenticator) Assert(options []byte) (*Assertion, error) {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		return nil, fmt.Errorf("softauthn: request options: %w", err)
	}
	a.mu.Lock()
	var cred *virtualwebauthn.Credential
	for i := range a.creds {
		if len(opts.AllowCredentials) == 0 || a.creds[i].IsAllowedForAssertion(*opts) {
			cred = &a.creds[i]
			break
		}
	}
	if cred == nil {
		a.mu.Unlock()
		return nil, ErrNoCredential
	}
	cred.Counter++
	signing := *cred
	auth := a.auth
	auth.Options.UserHandle = a.users[base64.RawURLEncoding.EncodeToString(cred.ID)]
	a.mu.Unlock()
	return parseAssertion(virtualwebauthn.CreateAssertionResponse(a.rp, auth, signing, *opts))
}

// SetCounter sets the signature counter of every credential (for tests of
// a counter that goes backwards).
func (a *Authenticator) SetCounter(n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.creds {
		a.creds[i].Counter = n
	}
}

// ErrNoCredential: the authenticator has no credential the options allow.
var ErrNoCredential = errors.New("softauthn: no credential for these options")

func parseAssertion(resp string) (*Assertion, error) {
	var parts struct {
		RawID    string `json:"rawId"`
		Response struct {
			ClientDataJSON    string `json:"clientDataJSON"`
			AuthenticatorData string `json:"authenticatorData"`
			Signature         string `json:"signature"`
			UserHandle        string `json:"userHandle"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(resp), &parts); err != nil {
		return nil, fmt.Errorf("softauthn: assertion: %w", err)
	}
	out := &Assertion{}
	var err error
	for _, f := range []struct {
		dst *[]byte
		src string
	}{{&out.CredentialID, parts.RawID}, {&out.ClientDataJSON, parts.Response.ClientDataJSON},
		{&out.AuthenticatorData, parts.Response.AuthenticatorData}, {&out.Signature, parts.Response.Signature},
		{&out.UserHandle, parts.Response.UserHandle}} {
		if *f.dst, err = decode(f.src); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decode(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("softauthn: base64url: %w", err)
	}
	return b, nil
}

// ShareCredentials gives a the credentials of from (the same keys and
// counters from now on each counted apart): a test answers with one
// authenticator's keys but another's origin, rp id or flags.
func (a *Authenticator) ShareCredentials(from *Authenticator) {
	from.mu.Lock()
	creds := append([]virtualwebauthn.Credential(nil), from.creds...)
	users := make(map[string][]byte, len(from.users))
	for k, v := range from.users {
		users[k] = v
	}
	from.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creds, a.users = creds, users
}
