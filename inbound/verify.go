package inbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Limits on what is parsed before a signature is checked.
const (
	DefaultMaxSize = 8 << 10 // bytes of a compact token
	MaxKIDLength   = 128
)

// ErrInvalid is wrapped by every verification failure; the message after it
// says which rule failed and is safe to show to the caller (see Reason).
var ErrInvalid = errors.New("inbound: invalid token")

// ErrReplayed is wrapped when a token's jti was already used.
var ErrReplayed = errors.New("inbound: token already used")

// OnceRecorder records single-use ids; it returns an error wrapping
// storage.ErrAlreadyUsed (tested with IsUsed) on a duplicate.
type OnceRecorder interface {
	UseOnce(ctx context.Context, kind, issuer, id string, expiresAt time.Time) error
}

// Rules are what one surface requires of its tokens.
type Rules struct {
	// Kind names the single-use namespace ("client_assertion", "apt", …).
	Kind string
	// Audiences lists the accepted aud values; when RequireAudience is
	// false an absent aud is accepted, but a present one must still match.
	Audiences       []string
	RequireAudience bool
	// RequireJTI refuses tokens without a jti; a present jti is always single-use.
	RequireJTI bool
	// RequireIssuedAt refuses tokens without iat.
	RequireIssuedAt bool
	// MaxLifetime caps exp - iat (and exp - now when iat is absent).
	MaxLifetime time.Duration
	// DefaultLifetime, when set, makes exp optional: a token without exp
	// lives until iat + DefaultLifetime (iat is then required). A present
	// exp may only shorten that when MaxLifetime is the same.
	DefaultLifetime time.Duration
	// OnceClaim names the claim that holds the token's single-use id; ""
	// means "jti". A claim named here is required.
	OnceClaim string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// MaxSize caps the compact token's length; 0 means DefaultMaxSize.
	MaxSize int
}

// Token is a parsed, not yet verified, compact JWS.
type Token struct {
	raw      string
	Header   Header
	Claims   Claims
	payload  []byte
	verified bool      // Verify passed
	exp      time.Time // the verified exp
	once     string    // the verified single-use id (jti, or the rules' OnceClaim)
}

// Header is the protected header fields Latchkey reads.
type Header struct {
	Alg string `json:"alg"`
	KID string `json:"kid"`
	Typ string `json:"typ"`
}

// Claims are the registered claims plus the raw payload for surface-specific ones.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt *time.Time
	NotBefore *time.Time
	IssuedAt  *time.Time
	JTI       string
	// Raw holds every claim as its JSON text, for the surfaces' own names.
	Raw map[string]json.RawMessage
}

// String returns the claim's string value, or "" when absent or not a string.
func (c *Claims) String(name string) string {
	var s string
	if raw, ok := c.Raw[name]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// refusal is how this package refuses a token: kind (ErrInvalid or
// ErrReplayed), reason, one of this package's own sentences, which is all
// that Error and Reason show, and cause, a library's error (go-jose,
// encoding/json) kept for logs and reached only through errors.Unwrap. The
// sentences never quote text from the token: only names, numbers, times
// and values of the configuration.
type refusal struct {
	kind   error
	reason string
	cause  error
}

func (r *refusal) Error() string { return r.kind.Error() + ": " + r.reason }

// Is makes errors.Is(err, ErrInvalid) and errors.Is(err, ErrReplayed) work.
func (r *refusal) Is(target error) bool { return target == r.kind }

// Unwrap returns the library error behind the refusal, if any, for logs.
func (r *refusal) Unwrap() error { return r.cause }

func invalid(format string, args ...any) error {
	return &refusal{kind: ErrInvalid, reason: fmt.Sprintf(format, args...)}
}

// invalidBecause is invalid with the library error that caused it.
func invalidBecause(cause error, format string, args ...any) error {
	return &refusal{kind: ErrInvalid, reason: fmt.Sprintf(format, args...), cause: cause}
}

// forbiddenHeaders are header parameters that would let the token choose its
// own key or demand extensions we do not implement.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit"}

// Parse splits and decodes a compact JWS without checking its signature, so
// the caller can find the issuer whose keys verify it. It enforces the size
// cap, the header rules and duplicate-free JSON.
func Parse(token string, maxSize int) (*Token, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(token) > maxSize {
		return nil, invalid("token is %d bytes, over the %d-byte limit", len(token), maxSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS (want three dot-separated parts)")
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalidBecause(err, "header is not base64url")
	}
	hdrFields, err := decodeObject(hdrJSON, "header")
	if err != nil {
		return nil, err
	}
	for _, name := range forbiddenHeaders {
		if _, ok := hdrFields[name]; ok {
			return nil, invalid("header parameter %q is not accepted", name)
		}
	}
	t := &Token{raw: token}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"alg", &t.Header.Alg}, {"kid", &t.Header.KID}, {"typ", &t.Header.Typ}} {
		if v, ok := hdrFields[f.name]; ok {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, invalidBecause(err, "header parameter %q must be a string", f.name)
			}
		}
	}
	if len(t.Header.KID) > MaxKIDLength {
		return nil, invalid("kid longer than %d characters", MaxKIDLength)
	}
	if _, err := algorithm(t.Header.Alg); err != nil {
		return nil, err
	}
	t.payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, invalidBecause(err, "payload is not base64url")
	}
	// Checked here so that go-jose's own message never has to be shown.
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return nil, invalidBecause(err, "signature is not base64url")
	}
	if t.Claims, err = parseClaims(t.payload); err != nil {
		return nil, err
	}
	return t, nil
}

