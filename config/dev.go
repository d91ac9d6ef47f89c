package config

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/secrethash"
)

// Files LoadDev keeps in its data directory.
const (
	DevConfigFile      = "latchkey.yaml"
	DevCredentialsFile = "dev-credentials.txt"
	devSigningKeyFile  = "signing-key.pem"
	devEnvKeyFile      = "environment-key.pem"
	devCredKeyFile     = "credential-key.pem"
)

// DevDemoUsername is the username of the demo user of realm rl_demo, whose
// password LoadDev generates into dev-credentials.txt as DEMO_PASSWORD (the
// server creates the user from there).
const DevDemoUsername = "demo"

// LoadDev loads the development configuration kept in dataDir. When
// dataDir/latchkey.yaml exists it is loaded as it is (it may have been
// edited). Otherwise LoadDev generates a demo setup — a signing key, realm
// rl_demo, a confidential and a legacy client, an environment, an API
// credential, an API key and a demo user's password — writes its private
// keys and its secrets (dev-credentials.txt) and, last, the config file
// (hashes only), all mode
// 0600, then loads that file and reports created. Secrets are written only
// to dev-credentials.txt, never returned.
func LoadDev(dataDir string, lookupEnv func(string) (string, bool)) (snap *Snapshot, created bool, err error) {
	path := filepath.Join(dataDir, DevConfigFile)
	if _, err := os.Stat(path); err == nil {
		snap, err := Load(path, lookupEnv)
		if err != nil {
			return nil, false, err
		}
		snap.Source = "development defaults (" + path + ")"
		return snap, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("config: development defaults: %w", err)
	}
	if err := generateDev(dataDir, time.Now()); err != nil {
		return nil, false, fmt.Errorf("config: generate development defaults in %s: %w", dataDir, err)
	}
	snap, err = Load(path, lookupEnv)
	if err != nil {
		return nil, false, err
	}
	snap.Source = "development defaults (" + path + ")"
	return snap, true, nil
}

// generateDev writes the development files into dataDir: private keys
// first, then the credentials, then the config file, each atomically, so a
// config file never exists without its credentials.
func generateDev(dataDir string, now time.Time) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	signing, err := GenerateKey(AlgES256)
	if err != nil {
		return err
	}
	envKey, err := GenerateKey(AlgRS256)
	if err != nil {
		return err
	}
	credKey, err := GenerateKey(AlgES256)
	if err != nil {
		return err
	}
	kid, err := Thumbprint(signing.Public())
	if err != nil {
		return err
	}
	envPub, err := EncodePublicKeyPEM(envKey.Public())
	if err != nil {
		return err
	}
	credPub, err := EncodePublicKeyPEM(credKey.Public())
	if err != nil {
		return err
	}
	for _, k := range []struct {
		file string
		key  crypto.Signer
	}{{devSigningKeyFile, signing}, {devEnvKeyFile, envKey}, {devCredKeyFile, credKey}} {
		data, err := EncodePrivateKeyPEM(k.key)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dataDir, k.file), data); err != nil {
			return err
		}
	}

	clientSecret, apiKey := secrethash.Generate(), secrethash.Generate()
	clientHash, err := secrethash.Hash(clientSecret)
	if err != nil {
		return err
	}
	keyHash, err := secrethash.Hash(apiKey)
	if err != nil {
		return err
	}
	guid, err := randomGUID()
	if err != nil {
		return err
	}
	demoPassword, err := randomPassword()
	if err != nil {
		return err
	}

	creds := fmt.Sprintf(`# Latchkey development credentials, generated %s. Keep private.
DEMO_CLIENT_ID=demo-backend
DEMO_CLIENT_SECRET=%s
DEMO_LEGACY_CLIENT_ID=legacy-app
DEMO_ENVIRONMENT_GUID=%s
DEMO_ENVIRONMENT_KEY=%s
DEMO_CREDENTIAL_ID=cred_demo
DEMO_CREDENTIAL_KEY=%s
DEMO_API_KEY=%s
DEMO_USERNAME=%s
DEMO_PASSWORD=%s
`, now.UTC().Format(time.RFC3339), clientSecret, guid,
		shellQuote(filepath.Join(dataDir, devEnvKeyFile)), shellQuote(filepath.Join(dataDir, devCredKeyFile)), apiKey,
		DevDemoUsername, demoPassword)
	if err := writeFileAtomic(filepath.Join(dataDir, DevCredentialsFile), []byte(creds)); err != nil {
		return err
	}

	yml := fmt.Sprintf(devTemplate,
		now.UTC().Format(time.RFC3339), DevCredentialsFile,
		yamlQuote(DefaultListen), yamlQuote(filepath.Join(dataDir, "latchkey.db")),
		yamlQuote(kid), devSigningKeyFile,
		yamlQuote(clientHash), yamlQuote(guid), indent(string(envPub), "          "),
		indent(string(credPub), "          "), strings.Join(LoginIDScopes, ", "), yamlQuote(keyHash))
	return writeFileAtomic(filepath.Join(dataDir, DevConfigFile), []byte(yml))
}

