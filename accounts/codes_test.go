package accounts

import (
	"errors"
	"strings"
	"testing"
)

func TestCodeForms(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		for _, typ := range CodeTypes {
			c := newCode(typ)
			norm, ok := normalizeCode(typ, c)
			if !ok || norm != c {
				t.Fatalf("%s code %q does not normalise to itself (%q, %v)", typ, c, norm, ok)
			}
			seen[c] = true
		}
	}
	if len(seen) < 590 {
		t.Fatalf("only %d distinct codes of 600", len(seen))
	}
	if n := len(codeWords); n < 400 {
		t.Fatalf("%d code words", n)
	}
	words := map[string]bool{}
	for _, w := range codeWords {
		if words[w] || w != strings.ToLower(w) || strings.ContainsAny(w, " -") {
			t.Fatalf("code word %q repeated or not a plain lower-case word", w)
		}
		words[w] = true
	}
}

func TestNormalizeCode(t *testing.T) {
	for _, tc := range []struct {
		typ, in, want string
		ok            bool
	}{
		{CodeShort, "123456", "123456", true},
		{CodeShort, " 123 456 ", "123456", true},
		{CodeShort, "12345", "", false},
		{CodeShort, "12345a", "", false},
		{CodeShort, "１２３４５６", "", false}, // full-width digits are not digits here
		{CodeLong, "0123456789abcdef", "0123456789ABCDEF", true},
		{CodeLong, "0123-4567-89AB-CDEF", "0123456789ABCDEF", true},
		{CodeLong, "O1IL456789ABCDEF", "0111456789ABCDEF", true},
		{CodeLong, "0123456789ABCDEU", "", false},
		{CodeLong, "0123456789ABCDE", "", false},
		{CodePhrase, "Able  acid-aged also", "able acid aged also", true},
		{CodePhrase, "able acid aged", "", false},
		{CodePhrase, strings.Repeat("x", 70), "", false},
		{"medium", "123456", "", false},
	} {
		got, ok := normalizeCode(tc.typ, tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeCode(%s, %q) = %q, %v; want %q, %v", tc.typ, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// A code's hash binds it to its realm, user, purpose and type.
func TestCodeHashBinding(t *testing.T) {
	h := codeHash("rl_a", "usr_a", PurposeAddCredential, CodeShort, "123456")
	for _, other := range []string{
		codeHash("rl_b", "usr_a", PurposeAddCredential, CodeShort, "123456"),
		codeHash("rl_a", "usr_b", PurposeAddCredential, CodeShort, "123456"),
		codeHash("rl_a", "usr_a", PurposeTemporaryAuthentication, CodeShort, "123456"),
		codeHash("rl_a", "usr_a", PurposeAddCredential, CodeLong, "123456"),
		codeHash("rl_a", "usr_a", PurposeAddCredential, CodeShort, "123457"),
	} {
		if other == h {
			t.Fatal("two different bindings hash alike")
		}
	}
	if len(h) != 64 || strings.Contains(h, "123456") {
		t.Fatalf("hash %q", h)
	}
	if _, err := PresentCode("rl_a", "usr_a", CodeShort, PurposeAddCredential, "12"); !errors.Is(err, ErrCodeRefused) {
		t.Fatalf("a malformed code: %v", err)
	}
	if _, err := PresentCode("rl_a", "usr_a", "medium", PurposeAddCredential, "123456"); !errors.Is(err, ErrInvalidCode) {
		t.Fatalf("an unknown type: %v", err)
	}
}

func TestPasswordCredentialUUID(t *testing.T) {
	u := PasswordCredentialUUID("usr_a")
	if len(u) != 36 || u[14] != '8' || !strings.ContainsRune("89ab", rune(u[19])) || u != PasswordCredentialUUID("usr_a") || u == PasswordCredentialUUID("usr_b") {
		t.Fatalf("uuid %q", u)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("n", 256), "a\x00b", "\xff"} {
		if _, err := CheckCredentialName(bad); !errors.Is(err, ErrInvalidCredentialName) {
			t.Errorf("name %q accepted", bad)
		}
	}
	if got, err := CheckCredentialName("  Work laptop "); err != nil || got != "Work laptop" {
		t.Fatalf("%q %v", got, err)
	}
}
