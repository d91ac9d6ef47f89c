package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// build validates the decoded file all at once and translates it into a
// Snapshot. Problems go to l.errs; the Snapshot is only used when there are
// none.
func (l *loader) build(fc *fileConfig) *Snapshot {
	listen := l.listen(fc.Listen)
	s := &Snapshot{
		Issuer:         l.issuer(fc.Issuer, listen),
		Listen:         listen,
		TrustedProxies: l.trustedProxies(fc.TrustedProxies),
		Database:       l.database(fc.Database),
		SigningKeys:    l.signingKeys(fc.SigningKeys),
		Passwords:      l.passwords(fc.Passwords),
		Tokens:         l.tokens(fc.Tokens),
		Sessions:       l.sessions(fc.Sessions),
	}
	// Order matters from here on: each section refers only to those before.
	s.Realms = l.realms(fc.Realms)
	s.WebAuthn = l.webAuthn(fc.WebAuthn, s.Issuer, fc.Realms)
	l.passkeySigningKey(fc.SigningKeys, fc.Realms)
	s.Clients = l.clientList(fc.Clients)
	l.idTokenAlgs(s.Clients, fc.SigningKeys)
	s.Environments = l.environments(fc.Environments)
	s.APICredentials = l.apiCredentials(fc.APICredentials)
	s.APIKeys = l.apiKeys(fc.APIKeys)
	s.Compat = l.compat(fc.Compat)
	l.loginIDSigningKey(fc.SigningKeys, s.Compat.LoginID)
	return s
}

// loginIDSigningKey requires an ES256 active signing key when the LoginID
// surface is on: LoginID's server SDKs verify the user tokens it issues
// only as ES256 JWTs with a kid.
func (l *loader) loginIDSigningKey(keys []fileKey, loginID Surface) {
	if !loginID.Enabled || len(keys) == 0 || keys[0].Alg == AlgES256 || !slices.Contains(allAlgs, keys[0].Alg) {
		return
	}
	l.errorf("signing_keys[0].alg", "the first (active) signing key must be ES256 while compat.loginid is enabled, got %s: "+
		"LoginID's SDKs verify the tokens that surface issues only as ES256 JWTs. Put an ES256 key first "+
		"(latchkey keys generate --alg ES256) and keep this one after it, or set compat.loginid.enabled: false", keys[0].Alg)
}

