package config

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// The file* types mirror the YAML file one to one. The decoder fills them
// over their defaults (defaultFile, and setDefaults for each new list item);
// build then validates them all at once and translates them into a Snapshot.

type fileConfig struct {
	Issuer         string              `yaml:"issuer"`
	Listen         string              `yaml:"listen"`
	TrustedProxies []string            `yaml:"trusted_proxies"`
	Database       fileDatabase        `yaml:"database"`
	SigningKeys    []fileKey           `yaml:"signing_keys"`
	Passwords      filePasswords       `yaml:"passwords"`
	Tokens         fileTokens          `yaml:"tokens"`
	Sessions       fileSessions        `yaml:"sessions"`
	WebAuthn       fileWebAuthn        `yaml:"webauthn"`
	Realms         []fileRealm         `yaml:"realms"`
	Clients        []fileClient        `yaml:"clients"`
	Environments   []fileEnvironment   `yaml:"environments"`
	APICredentials []fileAPICredential `yaml:"api_credentials"`
	APIKeys        []fileAPIKey        `yaml:"api_keys"`
	Compat         fileCompat          `yaml:"compat"`
}

type fileDatabase struct {
	Driver      string `yaml:"driver"`
	DSN         string `yaml:"dsn"`
	AutoMigrate bool   `yaml:"auto_migrate"`
}

type fileKey struct {
	KID     string `yaml:"kid"`
	Alg     string `yaml:"alg"`
	PEM     string `yaml:"pem"`
	PEMFile string `yaml:"pem_file"`
}

type filePasswords struct {
	Argon2id            fileArgon2    `yaml:"argon2id"`
	MaxConcurrentHashes int           `yaml:"max_concurrent_hashes"`
	QueueTimeout        time.Duration `yaml:"queue_timeout"`
}

type fileArgon2 struct {
	Memory      kibSize `yaml:"memory"`
	Iterations  int     `yaml:"iterations"`
	Parallelism int     `yaml:"parallelism"`
}

type fileTokens struct {
	AccessTokenFormat string        `yaml:"access_token_format"`
	AccessTokenTTL    time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL   time.Duration `yaml:"refresh_token_ttl"`
	RefreshGrace      time.Duration `yaml:"refresh_grace"`
	Leeway            time.Duration `yaml:"leeway"`
}

type fileSessions struct {
	TTL         time.Duration `yaml:"ttl"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// fileWebAuthn is the relying party of passkey ceremonies. Empty rp_id,
// rp_display_name and a nil origins are derived from the issuer by build.
type fileWebAuthn struct {
	RPID             string        `yaml:"rp_id"`
	RPDisplayName    string        `yaml:"rp_display_name"`
	Origins          []string      `yaml:"origins"`
	UserVerification string        `yaml:"user_verification"`
	Timeout          time.Duration `yaml:"timeout"`
}

type fileRealm struct {
	ID                string        `yaml:"id"`
	Name              string        `yaml:"name"`
	UsernameIsEmail   bool          `yaml:"username_is_email"`
	PasswordMinLength int           `yaml:"password_min_length"`
	SignupTokenTTL    time.Duration `yaml:"signup_token_ttl"`
	Lockout           fileLockout   `yaml:"lockout"`
	Passkeys          bool          `yaml:"passkeys"`
}

type fileLockout struct {
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
}

type fileClient struct {
	ID              string        `yaml:"id"`
	Realm           string        `yaml:"realm"`
	Secret          string        `yaml:"secret"`
	SecretHash      string        `yaml:"secret_hash"`
	AuthMethod      string        `yaml:"auth_method"`
	PublicKeys      []fileKey     `yaml:"public_keys"`
	GrantTypes      []string      `yaml:"grant_types"`
	Scopes          []string      `yaml:"scopes"`
	Audience        []string      `yaml:"audience"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// Browser sign-in (authorization code).
	Name                     string   `yaml:"name"`
	RedirectURIs             []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs   []string `yaml:"post_logout_redirect_uris"`
	RequirePKCE              bool     `yaml:"require_pkce"`
	Consent                  string   `yaml:"consent"`
	IDTokenSignedResponseAlg string   `yaml:"id_token_signed_response_alg"`
}

type fileEnvironment struct {
	GUID         string        `yaml:"guid"`
	Realm        string        `yaml:"realm"`
	PublicKeys   []fileKey     `yaml:"public_keys"`
	MaxAPTTTL    time.Duration `yaml:"max_apt_ttl"`
	UserTokenTTL time.Duration `yaml:"user_token_ttl"`
	Client       string        `yaml:"client"`
}