// algorithm maps a header alg to the one asymmetric algorithm it may be;
// none and every HMAC algorithm are refused whatever their spelling.
func algorithm(alg string) (jose.SignatureAlgorithm, error) {
	a, err := config.JOSEAlgorithm(alg)
	if err != nil {
		if !slices.ContainsFunc(registeredAlgs, func(r string) bool { return strings.EqualFold(r, alg) }) {
			return "", invalid("the header's alg is not an accepted algorithm (allowed: ES256, RS256, EdDSA per configured key)")
		}
		return "", invalid("algorithm %q is not accepted (allowed: ES256, RS256, EdDSA per configured key)", alg)
	}
	return a, nil
}

// registeredAlgs are the JWS algorithm names (RFC 7518, RFC 8037, RFC 8812)
// a refusal may quote; any other alg is not repeated back.
var registeredAlgs = []string{
	"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
	"PS256", "PS384", "PS512", "EdDSA", "ES256K", "Ed25519", "Ed448",
}

// decodeObject decodes a JSON object and refuses duplicate member names, which
// different parsers resolve differently. part ("header", "claims") starts
// the refusal's reason.
func decodeObject(data []byte, part string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, invalidBecause(err, "%s: not a JSON object", part)
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidBecause(err, "%s: malformed JSON", part)
		}
		name, _ := tok.(string)
		if _, dup := out[name]; dup {
			return nil, invalid("%s: duplicate member names", part)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalidBecause(err, "%s: malformed JSON", part)
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalidBecause(err, "%s: malformed JSON", part)
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		return nil, invalid("%s: trailing data after the JSON object", part)
	}
	return out, nil
}

func parseClaims(payload []byte) (Claims, error) {
	raw, err := decodeObject(payload, "claims")
	if err != nil {
		return Claims{}, err
	}
	c := Claims{Raw: raw}
	for name, dst := range map[string]*string{"iss": &c.Issuer, "sub": &c.Subject, "jti": &c.JTI} {
		if v, ok := raw[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return Claims{}, invalidBecause(err, "claim %q must be a string", name)
			}
		}
	}
	if v, ok := raw["aud"]; ok {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			c.Audience = []string{one}
		} else if err := json.Unmarshal(v, &c.Audience); err != nil {
			return Claims{}, invalidBecause(err, `claim "aud" must be a string or an array of strings`)
		}
	}
	for name, dst := range map[string]**time.Time{"exp": &c.ExpiresAt, "nbf": &c.NotBefore, "iat": &c.IssuedAt} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			return Claims{}, invalidBecause(err, "claim %q must be a number of seconds", name)
		}
		f, err := n.Float64()
		if err != nil || f < 0 || f > 1e11 {
			return Claims{}, invalidBecause(err, "claim %q is out of range", name)
		}
		t := time.Unix(int64(f), 0).UTC()
		*dst = &t
	}
	return c, nil
}

// Verify checks the token's signature against keys (a kid in the header must
// name one of them; without kid each key of the header's algorithm is tried),
// then the time and audience rules and the jti's presence. It writes
// nothing: a token that passes is used up by Consume, last, once the caller's
// own checks have passed too. A failure wraps ErrInvalid.
func (t *Token) Verify(keys []config.PublicKey, rules Rules, now time.Time) error {
	if err := t.verifySignature(keys); err != nil {
		return err
	}
	exp, err := t.checkTimes(rules, now)
	if err != nil {
		return err
	}
	if err := t.checkAudience(rules); err != nil {
		return err
	}
	once, name := t.Claims.JTI, "jti"
	if rules.OnceClaim != "" {
		name = rules.OnceClaim
		if raw, ok := t.Claims.Raw[name]; ok {
			if err := json.Unmarshal(raw, &once); err != nil {
				return invalidBecause(err, "claim %q must be a string", name)
			}
		}
	}
	if once == "" && (rules.RequireJTI || rules.OnceClaim != "") {
		return invalid("claim %q is required", name)
	}
	if len(once) > 255 {
		return invalid("claim %q is longer than 255 characters", name)
	}
	t.verified, t.exp, t.once = true, exp, once
	return nil
}

