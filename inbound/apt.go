package inbound

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/config"
)

// APTKind is the single-use namespace of APT jtis: one per environment.
const APTKind = "apt"

// MaxArbitraryIDLength is the longest arbitrary_id an APT may name.
const MaxArbitraryIDLength = 255

// APT is a verified Account Provider Token (SPEC §4): a JWT an account
// provider signs with its environment's private key to create or
// re-authenticate one of its users.
type APT struct {
	token       *Token
	rules       Rules
	Environment *config.Environment
	ArbitraryID string
}

// VerifyAPT parses raw and checks it as an APT of one of snap's
// environments: the environment as environment_guid or iss and the user as
// arbitrary_id or sub (when both names of a pair are present they must
// agree), exp and iat required, exp − iat at most the environment's
// max_apt_ttl, aud optional but when present the issuer or tokenURL (the
// Work API SDK sends none), the signature by one of the environment's keys.
// It writes nothing: call Consume when the APT's effect is about to be
// written. A failure wraps ErrInvalid, with a message for the caller.
func VerifyAPT(raw string, snap *config.Snapshot, tokenURL string, now time.Time) (*APT, error) {
	tok, err := Parse(raw, 0)
	if err != nil {
		return nil, err
	}
	guid, err := claimPair(tok, "environment_guid", "iss")
	if err != nil {
		return nil, err
	}
	if guid == "" {
		return nil, invalid(`claim "environment_guid" (or "iss") is required`)
	}
	if err := checkID(guid, `"environment_guid" (or "iss")`); err != nil {
		return nil, err
	}
	env := snap.Environment(guid)
	if env == nil {
		return nil, invalid(`claim "environment_guid" (or "iss") names no configured environment`)
	}
	arbitraryID, err := claimPair(tok, "arbitrary_id", "sub")
	if err != nil {
		return nil, err
	}
	if err := checkID(arbitraryID, `"arbitrary_id" (or "sub")`); err != nil {
		return nil, err
	}
	rules := Rules{
		Kind:            APTKind,
		Audiences:       []string{snap.Issuer, tokenURL},
		RequireIssuedAt: true,
		MaxLifetime:     env.MaxAPTTTL,
		Leeway:          snap.Tokens.Leeway,
	}
	if err := tok.Verify(env.PublicKeys, rules, now); err != nil {
		return nil, err
	}
	return &APT{token: tok, rules: rules, Environment: env, ArbitraryID: arbitraryID}, nil
}

// Consume records the APT's jti, if it has one, as used in its environment
// (in the transaction in ctx, if any). A replay wraps ErrReplayed. An APT
// without jti can be replayed until its exp (the SDK sends none): keep
// max_apt_ttl short.
func (a *APT) Consume(ctx context.Context, once OnceRecorder) error {
	return a.token.Consume(ctx, a.Environment.GUID, a.rules, once)
}

// claimPair reads a claim that has two accepted names; when both are
// present they must agree. Absent gives "".
func claimPair(tok *Token, name, alias string) (string, error) {
	a, aok, err := stringClaim(tok, name)
	if err != nil {
		return "", err
	}
	b, bok, err := stringClaim(tok, alias)
	if err != nil {
		return "", err
	}
	if aok && bok && a != b {
		return "", invalid("claims %q and %q disagree", name, alias)
	}
	if aok {
		return a, nil
	}
	return b, nil
}

func stringClaim(tok *Token, name string) (string, bool, error) {
	raw, ok := tok.Claims.Raw[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, invalidBecause(err, "claim %q must be a string", name)
	}
	if !utf8.Valid(raw) {
		// encoding/json has replaced the invalid bytes with U+FFFD; keep
		// that visible to checkID.
		s += string(utf8.RuneError)
	}
	return s, true, nil
}

// checkID refuses an id claim (arbitrary_id, environment_guid) that the
// user store would refuse later, as a server error, or that the database
// backends would compare differently (MySQL ignores trailing spaces): 1 to
// MaxArbitraryIDLength characters of valid UTF-8, without surrounding white
// space or control characters. U+FFFD counts as invalid UTF-8: it is what
// encoding/json puts in place of invalid bytes and of lone surrogate
// escapes ("\ud800"), so two different ids could otherwise become one.
func checkID(s, claim string) error {
	switch {
	case s == "":
		return invalid("claim %s must be 1 to %d characters", claim, MaxArbitraryIDLength)
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		return invalid("claim %s is not valid UTF-8 text", claim)
	case utf8.RuneCountInString(s) > MaxArbitraryIDLength:
		return invalid("claim %s must be 1 to %d characters", claim, MaxArbitraryIDLength)
	case strings.TrimSpace(s) != s:
		return invalid("claim %s must not begin or end with white space", claim)
	case strings.ContainsFunc(s, unicode.IsControl):
		return invalid("claim %s must not contain control characters", claim)
	}
	return nil
}
