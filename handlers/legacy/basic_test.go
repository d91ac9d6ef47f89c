package legacy

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func basicHeader(raw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

func TestParseKeyToken(t *testing.T) {
	grant := "0b7c3f4e-5d6a-4b1c-9e2f-123456789abc"
	for _, c := range []struct {
		name, header string
		key, token   string
		err          error
	}{
		{"the wiki's shape", basicHeader(grant + ":eyJ.a.b"), grant, "eyJ.a.b", nil},
		{"scheme in any case", "basic " + base64.StdEncoding.EncodeToString([]byte("k:t")), "k", "t", nil},
		{"spaces around the value", "Basic   " + base64.StdEncoding.EncodeToString([]byte("k:t")) + "  ", "k", "t", nil},
		{"split at the first colon", basicHeader("k:t:u"), "k", "t:u", nil},
		{"nothing form-unescaped", basicHeader("a%3Ab+c:t%20+x"), "a%3Ab+c", "t%20+x", nil},
		{"no header", "", "", "", errNoBasic},
		{"bearer", "Bearer abc", "", "", errNoBasic},
		{"scheme only", "Basic", "", "", errNoBasic},
		{"empty value", "Basic ", "", "", errBadBasic},
		{"not base64", "Basic !!!not-base64", "", "", errBadBasic},
		{"base64url alphabet", "Basic " + base64.URLEncoding.EncodeToString([]byte("k:t\xfb\xff")), "", "", errBadBasic},
		{"unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("k:tt")), "", "", errBadBasic},
		{"no colon", basicHeader("keytoken"), "", "", errBadBasic},
		{"empty key", basicHeader(":token"), "", "", errBadBasic},
		{"empty token", basicHeader("key:"), "", "", errBadBasic},
		{"only a colon", basicHeader(":"), "", "", errBadBasic},
		{"key far too long", basicHeader(strings.Repeat("k", maxKeyLength+1) + ":t"), "", "", errBadBasic},
		{"key at the limit", basicHeader(strings.Repeat("k", maxKeyLength) + ":t"), strings.Repeat("k", maxKeyLength), "t", nil},
	} {
		r := httptest.NewRequest(http.MethodPatch, "/users", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		key, token, err := parseKeyToken(r)
		if !errors.Is(err, c.err) || key != c.key || token != c.token {
			t.Errorf("%s: parseKeyToken(%q) = %q, %q, %v; want %q, %q, %v", c.name, c.header, key, token, err, c.key, c.token, c.err)
		}
	}
}

// FuzzParseKeyToken: whatever the header, the parser never panics, and
// what it accepts is exactly base64(key ":" token) of a non-empty key
// without a colon and a non-empty token, taken byte for byte.
func FuzzParseKeyToken(f *testing.F) {
	for _, s := range []string{
		basicHeader("k:t"), basicHeader("a%3Ab:c+d"), basicHeader(":"), basicHeader("k:"), basicHeader(":t"),
		"Basic", "Basic ", "basic a2V5OnRva2Vu", "Bearer x", "Basic =", "Basic a2V5OnRva2Vu==", "Basic\ta2V5OnRva2Vu",
		basicHeader("k:t\x00\xff"), basicHeader(strings.Repeat("k", 200) + ":t"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodPatch, "/users", nil)
		r.Header["Authorization"] = []string{header}
		key, token, err := parseKeyToken(r)
		if err != nil {
			if key != "" || token != "" {
				t.Fatalf("refused %q but returned %q, %q", header, key, token)
			}
			if !errors.Is(err, errNoBasic) && !errors.Is(err, errBadBasic) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if key == "" || token == "" || strings.Contains(key, ":") || len(key) > maxKeyLength {
			t.Fatalf("accepted %q as key %q, token %q", header, key, token)
		}
		scheme, value, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Basic") {
			t.Fatalf("accepted scheme %q", scheme)
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if derr != nil || string(raw) != key+":"+token {
			t.Fatalf("accepted %q as %q:%q, but it decodes to %q (%v)", header, key, token, raw, derr)
		}
	})
}