type fileAPICredential struct {
	ID         string    `yaml:"id"`
	Realm      string    `yaml:"realm"`
	PublicKeys []fileKey `yaml:"public_keys"`
	Client     string    `yaml:"client"`
	Scopes     []string  `yaml:"scopes"`
}

type fileAPIKey struct {
	ID          string   `yaml:"id"`
	Realm       string   `yaml:"realm"`
	Key         string   `yaml:"key"`
	KeyHash     string   `yaml:"key_hash"`
	Permissions []string `yaml:"permissions"`
}

type fileCompat struct {
	WorkAPI    fileSurface `yaml:"workapi"`
	LoginID    fileSurface `yaml:"loginid"`
	AuthRocket fileSurface `yaml:"authrocket"`
	Legacy     fileLegacy  `yaml:"legacy"`
}

type fileSurface struct {
	Enabled bool   `yaml:"enabled"`
	Prefix  string `yaml:"prefix"`
}

type fileLegacy struct {
	Enabled bool     `yaml:"enabled"`
	Prefix  string   `yaml:"prefix"`
	Clients []string `yaml:"clients"`
}

// Default values. A config without issuer gets IssuerForListen(listen),
// which is DefaultIssuer for the default listen.
const (
	DefaultIssuer = "http://127.0.0.1:8080"
	DefaultListen = "127.0.0.1:8080"
	DefaultDSN    = "data/latchkey.db"
)

// defaultFile returns the top-level defaults the file is decoded over.
func defaultFile() fileConfig {
	return fileConfig{
		Issuer:   "", // derived from listen (IssuerForListen) unless given
		Listen:   DefaultListen,
		Database: fileDatabase{Driver: "sqlite", DSN: DefaultDSN, AutoMigrate: true},
		Passwords: filePasswords{
			Argon2id:            fileArgon2{Memory: 19 * 1024, Iterations: 2, Parallelism: 1},
			MaxConcurrentHashes: 4,
			QueueTimeout:        2 * time.Second,
		},
		Tokens: fileTokens{
			AccessTokenFormat: FormatJWT,
			AccessTokenTTL:    15 * time.Minute,
			RefreshTokenTTL:   720 * time.Hour,
			RefreshGrace:      0,
			Leeway:            30 * time.Second,
		},
		Sessions: fileSessions{TTL: 24 * time.Hour, IdleTimeout: 2 * time.Hour},
		WebAuthn: fileWebAuthn{UserVerification: UserVerificationPreferred, Timeout: DefaultWebAuthnTimeout},
		Compat: fileCompat{
			WorkAPI:    fileSurface{Enabled: true, Prefix: "/workapi"},
			LoginID:    fileSurface{Enabled: true, Prefix: "/loginid"},
			AuthRocket: fileSurface{Enabled: true, Prefix: "/authrocket"},
			Legacy:     fileLegacy{Enabled: true, Prefix: ""},
		},
	}
}

// defaulter is implemented by list items that have defaults; the decoder
// calls setDefaults on each new item before decoding into it.
type defaulter interface{ setDefaults() }

func (r *fileRealm) setDefaults() {
	r.PasswordMinLength = 10
	r.SignupTokenTTL = 24 * time.Hour
	r.Lockout = fileLockout{MaxFailures: 10, Window: 15 * time.Minute}
}

func (c *fileClient) setDefaults() {
	c.RequirePKCE = true
	c.Consent = ConsentNone
}

func (e *fileEnvironment) setDefaults() {
	e.MaxAPTTTL = 60 * time.Second
	e.UserTokenTTL = 24 * time.Hour
}

// scalarSetter is implemented by file types that parse their own scalar:
// want describes the expected form for messages, and setScalar's error is
// the whole message shown to the user.
type scalarSetter interface {
	want() string
	setScalar(s string) error
}

// kibSize is a memory size in KiB, written as 19MiB, 65536KiB or 1GiB.
type kibSize uint32

var sizeRe = regexp.MustCompile(`^([0-9]+)\s*(KiB|MiB|GiB)$`)

func (k *kibSize) want() string { return "a size like 19MiB or 65536KiB (units KiB, MiB, GiB)" }

func (k *kibSize) setScalar(s string) error {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("must be %s, got %q", k.want(), s)
	}
	n, err := strconv.ParseUint(m[1], 10, 32)
	mult := map[string]uint64{"KiB": 1, "MiB": 1024, "GiB": 1024 * 1024}[m[2]]
	if err != nil || n*mult > 1<<32-1 {
		return fmt.Errorf("size %q is too large (at most 4095GiB)", s)
	}
	*k = kibSize(n * mult)
	return nil
}
