package inbound

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// libraryFragments are pieces of Go's, go-jose's and strconv's error texts;
// none may reach a client through Reason.
var libraryFragments = []string{
	"go-jose", "illegal base64", "json:", "invalid character", "strconv", "unexpected end",
	"cannot unmarshal", "crypto/", "ecdsa", "rsa:", "EOF",
}

// ourSentences are the reasons this package gives, as patterns: %d is a
// number, %s one of our own values (a time, a duration, configured
// audiences or key ids), %q a quoted name of ours.
var ourSentences = func() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, s := range []string{
		"token is %d bytes, over the %d-byte limit",
		"not a compact JWS (want three dot-separated parts)",
		"header is not base64url",
		"payload is not base64url",
		"signature is not base64url",
		"%s: not a JSON object",
		"%s: malformed JSON",
		"%s: duplicate member names",
		"%s: trailing data after the JSON object",
		"header parameter %q is not accepted",
		"header parameter %q must be a string",
		"kid longer than %d characters",
		"algorithm %q is not accepted (allowed: ES256, RS256, EdDSA per configured key)",
		"the header's alg is not an accepted algorithm (allowed: ES256, RS256, EdDSA per configured key)",
		"claim %q must be a string",
		`claim "aud" must be a string or an array of strings`,
		"claim %q must be a number of seconds",
		"claim %q is out of range",
		"malformed JWS",
		"key %q is for %s, token says %s",
		"no configured key has the token's kid",
		"no configured key for algorithm %s",
		"signature does not verify",
		"claim %q is required",
		"claim %q is required (one of %s)",
		"token expired at %s",
		"token is not valid before %s",
		`claim "iat" is in the future (%s)`,
		"lifetime %s is over the %s maximum",
		`claim "aud" must contain one of %s`,
		`claim "jti" is longer than 255 characters`,
		"token not verified",
		`claim "environment_guid" (or "iss") is required`,
		`claim "environment_guid" (or "iss") names no configured environment`,
		"claims %q and %q disagree",
		"claim %s must be 1 to %d characters",
		"claim %s is not valid UTF-8 text",
		"claim %s must not begin or end with white space",
		"claim %s must not contain control characters",
		"the token could not be verified",
	} {
		re := regexp.QuoteMeta(s)
		re = strings.NewReplacer("%d", `-?[0-9]+`, "%s", `.+`, "%q", `"[A-Za-z0-9_]+"`).Replace(re)
		out = append(out, regexp.MustCompile(`^(invalid token|token already used): `+re+`$`))
	}
	out = append(out, regexp.MustCompile(`^token already used: a token with this jti was accepted before; sign a new one for every request$`))
	return out
}()

// checkReason fails unless err's Reason is one of our sentences without any
// library text.
func checkReason(t *testing.T, err error) {
	t.Helper()
	r := Reason(err)
	for _, f := range libraryFragments {
		if strings.Contains(r, f) {
			t.Fatalf("Reason %q shows library text %q (error %v)", r, f, err)
		}
	}
	if msg := err.Error(); strings.Contains(msg, "go-jose") || strings.Contains(msg, "json:") || strings.Contains(msg, "illegal base64") {
		t.Fatalf("Error() %q shows library text", msg)
	}
	for _, re := range ourSentences {
		if re.MatchString(r) {
			return
		}
	}
	t.Fatalf("Reason %q is not one of our sentences (error %v)", r, err)
}

