package config

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"
)

// Snapshot is one validated, immutable view of the configuration. A server
// holds the current Snapshot behind an atomic pointer and swaps it whole on
// reload; nothing in a Snapshot may be modified after Load returns it.
type Snapshot struct {
	// Source names where the snapshot came from: a file path, or
	// "development defaults (data/latchkey.yaml)".
	Source string
	// Warnings are non-fatal findings (plain secrets, argon2id client
	// secrets), each as "FILE:LINE: key.path: message".
	Warnings []string

	Issuer string
	Listen string
	// TrustedProxies are the proxies whose X-Forwarded-For the server
	// believes, as IP addresses ("127.0.0.1", "::1") and CIDR networks
	// ("10.0.0.0/8"), normalised: lower case, IPv4-mapped IPv6 written as
	// IPv4, a one-address network as the bare address, no duplicates. nil
	// (the default) trusts no proxy: the client address is always the
	// connection's. It is in the form gin's Engine.SetTrustedProxies takes,
	// and applies on reload.
	TrustedProxies []string
	Database       Database
	SigningKeys    []SigningKey // the first is the active key; all are published
	Passwords      Passwords
	Tokens         Tokens
	Sessions       Sessions
	// WebAuthn is always filled (its defaults derived from the issuer), even
	// when no realm has passkeys.
	WebAuthn WebAuthn

	Realms         []*Realm
	Clients        []*Client
	Environments   []*Environment
	APICredentials []*APICredential
	APIKeys        []*APIKey
	Compat         Compat

	realms         map[string]*Realm
	clients        map[string]*Client
	environments   map[string]*Environment
	apiCredentials map[string]*APICredential
	apiKeys        map[[sha256.Size]byte]apiKeyEntry // by the SHA-256 of the key
}

// apiKeyEntry is an API key with its decoded hash.
type apiKeyEntry struct {
	digest [sha256.Size]byte
	key    *APIKey
}

// Database says where users, tokens and runtime state live.
type Database struct {
	Driver      string // "sqlite" or "mysql"
	DSN         string
	AutoMigrate bool
}

// Algorithm names accepted for keys.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// SigningKey is a private key the server signs tokens with.
type SigningKey struct {
	KID string
	Alg string // AlgES256, AlgRS256 or AlgEdDSA
	Key crypto.Signer
}

// PublicKey is a key that verifies tokens signed elsewhere (client
// assertions, APTs, service tokens). Key is *rsa.PublicKey,
// *ecdsa.PublicKey or ed25519.PublicKey, always matching Alg.
type PublicKey struct {
	KID string // may be empty outside signing_keys
	Alg string
	Key crypto.PublicKey
}

// Argon2Params are the argon2id cost parameters for new password hashes.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// Passwords configures user password hashing.
type Passwords struct {
	Argon2id            Argon2Params
	MaxConcurrentHashes int
	QueueTimeout        time.Duration
}

// Access token formats.
const (
	FormatJWT    = "jwt"
	FormatOpaque = "opaque"
)

// Tokens holds the default token settings.
type Tokens struct {
	AccessTokenFormat string // FormatJWT or FormatOpaque
	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	RefreshGrace      time.Duration
	Leeway            time.Duration
}

// Sessions configures browser sessions (the login page's single sign-on).
type Sessions struct {
	// TTL is a session's absolute lifetime from sign-in.
	TTL time.Duration
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration
}

// User verification requirements of passkey ceremonies (WebAuthn's
// UserVerificationRequirement).
const (
	UserVerificationRequired    = "required"
	UserVerificationPreferred   = "preferred"
	UserVerificationDiscouraged = "discouraged"
)

// DefaultWebAuthnTimeout is how long a ceremony's challenge lives unless
// webauthn.timeout says otherwise.
const DefaultWebAuthnTimeout = 2 * time.Minute

// WebAuthn is the relying party of passkey ceremonies, defaults applied.
type WebAuthn struct {
	// RPID is the relying-party id, a domain name in lower case (never an IP
	// address when a realm has passkeys). The default is the issuer's host.
	RPID string
	// RPDisplayName is shown by authenticators; the default is the issuer's
	// host without its port.
	RPDisplayName string
	// Origins are the clientData origins accepted, each scheme://host[:port]
	// in lower case, without a default port, a path or a trailing slash, like
	// "https://example.com" or "http://localhost:8080". The default is the
	// issuer's origin.
	Origins []string
	// UserVerification is UserVerificationRequired, UserVerificationPreferred
	// (the default) or UserVerificationDiscouraged.
	UserVerification string
	// Timeout is how long a ceremony's challenge lives (it is single-use);
	// the default is DefaultWebAuthnTimeout.
	Timeout time.Duration
}

// Lockout limits failed password attempts per login name.
type Lockout struct {
	MaxFailures int
	Window      time.Duration
}

// Realm is a namespace of users. Nothing crosses realms.
type Realm struct {
	ID                string
	Name              string
	UsernameIsEmail   bool
	PasswordMinLength int
	SignupTokenTTL    time.Duration
	Lockout           Lockout
	// Passkeys turns on the realm's passkey routes and the login page's
	// passkey button.
	Passkeys bool
}

// Client authentication methods.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// Grant types a client may list.
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantAuthorizationCode = "authorization_code"
)

// Consent settings of a client.
const (
	ConsentNone     = "none"     // a first-party client: no consent page
	ConsentRequired = "required" // the user allows the client once per scope set
)

