package core

import (
	"encoding/base64"
	"net/url"
	"testing"
)

// FuzzBasicCredentials feeds arbitrary Authorization headers to the Basic
// parser: it must never panic, and whatever it accepts must round-trip.
func FuzzBasicCredentials(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("svc:lk_secret")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("a%3Ab:c%25d")))
	f.Add("Basic !!!")
	f.Add("Bearer abc")
	f.Add("basic " + base64.StdEncoding.EncodeToString([]byte(":")))
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		id, secret, err := basicCredentials(header)
		if err != nil {
			if id != "" || secret != "" {
				t.Fatalf("error with values: %q %q", id, secret)
			}
			return
		}
		if id == "" {
			t.Fatal("accepted an empty client_id")
		}
		// What was accepted decodes back to the same header value.
		enc := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		again, secret2, err := basicCredentials("Basic " + base64.StdEncoding.EncodeToString([]byte(enc)))
		if err != nil || again != id || secret2 != secret {
			t.Fatalf("round trip: %q %q -> %q %q %v", id, secret, again, secret2, err)
		}
	})
}