// issuer validates the issuer; without one (in the file or LATCHKEY_ISSUER)
// it is derived from listen, so that moving the port moves both.
func (l *loader) issuer(raw, listen string) string {
	if raw == "" {
		return IssuerForListen(listen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.ContainsAny(raw, "?#") {
		l.errorf("issuer", "must be an absolute http(s) URL without user info, query or fragment, like https://auth.example.com; got %q", raw)
		return raw
	}
	l.checkIssuerPort(u, listen)
	return strings.TrimRight(raw, "/")
}

// IssuerForListen is the issuer of a config that names none: http:// and the
// listen address, with 127.0.0.1 for an empty or wildcard host
// (0.0.0.0:9090 gives http://127.0.0.1:9090). For port 0 (any free port),
// or an address that does not parse, it is DefaultIssuer.
func IssuerForListen(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" || port == "" {
		return DefaultIssuer
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// checkIssuerPort warns when the issuer and listen are both on this machine
// (a loopback host) but on different ports: the development case where
// LATCHKEY_LISTEN moved the port and the issuer still names the old one.
func (l *loader) checkIssuerPort(u *url.URL, listen string) {
	lhost, lport, err := net.SplitHostPort(listen)
	if err != nil || lport == "0" || !isLoopbackHost(lhost) || !isLoopbackHost(u.Hostname()) {
		return
	}
	iport := u.Port()
	if iport == "" {
		iport = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if iport == lport {
		return
	}
	from := ""
	if v := l.overridden["listen"]; v != "" {
		from = " (from " + v + ")"
	}
	l.warnf("issuer", "%s names port %s, but the server listens on %s%s, so tokens and discovery name the wrong address; "+
		"set LATCHKEY_ISSUER=%s, or remove issuer: to derive it from listen", u.String(), iport, listen, from, IssuerForListen(listen))
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (l *loader) listen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		l.errorf("listen", "must be host:port, like 127.0.0.1:8080 or :8080; got %q", addr)
	}
	return addr
}

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9.-]*[A-Za-z][A-Za-z0-9.-]*$`)

func (l *loader) database(d fileDatabase) Database {
	if d.Driver != "sqlite" && d.Driver != "mysql" {
		l.errorf("database.driver", "must be sqlite or mysql, got %q", d.Driver)
	}
	if d.DSN == "" {
		l.errorf("database.dsn", "required: a file path for sqlite (data/latchkey.db), user:pass@tcp(host:3306)/latchkey?parseTime=true for mysql")
	}
	return Database{Driver: d.Driver, DSN: d.DSN, AutoMigrate: d.AutoMigrate}
}

// allAlgs are the algorithms a key may have, in the order messages list them.
var allAlgs = []string{AlgES256, AlgRS256, AlgEdDSA}

func (l *loader) signingKeys(keys []fileKey) []SigningKey {
	if len(keys) == 0 {
		l.errorf("signing_keys", "at least one signing key is required (latchkey keys generate --alg ES256 prints one)")
		return nil
	}
	kids := map[string]string{}
	out := make([]SigningKey, 0, len(keys))
	for i, k := range keys {
		path := fmt.Sprintf("signing_keys[%d]", i)
		if k.KID == "" {
			l.errorf(path+".kid", "required: each signing key needs a unique kid (latchkey keys generate prints one)")
		} else {
			l.unique(kids, k.KID, path+".kid", "kid")
		}
		algOK := l.checkAlg(k.Alg, path, allAlgs)
		data, src, ok := l.keyPEM(k, path)
		if !ok {
			continue
		}
		signer, err := ParsePrivateKeyPEM(data)
		if err != nil {
			l.errorf(src, "%v", err)
			continue
		}
		if algOK {
			if err := CheckKeyAlg(k.Alg, signer.Public()); err != nil {
				l.errorf(path+".alg", "%v", err)
				continue
			}
		}
		out = append(out, SigningKey{KID: k.KID, Alg: k.Alg, Key: signer})
	}
	return out
}

// publicKeys parses a list of public keys whose algorithms must be among
// allowed; kids are optional but unique within the list.
func (l *loader) publicKeys(keys []fileKey, path string, allowed []string) []PublicKey {
	kids := map[string]string{}
	var out []PublicKey
	for i, k := range keys {
		p := fmt.Sprintf("%s[%d]", path, i)
		if k.KID != "" {
			l.unique(kids, k.KID, p+".kid", "kid")
		}
		algOK := l.checkAlg(k.Alg, p, allowed)
		data, src, ok := l.keyPEM(k, p)
		if !ok {
			continue
		}
		pub, err := ParsePublicKeyPEM(data)
		if err != nil {
			l.errorf(src, "%v", err)
			continue
		}
		if algOK {
			if err := CheckKeyAlg(k.Alg, pub); err != nil {
				l.errorf(p+".alg", "%v", err)
				continue
			}
		}
		out = append(out, PublicKey{KID: k.KID, Alg: k.Alg, Key: pub})
	}
	return out
}

func (l *loader) checkAlg(alg, path string, allowed []string) bool {
	switch {
	case alg == "":
		l.errorf(path+".alg", "required (%s)", orList(allowed))
	case slices.Contains(allowed, alg):
		return true
	case slices.Contains(allAlgs, alg):
		l.errorf(path+".alg", "%s is not allowed here (want %s)", alg, orList(allowed))
	default:
		l.errorf(path+".alg", "unknown alg %q (want %s)", alg, orList(allowed))
	}
	return false
}

// keyPEM returns the PEM text of a key and the key path it came from.
func (l *loader) keyPEM(k fileKey, path string) ([]byte, string, bool) {
	switch {
	case k.PEM != "" && k.PEMFile != "":
		l.errorf(path+".pem_file", "give either pem or pem_file, not both")
	case k.PEM != "":
		return []byte(strings.ReplaceAll(k.PEM, `\n`, "\n")), path + ".pem", true
	case k.PEMFile != "":
		name := k.PEMFile
		if !filepath.IsAbs(name) {
			name = filepath.Join(l.baseDir, name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			l.errorf(path+".pem_file", "cannot read the key file (relative paths start at the config file's directory): %v", err)
			return nil, "", false
		}
		return data, path + ".pem_file", true
	default:
		l.errorf(path, "needs pem (the PEM text) or pem_file (a path relative to the config file)")
	}
	return nil, "", false
}

func (l *loader) passwords(p filePasswords) Passwords {
	if p.Argon2id.Memory < 8*1024 {
		l.errorf("passwords.argon2id.memory", "must be at least 8MiB, got %dKiB", p.Argon2id.Memory)
	}
	if p.Argon2id.Iterations < 1 {
		l.errorf("passwords.argon2id.iterations", "must be at least 1, got %d", p.Argon2id.Iterations)
	}
	if p.Argon2id.Parallelism < 1 || p.Argon2id.Parallelism > 16 {
		l.errorf("passwords.argon2id.parallelism", "must be between 1 and 16, got %d", p.Argon2id.Parallelism)
	}
	if p.MaxConcurrentHashes < 1 {
		l.errorf("passwords.max_concurrent_hashes", "must be at least 1, got %d", p.MaxConcurrentHashes)
	}
	l.nonNegative("passwords.queue_timeout", p.QueueTimeout)
	return Passwords{
		Argon2id: Argon2Params{
			MemoryKiB:   uint32(p.Argon2id.Memory),
			Iterations:  uint32(max(p.Argon2id.Iterations, 0)),
			Parallelism: uint8(min(max(p.Argon2id.Parallelism, 0), 255)),
		},
		MaxConcurrentHashes: p.MaxConcurrentHashes,
		QueueTimeout:        p.QueueTimeout,
	}
}

// MaxRefreshGrace is the longest refresh_grace allowed.
const MaxRefreshGrace = 60 * time.Second

func (l *loader) tokens(t fileTokens) Tokens {
	if t.AccessTokenFormat != FormatJWT && t.AccessTokenFormat != FormatOpaque {
		l.errorf("tokens.access_token_format", "must be jwt or opaque, got %q", t.AccessTokenFormat)
	}
	l.positive("tokens.access_token_ttl", t.AccessTokenTTL)
	l.positive("tokens.refresh_token_ttl", t.RefreshTokenTTL)
	if t.RefreshGrace < 0 || t.RefreshGrace > MaxRefreshGrace {
		l.errorf("tokens.refresh_grace", "must be between 0s and 60s, got %s", t.RefreshGrace)
	}
	l.nonNegative("tokens.leeway", t.Leeway)
	return Tokens(t)
}

var realmIDRe = regexp.MustCompile(`^rl_[A-Za-z0-9_-]+$`)

func (l *loader) realms(in []fileRealm) []*Realm {
	ids := map[string]string{}
	out := make([]*Realm, 0, len(in))
	for i, r := range in {
		path := fmt.Sprintf("realms[%d]", i)
		switch {
		case r.ID == "":
			l.errorf(path+".id", "required (a realm id like rl_demo)")
		case !realmIDRe.MatchString(r.ID):
			l.errorf(path+".id", "realm ids start with rl_ followed by letters, digits, _ or - (like rl_demo), got %q", r.ID)
		default:
			if l.unique(ids, r.ID, path+".id", "realm id") {
				l.realmIDs = append(l.realmIDs, r.ID)
			}
		}
		if r.PasswordMinLength < 1 {
			l.errorf(path+".password_min_length", "must be at least 1, got %d", r.PasswordMinLength)
		}
		l.positive(path+".signup_token_ttl", r.SignupTokenTTL)
		if r.Lockout.MaxFailures < 1 {
			l.errorf(path+".lockout.max_failures", "must be at least 1, got %d", r.Lockout.MaxFailures)
		}
		l.positive(path+".lockout.window", r.Lockout.Window)
		out = append(out, &Realm{
			ID:                r.ID,
			Name:              r.Name,
			UsernameIsEmail:   r.UsernameIsEmail,
			PasswordMinLength: r.PasswordMinLength,
			SignupTokenTTL:    r.SignupTokenTTL,
			Lockout:           Lockout(r.Lockout),
			Passkeys:          r.Passkeys,
		})
	}
	return out
}

var (
	authMethods = []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}
	grantTypes  = []string{GrantClientCredentials, GrantPassword, GrantAuthorizationCode, GrantRefreshToken, GrantJWTBearer}
)

// realmRef checks that id names a declared realm.
func (l *loader) realmRef(id, path string) bool {
	switch {
	case id == "":
		l.errorf(path, "required (declared realms: %s)", listOr(l.realmIDs, "none"))
	case !slices.Contains(l.realmIDs, id):
		l.errorf(path, "unknown realm %q (declared realms: %s)", id, listOr(l.realmIDs, "none"))
	default:
		return true
	}
	return false
}

// clientRef checks that id names a client of realm (when realm itself is
// valid: realmOK).
func (l *loader) clientRef(id, realm string, realmOK bool, path string) {
	ofRealm := func() string {
		var ids []string
		for _, cid := range l.clientIDs {
			if l.clients[cid].Realm == realm {
				ids = append(ids, cid)
			}
		}
		return fmt.Sprintf("clients of realm %s: %s", realm, listOr(ids, "none"))
	}
	c := l.clients[id]
	switch {
	case id == "" && realmOK:
		l.errorf(path, "required (%s)", ofRealm())
	case id == "":
		l.errorf(path, "required: the id of a client of this realm")
	case c == nil && realmOK:
		l.errorf(path, "unknown client %q (%s)", id, ofRealm())
	case c == nil:
		l.errorf(path, "unknown client %q", id)
	case realmOK && c.Realm != realm:
		l.errorf(path, "client %q belongs to realm %s, not %s; references stay within one realm (%s)", id, c.Realm, realm, ofRealm())
	}
}

// unique records value at path in seen and reports whether it was new; a
// repeat is an error naming the first line.
func (l *loader) unique(seen map[string]string, value, path, what string) bool {
	if first, dup := seen[value]; dup {
		l.errorf(path, "duplicate %s %q (first at line %d)", what, value, l.line(first))
		return false
	}
	seen[value] = path
	return true
}

// checkName checks that an id is given and has no spaces or control
// characters.
func (l *loader) checkName(id, path, what string) bool {
	if id == "" {
		l.errorf(path, "required: a %s", what)
		return false
	}
	if !utf8.ValidString(id) {
		l.errorf(path, "not valid UTF-8 text")
		return false
	}
	if strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		l.errorf(path, "a %s may not contain spaces or control characters, got %q", what, id)
		return false
	}
	return true
}

// listOf checks a list of strings: none empty, none twice, and each in
// allowed when allowed is not nil.
func (l *loader) listOf(items []string, path, what string, allowed []string) {
	seen := map[string]string{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case it == "":
			l.errorf(p, "empty %s", what)
		case allowed != nil && !slices.Contains(allowed, it):
			l.errorf(p, "unknown %s %q (want %s)", what, it, orList(allowed))
		default:
			l.unique(seen, it, p, what)
		}
	}
}

// scopes checks OAuth scope tokens (RFC 6749 §3.3: printable ASCII without
// space, '"' or '\').
func (l *loader) scopes(items []string, path string) {
	l.listOf(items, path, "scope", nil)
	for i, s := range items {
		if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' }) >= 0 {
			l.errorf(fmt.Sprintf("%s[%d]", path, i), "%q is not a valid scope (printable ASCII without spaces, quotes or backslashes)", s)
		}
	}
}

func (l *loader) positive(path string, d time.Duration) {
	if d <= 0 {
		l.errorf(path, "must be more than 0, got %s", d)
	}
}

func (l *loader) nonNegative(path string, d time.Duration) {
	if d < 0 {
		l.errorf(path, "must not be negative, got %s", d)
	}
}

// orList renders ["a", "b", "c"] as "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// listOr joins items with ", ", or returns none for an empty list.
func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}