// Client is an OAuth client declared in the file.
type Client struct {
	ID         string
	Realm      string
	SecretHash string // "sha256:<hex>" or an argon2id PHC string; empty unless a secret method
	AuthMethod string
	PublicKeys []PublicKey // for private_key_jwt
	GrantTypes []string
	Scopes     []string
	Audience   []string
	// AccessTokenTTL and RefreshTokenTTL override Tokens when non-zero.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration

	// Name is shown on the login and consent pages; empty means the id.
	Name string
	// RedirectURIs are the exact redirect URIs of the authorization code
	// flow (compared as strings); PostLogoutRedirectURIs those of logout.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// RequirePKCE is always true for a public client.
	RequirePKCE bool
	// Consent is ConsentNone or ConsentRequired.
	Consent string
	// IDTokenSignedResponseAlg, when set, is the alg of the signing key
	// that signs the client's ID tokens (a configured key of that alg).
	IDTokenSignedResponseAlg string
}

// DisplayName is the client's name, or its id when it has none.
func (c *Client) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Environment is a Work API account provider.
type Environment struct {
	GUID         string
	Realm        string
	PublicKeys   []PublicKey
	MaxAPTTTL    time.Duration
	UserTokenTTL time.Duration
	Client       string
}

// APICredential is a LoginID-style service-token signer.
type APICredential struct {
	ID         string
	Realm      string
	PublicKeys []PublicKey
	Client     string
	Scopes     []string
}

// APIKey is an AuthRocket-style API key.
type APIKey struct {
	ID          string
	Realm       string
	KeyHash     string // "sha256:<hex>", lower case; never another scheme
	Permissions []string
}

// Surface is one compatibility surface's switch and route prefix.
type Surface struct {
	Enabled bool
	Prefix  string
}

// LegacySurface is the 2015 legacy REST API's settings.
type LegacySurface struct {
	Surface
	Clients []string
}

// Compat switches the compatibility surfaces.
type Compat struct {
	WorkAPI    Surface
	LoginID    Surface
	AuthRocket Surface
	Legacy     LegacySurface
}

// Realm returns the realm with the given id, or nil.
func (s *Snapshot) Realm(id string) *Realm { return s.realms[id] }

// Client returns the client with the given id, or nil.
func (s *Snapshot) Client(id string) *Client { return s.clients[id] }

// Environment returns the environment with the given GUID, or nil.
func (s *Snapshot) Environment(guid string) *Environment { return s.environments[guid] }

// APICredential returns the API credential with the given id, or nil.
func (s *Snapshot) APICredential(id string) *APICredential { return s.apiCredentials[id] }

// LookupAPIKey returns the API key whose hash is the SHA-256 of presented,
// or nil: one hash and one map lookup, whatever the number of keys, and the
// digests compared in constant time. The key names its realm.
func (s *Snapshot) LookupAPIKey(presented string) *APIKey {
	if presented == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(presented))
	e, ok := s.apiKeys[sum]
	if !ok || subtle.ConstantTimeCompare(sum[:], e.digest[:]) != 1 {
		return nil
	}
	return e.key
}

// PasskeysEnabled reports whether any realm has passkeys.
func (s *Snapshot) PasskeysEnabled() bool {
	for _, r := range s.Realms {
		if r.Passkeys {
			return true
		}
	}
	return false
}

// ActiveSigningKey returns the key new tokens are signed with.
func (s *Snapshot) ActiveSigningKey() SigningKey { return s.SigningKeys[0] }

// SigningKeyFor returns the first signing key of alg, or false. An empty alg
// is the active key.
func (s *Snapshot) SigningKeyFor(alg string) (SigningKey, bool) {
	if alg == "" {
		return s.ActiveSigningKey(), true
	}
	for _, k := range s.SigningKeys {
		if k.Alg == alg {
			return k, true
		}
	}
	return SigningKey{}, false
}

// index builds the lookup maps; Load calls it once before returning.
func (s *Snapshot) index() {
	s.realms = make(map[string]*Realm, len(s.Realms))
	for _, r := range s.Realms {
		s.realms[r.ID] = r
	}
	s.clients = make(map[string]*Client, len(s.Clients))
	for _, c := range s.Clients {
		s.clients[c.ID] = c
	}
	s.environments = make(map[string]*Environment, len(s.Environments))
	for _, e := range s.Environments {
		s.environments[e.GUID] = e
	}
	s.apiCredentials = make(map[string]*APICredential, len(s.APICredentials))
	for _, c := range s.APICredentials {
		s.apiCredentials[c.ID] = c
	}
	s.apiKeys = make(map[[sha256.Size]byte]apiKeyEntry, len(s.APIKeys))
	for _, k := range s.APIKeys {
		e, h := apiKeyEntry{key: k}, strings.TrimPrefix(k.KeyHash, "sha256:")
		if len(h) != hex.EncodedLen(sha256.Size) {
			continue // cannot happen: build accepts only sha256 hashes
		}
		if _, err := hex.Decode(e.digest[:], []byte(h)); err == nil {
			s.apiKeys[e.digest] = e
		}
	}
}

// HasGrant reports whether the client lists the grant type.
func (c *Client) HasGrant(grant string) bool {
	for _, g := range c.GrantTypes {
		if g == grant {
			return true
		}
	}
	return false
}
