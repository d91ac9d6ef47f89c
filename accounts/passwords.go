package accounts

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
	"github.com/ccojocar/zxcvbn-go/frequency"
	"golang.org/x/text/unicode/norm"

	"github.com/latchkey/latchkey/config"
)

// MaxPasswordLength is the longest password accepted, in characters
// (NIST SP 800-63B asks for at least 64). Longer ones are refused before any
// work, at login too.
const MaxPasswordLength = 1024

// scoredPrefix is how much of a password zxcvbn scores: its matching is
// super-linear (measured here: 64 characters 3 ms, 128 18 ms, 256 130 ms,
// 1024 7.7 s), and a password whose first 64 characters are not guessable is
// not among the common ones.
const scoredPrefix = 64

// The common-password check uses github.com/ccojocar/zxcvbn-go, the
// maintained fork (the one gosec depends on) of nbutton23/zxcvbn-go, a pure-Go
// port of Dropbox's zxcvbn that ships its lists compiled in. Its packages
// load them at init: about 45 ms and 18 MB allocated once per process.

// commonPasswords is zxcvbn's list of the most common passwords (Mark
// Burnett's, 7,141 entries after zxcvbn's cleaning), as a set.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.Lists["Passwords"].List
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[p] = struct{}{}
	}
	return set
})

// CheckPassword applies realm's password policy to password and returns it
// NFC-normalised, the form that is hashed and verified (so an "é" typed as
// one code point or as two matches either way). It refuses, with
// ErrWeakPassword and the reason:
//
//   - fewer than realm.PasswordMinLength or more than MaxPasswordLength
//     characters, or invalid UTF-8;
//   - a password on zxcvbn's list of the most common passwords (compared
//     lower-cased);
//   - a password to which zxcvbn gives its lowest score, 0 (fewer than 10^2
//     guesses' worth of entropy by its estimate: a common word, name, date,
//     repetition or keyboard walk, or one of userInputs — the user's own
//     username, e-mail and names — with a few characters added).
//
// The check costs up to a few milliseconds (zxcvbn on at most the first 64
// characters) and runs only when a password is set, never at login.
func CheckPassword(realm *config.Realm, password string, userInputs ...string) (string, error) {
	pw, p := passwordProblem(realm, password, userInputs...)
	if p != nil {
		return "", fmt.Errorf("%w: %s", ErrWeakPassword, p.Message)
	}
	return pw, nil
}

// passwordProblem is CheckPassword's policy, reporting a refusal as the
// password's Problem.
func passwordProblem(realm *config.Realm, password string, userInputs ...string) (string, *Problem) {
	if !utf8.ValidString(password) {
		return "", &Problem{FieldPassword, CodeInvalid, "password is not valid UTF-8"}
	}
	pw := norm.NFC.String(password)
	n := utf8.RuneCountInString(pw)
	minLen := 1
	if realm != nil {
		minLen = max(realm.PasswordMinLength, 1)
	}
	switch {
	case n < minLen:
		return "", &Problem{FieldPassword, CodeTooShort, fmt.Sprintf("password must be at least %d characters", minLen)}
	case n > MaxPasswordLength:
		return "", &Problem{FieldPassword, CodeTooLong, fmt.Sprintf("password must be at most %d characters", MaxPasswordLength)}
	}
	if _, common := commonPasswords()[strings.ToLower(pw)]; common {
		return "", &Problem{FieldPassword, CodeWeak, "password is one of the most common passwords; choose another"}
	}
	scored := pw
	if n > scoredPrefix {
		scored = string([]rune(pw)[:scoredPrefix])
	}
	var inputs []string
	for _, in := range userInputs {
		if in = strings.ToLower(strings.TrimSpace(in)); in != "" {
			inputs = append(inputs, in)
			if local, _, ok := strings.Cut(in, "@"); ok && local != "" {
				inputs = append(inputs, local)
			}
		}
	}
	if zxcvbn.PasswordStrength(scored, inputs).Score == 0 {
		return "", &Problem{FieldPassword, CodeWeak, "password is too easy to guess (a common word or password, a name, a date, a repetition, a keyboard pattern or your own username or email); choose a longer or less predictable one"}
	}
	return pw, nil
}
