package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/secrethash"
)

// Environments, API credentials, API keys and the compat switches of the
// surfaces.

func (l *loader) environments(in []fileEnvironment) []*Environment {
	guids := map[string]string{}
	out := make([]*Environment, 0, len(in))
	for i, e := range in {
		path := fmt.Sprintf("environments[%d]", i)
		if l.checkName(e.GUID, path+".guid", "environment guid") {
			// Users keep their environment's guid in a 255-character column.
			if n := utf8.RuneCountInString(e.GUID); n > MaxEnvironmentGUIDLength {
				l.errorf(path+".guid", "an environment guid may be at most %d characters, got %d", MaxEnvironmentGUIDLength, n)
			}
			l.unique(guids, e.GUID, path+".guid", "environment guid")
		}
		realmOK := l.realmRef(e.Realm, path+".realm")
		l.clientRef(e.Client, e.Realm, realmOK, path+".client")
		keys := l.publicKeys(e.PublicKeys, path+".public_keys", allAlgs)
		if len(e.PublicKeys) == 0 {
			l.errorf(path+".public_keys", "at least one public key is required (the environment's APT signing key, usually RS256)")
		}
		l.positive(path+".max_apt_ttl", e.MaxAPTTTL)
		l.positive(path+".user_token_ttl", e.UserTokenTTL)
		out = append(out, &Environment{
			GUID:         e.GUID,
			Realm:        e.Realm,
			PublicKeys:   keys,
			MaxAPTTTL:    e.MaxAPTTTL,
			UserTokenTTL: e.UserTokenTTL,
			Client:       e.Client,
		})
	}
	return out
}

// LoginIDScopes are the scopes an API credential may be given (SPEC §5).
var LoginIDScopes = []string{
	"users.create", "users.retrieve", "users.delete", "users.activate", "users.deactivate",
	"auth.register", "auth.login", "codes.generate", "codes.authorize", "codes.invalidate",
	"credentials.list", "credentials.rename", "credentials.revoke", "credentials.add",
	"credentials.force", "tx.create",
}

func (l *loader) apiCredentials(in []fileAPICredential) []*APICredential {
	ids := map[string]string{}
	out := make([]*APICredential, 0, len(in))
	for i, c := range in {
		path := fmt.Sprintf("api_credentials[%d]", i)
		if l.checkName(c.ID, path+".id", "api credential id") {
			l.unique(ids, c.ID, path+".id", "api credential id")
		}
		realmOK := l.realmRef(c.Realm, path+".realm")
		l.clientRef(c.Client, c.Realm, realmOK, path+".client")
		keys := l.publicKeys(c.PublicKeys, path+".public_keys", []string{AlgES256})
		if len(c.PublicKeys) == 0 {
			l.errorf(path+".public_keys", "at least one ES256 public key is required")
		}
		l.listOf(c.Scopes, path+".scopes", "LoginID scope", LoginIDScopes)
		out = append(out, &APICredential{ID: c.ID, Realm: c.Realm, PublicKeys: keys, Client: c.Client, Scopes: c.Scopes})
	}
	return out
}

var permissions = []string{"read", "write"}

func (l *loader) apiKeys(in []fileAPIKey) []*APIKey {
	ids := map[string]string{}
	hashes := map[string]string{}
	out := make([]*APIKey, 0, len(in))
	for i, k := range in {
		path := fmt.Sprintf("api_keys[%d]", i)
		if l.checkName(k.ID, path+".id", "api key id") {
			l.unique(ids, k.ID, path+".id", "api key id")
		}
		l.realmRef(k.Realm, path+".realm")
		hash := l.apiKeyHash(k, path)
		if hash != "" {
			if first, dup := hashes[hash]; dup {
				l.errorf(path, "the same key as %s (line %d); each API key must be different", first, l.line(first))
			}
			hashes[hash] = path
		}
		if len(k.Permissions) == 0 {
			l.errorf(path+".permissions", "at least one permission is required (read, write)")
		}
		l.listOf(k.Permissions, path+".permissions", "permission", permissions)
		out = append(out, &APIKey{ID: k.ID, Realm: k.Realm, KeyHash: hash, Permissions: k.Permissions})
	}
	return out
}

// MinAPIKeyLength is the shortest plain key: API keys are long random
// strings, found by their SHA-256, never by a slow hash.
const MinAPIKeyLength = secrethash.MinFastLength

// apiKeyHash returns the lower-case "sha256:<hex>" of an API key given as
// key_hash or as a plain key. Only sha256 is accepted: the key presented
// is looked up by its hash, and with argon2id (or any salted, slow hash) the
// server would have to try every configured key on every request.
func (l *loader) apiKeyHash(k fileAPIKey, path string) string {
	switch {
	case k.Key != "" && k.KeyHash != "":
		l.errorf(path+".key", "give either key_hash or key, not both")
	case k.KeyHash != "":
		if !strings.HasPrefix(strings.ToLower(k.KeyHash), "sha256:") {
			l.errorf(path+".key_hash", "API keys need a sha256: hash (any other would cost a slow hash per configured key on every request): "+
				"generate a key and its hash with latchkey secret hash --generate, or hash a key of 32 or more characters with latchkey secret hash, which prints sha256:…")
			return ""
		}
		hash := "sha256:" + strings.ToLower(k.KeyHash[len("sha256:"):])
		if err := secrethash.Check(hash); err != nil {
			l.errorf(path+".key_hash", "not a valid hash: %s", strings.TrimPrefix(err.Error(), "secrethash: "))
			return ""
		}
		return hash
	case k.Key != "":
		if len(k.Key) < MinAPIKeyLength {
			l.errorf(path+".key", "API keys must be long random strings (at least %d characters); generate one with latchkey secret hash --generate", MinAPIKeyLength)
			return ""
		}
		l.warnf(path+".key", "plain key in the config file; store key_hash (latchkey secret hash) instead")
		return sha256Hash(k.Key)
	default:
		l.errorf(path, "an API key needs key_hash (from latchkey secret hash) or key")
	}
	return ""
}

// sha256Hash is "sha256:" and the lower-case hex SHA-256 of s.
func sha256Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (l *loader) compat(c fileCompat) Compat {
	out := Compat{
		WorkAPI:    Surface(c.WorkAPI),
		LoginID:    Surface(c.LoginID),
		AuthRocket: Surface(c.AuthRocket),
		Legacy:     LegacySurface{Surface: Surface{Enabled: c.Legacy.Enabled, Prefix: c.Legacy.Prefix}, Clients: c.Legacy.Clients},
	}
	for _, s := range surfacesOf(out) {
		l.checkPrefix(s.prefix, "compat."+s.name+".prefix")
	}
	l.checkRoutes(out)

	seen := map[string]string{}
	for i, id := range c.Legacy.Clients {
		path := fmt.Sprintf("compat.legacy.clients[%d]", i)
		if !l.unique(seen, id, path, "legacy client") {
			continue
		}
		cl := l.clients[id]
		switch {
		case cl == nil:
			l.errorf(path, "unknown client %q (declared clients: %s)", id, listOr(l.clientIDs, "none"))
		case cl.AuthMethod != AuthNone:
			l.errorf(path, "client %q has auth_method %s; a legacy client must be public (auth_method: none) with the password and refresh_token grants", id, cl.AuthMethod)
		case !cl.HasGrant(GrantPassword) || !cl.HasGrant(GrantRefreshToken):
			l.errorf(path, "client %q lacks the password or refresh_token grant; a legacy client needs both", id)
		}
	}
	return out
}