const devTemplate = `# Latchkey development configuration, generated %s by "latchkey serve"
# without --config. You may edit it: later starts load it, and SIGHUP reloads it.
# It holds hashes only; the secrets are in %s, written once.
# Relative pem_file paths start at this file's directory.
# issuer: not set, so it is http:// + listen (127.0.0.1 for a 0.0.0.0 host),
# and LATCHKEY_LISTEN moves both. Set it (or LATCHKEY_ISSUER) behind a proxy.
listen: %s
trusted_proxies: []   # proxies whose X-Forwarded-For is believed, like [10.0.0.0/8, 127.0.0.1]
database:
  driver: sqlite
  dsn: %s
  auto_migrate: true
signing_keys:
  - kid: %s
    alg: ES256
    pem_file: %s
passwords:
  argon2id: {memory: 19MiB, iterations: 2, parallelism: 1}
  max_concurrent_hashes: 4
  queue_timeout: 2s
tokens:
  access_token_format: jwt
  access_token_ttl: 15m
  refresh_token_ttl: 720h
  refresh_grace: 0s
  leeway: 30s
# The relying party of passkey ceremonies, for realms with passkeys: true.
# Passkeys need the issuer on a domain name, as WebAuthn and browsers refuse
# an IP address like 127.0.0.1: in development, run the issuer as
# http://localhost:8080 (issuer: http://localhost:8080, LATCHKEY_ISSUER, or
# LATCHKEY_LISTEN=localhost:8080), a secure context for browsers.
webauthn:
  # rp_id: localhost                  # default: the issuer's host; a domain name, never an IP address
  # rp_display_name: Latchkey         # default: the issuer's host
  # origins: [http://localhost:8080]  # accepted clientData origins; default: the issuer's origin
  user_verification: preferred        # required | preferred | discouraged
  timeout: 120s                       # a ceremony's challenge lives this long, single-use
realms:
  - id: rl_demo
    name: Demo
    username_is_email: false
    password_min_length: 10
    signup_token_ttl: 24h
    lockout: {max_failures: 10, window: 15m}
    passkeys: false                   # true needs the issuer on http://localhost:8080 (see webauthn: above)
clients:
  - id: demo-backend
    realm: rl_demo
    auth_method: client_secret_basic
    secret_hash: %s
    grant_types: [client_credentials, password, refresh_token, "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    scopes: [openid, profile, users.read]
  - id: legacy-app
    realm: rl_demo
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile]
    access_token_ttl: 336h
  - id: demo-web                        # browser sign-in (docs/browser-signin.md)
    name: Demo Web App
    realm: rl_demo
    auth_method: none                   # a public client: PKCE is always required
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [http://127.0.0.1:8081/callback]
    post_logout_redirect_uris: [http://127.0.0.1:8081/]
    scopes: [openid, profile, email]
environments:
  - guid: %s
    realm: rl_demo
    public_keys:
      - alg: RS256
        pem: |
%s    max_apt_ttl: 60s
    user_token_ttl: 24h
    client: demo-backend
api_credentials:
  - id: cred_demo
    realm: rl_demo
    public_keys:
      - alg: ES256
        pem: |
%s    client: demo-backend
    scopes: [%s]
api_keys:
  - id: ko_demo
    realm: rl_demo
    key_hash: %s
    permissions: [read, write]
compat:
  workapi: {enabled: true, prefix: /workapi}
  loginid: {enabled: true, prefix: /loginid}
  authrocket: {enabled: true, prefix: /authrocket}
  legacy: {enabled: true, prefix: "", clients: [legacy-app]}
`

// ReadDevCredentials reads dataDir/dev-credentials.txt, the NAME=VALUE lines
// that LoadDev wrote (comments and blank lines skipped, shell quoting
// undone), e.g. DEMO_USERNAME and DEMO_PASSWORD. Values are secrets: never
// log them.
func ReadDevCredentials(dataDir string) (map[string]string, error) {
	path := filepath.Join(dataDir, DevCredentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: development credentials: %w", err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("config: %s:%d: want NAME=VALUE", path, i+1)
		}
		if value, ok = shellUnquote(value); !ok {
			return nil, fmt.Errorf("config: %s:%d: %s: unbalanced quotes", path, i+1, name)
		}
		out[name] = value
	}
	return out, nil
}

// shellUnquote undoes shellQuote: 'text' runs and \' between them are
// joined; a value that does not start with a quote is returned as it is.
func shellUnquote(s string) (string, bool) {
	if !strings.HasPrefix(s, "'") {
		return s, true
	}
	var b strings.Builder
	for s != "" {
		switch {
		case strings.HasPrefix(s, `\'`):
			b.WriteByte('\'')
			s = s[2:]
		case s[0] == '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(s[1 : 1+end])
			s = s[end+2:]
		default:
			return "", false
		}
	}
	return b.String(), true
}

// randomPassword returns a password for the demo user: four groups of five
// random letters and digits joined by "-" (23 characters, about 117 bits),
// which passes the common-password check and any minimum length up to 23.
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/l/I
	const limit = 256 / len(alphabet) * len(alphabet)                            // bytes at or above it are dropped: no modulo bias
	var b strings.Builder
	var buf [32]byte
	for n := 0; n < 20; {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, c := range buf {
			if int(c) >= limit || n == 20 {
				continue
			}
			if n > 0 && n%5 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(alphabet[int(c)%len(alphabet)])
			n++
		}
	}
	return b.String(), nil
}

// randomGUID returns a random (version 4) UUID: 8-4-4-4-12 lower-case hex.
func randomGUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// writeFileAtomic writes data to a temporary file (mode 0600) beside name
// and renames it into place.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// yamlQuote returns s as a double-quoted YAML scalar, with "$" doubled so
// that ${NAME} expansion gives s back.
func yamlQuote(s string) string {
	return strconv.Quote(strings.ReplaceAll(s, "$", "$$"))
}

// indent prefixes each line of text with pad.
func indent(text, pad string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, ln := range lines {
		if ln != "" {
			b.WriteString(pad + ln)
		}
	}
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