func TestReasonShowsNoLibraryText(t *testing.T) {
	snap, rsaKey := aptSnapshot(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []config.PublicKey{{KID: "ec", Alg: config.AlgES256, Key: &ecKey.PublicKey}}
	rules := Rules{Kind: "test", Audiences: []string{"https://as.test"}, RequireIssuedAt: true, MaxLifetime: time.Minute, Leeway: 30 * time.Second}
	e := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"exp":%d,"iat":%d,"environment_guid":"env-1","arbitrary_id":"u"}`, now.Unix()+30, now.Unix())
	good := sign(t, ecKey, jose.ES256, nil, claims)
	goodParts := strings.Split(good, ".")
	goodAPT := signAPT(t, rsaKey, claims)
	aptParts := strings.Split(goodAPT, ".")
	es := e([]byte(`{"alg":"ES256"}`))
	rs := e([]byte(`{"alg":"RS256"}`))
	tests := map[string]string{
		"bad base64 in the header":            "e30!." + goodParts[1] + "." + goodParts[2],
		"padded base64 in the header":         es + "=." + goodParts[1] + "." + goodParts[2],
		"bad base64 in the payload":           es + ".e30*." + goodParts[2],
		"padding in the signature":            goodParts[0] + "." + goodParts[1] + ".abc=",
		"bad base64 in the signature":         goodParts[0] + "." + goodParts[1] + "." + goodParts[2][:10] + "!" + goodParts[2][11:],
		"bad base64 in an APT's signature":    aptParts[0] + "." + aptParts[1] + ".abc=",
		"header not JSON":                     e([]byte(`{alg`)) + "." + goodParts[1] + "." + goodParts[2],
		"header truncated":                    e([]byte(`{"alg":"ES256"`)) + "." + goodParts[1] + "." + goodParts[2],
		"header with trailing data":           e([]byte(`{"alg":"ES256"}x`)) + "." + goodParts[1] + "." + goodParts[2],
		"header an array":                     e([]byte(`["alg"]`)) + "." + goodParts[1] + "." + goodParts[2],
		"alg a number":                        e([]byte(`{"alg":1}`)) + "." + goodParts[1] + "." + goodParts[2],
		"kid a number":                        e([]byte(`{"alg":"ES256","kid":5}`)) + "." + goodParts[1] + "." + goodParts[2],
		"typ an object":                       e([]byte(`{"alg":"ES256","typ":{}}`)) + "." + goodParts[1] + "." + goodParts[2],
		"alg of library text":                 e([]byte(`{"alg":"go-jose/go-jose: json: strconv"}`)) + "." + goodParts[1] + "." + goodParts[2],
		"duplicate header member":             e([]byte(`{"alg":"ES256","alg":"ES256"}`)) + "." + goodParts[1] + "." + goodParts[2],
		"payload not JSON":                    es + "." + e([]byte(`{"exp":`)) + "." + goodParts[2],
		"empty payload":                       es + ".." + goodParts[2],
		"exp a string":                        es + "." + e([]byte(`{"exp":"soon"}`)) + "." + goodParts[2],
		"exp out of float range":              es + "." + e([]byte(`{"exp":1e400}`)) + "." + goodParts[2],
		"iss a number":                        es + "." + e([]byte(`{"iss":5}`)) + "." + goodParts[2],
		"aud of numbers":                      es + "." + e([]byte(`{"aud":[1]}`)) + "." + goodParts[2],
		"arbitrary_id a number":               rs + "." + e([]byte(`{"environment_guid":"env-1","arbitrary_id":1}`)) + "." + aptParts[2],
		"unknown environment of library text": rs + "." + e([]byte(`{"environment_guid":"json: illegal base64 go-jose","arbitrary_id":"u"}`)) + "." + aptParts[2],
		"kid of library text":                 e([]byte(`{"alg":"ES256","kid":"go-jose: invalid character"}`)) + "." + goodParts[1] + "." + goodParts[2],
		"signature of garbage bytes":          goodParts[0] + "." + goodParts[1] + "." + e([]byte("garbage")),
		"empty signature":                     goodParts[0] + "." + goodParts[1] + ".",
		"signature of another payload":        goodParts[0] + "." + e([]byte(`{"exp":1}`)) + "." + goodParts[2],
		"APT signature of garbage bytes":      aptParts[0] + "." + aptParts[1] + "." + e([]byte("garbage")),
		"two parts":                           "abc.def",
		"JSON serialization":                  `{"payload":"e30","signatures":[]}`,
		"unicode in the header's base64":      "é." + goodParts[1] + "." + goodParts[2],
		"huge":                                strings.Repeat("a", DefaultMaxSize+1),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tok, 0)
			if err == nil {
				err = p.Verify(keys, rules, now)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			checkReason(t, err)
			_, err = VerifyAPT(tok, snap, "https://as.test/oauth2/token", now)
			if err == nil {
				t.Fatal("accepted as an APT")
			}
			checkReason(t, err)
		})
	}
}

// TestReasonKeepsTheCause: the library's error stays in the chain, for logs.
func TestReasonKeepsTheCause(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tok := sign(t, ecKey, jose.ES256, nil, `{"exp":1}`)
	e := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(tok, ".")
	_, err := Parse(e([]byte(`{"alg":1}`))+"."+parts[1]+"."+parts[2], 0)
	if err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("error %v has no cause", err)
	}
	if !strings.Contains(errors.Unwrap(err).Error(), "json") {
		t.Fatalf("cause %v is not the JSON error", errors.Unwrap(err))
	}
	if Reason(errors.New("database is locked")) != "invalid token: the token could not be verified" {
		t.Fatalf("a foreign error's reason: %q", Reason(errors.New("database is locked")))
	}
	if Reason(fmt.Errorf("grant: %w", err)) != `invalid token: header parameter "alg" must be a string` {
		t.Fatalf("a wrapped refusal's reason: %q", Reason(fmt.Errorf("grant: %w", err)))
	}
}