// Consume records the verified token's jti as used under (rules.Kind,
// issuer), until its exp plus leeway: one INSERT under a unique key, so of
// any number of concurrent uses exactly one succeeds. A token without jti
// has nothing to record. Run it in the caller's transaction (ctx) when the
// token's effect is written there, so that a failure leaves the jti unused.
// A replay wraps ErrReplayed.
func (t *Token) Consume(ctx context.Context, issuer string, rules Rules, once OnceRecorder) error {
	if !t.verified {
		return invalid("token not verified")
	}
	if t.once == "" {
		return nil
	}
	if err := once.UseOnce(ctx, rules.Kind, issuer, t.once, t.exp.Add(rules.Leeway)); err != nil {
		if IsUsed(err) {
			name := rules.OnceClaim
			if name == "" {
				name = "jti"
			}
			return &refusal{kind: ErrReplayed, reason: "a token with this " + name + " was accepted before; sign a new one for every request", cause: err}
		}
		return fmt.Errorf("inbound: record jti: %w", err)
	}
	return nil
}

func (t *Token) verifySignature(keys []config.PublicKey) error {
	alg, err := algorithm(t.Header.Alg)
	if err != nil {
		return err
	}
	jws, err := jose.ParseSigned(t.raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return invalidBecause(err, "malformed JWS")
	}
	tried := 0
	for _, k := range keys {
		if t.Header.KID != "" && k.KID != t.Header.KID {
			continue
		}
		if k.Alg != t.Header.Alg {
			if t.Header.KID != "" {
				return invalid("key %q is for %s, token says %s", k.KID, k.Alg, t.Header.Alg)
			}
			continue
		}
		tried++
		payload, err := jws.Verify(k.Key)
		if err == nil && bytes.Equal(payload, t.payload) {
			return nil
		}
	}
	switch {
	case t.Header.KID != "" && tried == 0:
		return invalid("no configured key has the token's kid")
	case tried == 0:
		return invalid("no configured key for algorithm %s", t.Header.Alg)
	}
	return invalid("signature does not verify")
}

func (t *Token) checkTimes(rules Rules, now time.Time) (time.Time, error) {
	c := t.Claims
	var exp time.Time
	switch {
	case c.ExpiresAt != nil:
		exp = *c.ExpiresAt
	case rules.DefaultLifetime > 0 && c.IssuedAt != nil:
		exp = c.IssuedAt.Add(rules.DefaultLifetime)
	case rules.DefaultLifetime > 0:
		return time.Time{}, invalid(`claim "iat" is required`)
	default:
		return time.Time{}, invalid(`claim "exp" is required`)
	}
	if !now.Before(exp.Add(rules.Leeway)) {
		return time.Time{}, invalid("token expired at %s", exp.Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Add(rules.Leeway).Before(*c.NotBefore) {
		return time.Time{}, invalid("token is not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	start := now
	if c.IssuedAt != nil {
		if now.Add(rules.Leeway).Before(*c.IssuedAt) {
			return time.Time{}, invalid("claim \"iat\" is in the future (%s)", c.IssuedAt.Format(time.RFC3339))
		}
		start = *c.IssuedAt
	} else if rules.RequireIssuedAt {
		return time.Time{}, invalid(`claim "iat" is required`)
	}
	if rules.MaxLifetime > 0 && exp.Sub(start) > rules.MaxLifetime {
		return time.Time{}, invalid("lifetime %s is over the %s maximum", exp.Sub(start), rules.MaxLifetime)
	}
	return exp, nil
}

func (t *Token) checkAudience(rules Rules) error {
	if len(t.Claims.Audience) == 0 {
		if rules.RequireAudience {
			return invalid(`claim "aud" is required (one of %s)`, strings.Join(rules.Audiences, ", "))
		}
		return nil
	}
	for _, a := range t.Claims.Audience {
		for _, want := range rules.Audiences {
			if a == want {
				return nil
			}
		}
	}
	return invalid(`claim "aud" must contain one of %s`, strings.Join(rules.Audiences, ", "))
}

// IsUsed reports whether err says a single-use id was already recorded.
func IsUsed(err error) bool { return errors.Is(err, storage.ErrAlreadyUsed) }

// Reason is why err refused a token, for the caller (an error_description
// or message): one of this package's own stable sentences, such as
// "invalid token: signature does not verify", never a library's text
// (go-jose, encoding/json, strconv) nor the token's own content, which stay
// in the error chain for logs (errors.Unwrap). An error that is not a
// refusal of this package, a database error for one, gets a generic
// sentence. Reason(nil) is "".
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var r *refusal
	if errors.As(err, &r) {
		return strings.TrimPrefix(r.Error(), "inbound: ")
	}
	return "invalid token: the token could not be verified"
}
