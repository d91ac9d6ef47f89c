package core_test

import (
	"errors"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// FuzzParseAuthorize feeds arbitrary query strings to the authorization
// endpoint's parser: it never panics, fails only with an *AuthorizeError,
// and never redirects — an error or a request — anywhere but a redirect URI
// registered for the client the request names.
func FuzzParseAuthorize(f *testing.F) {
	snap := flowSnapshot(f, "http://issuer.test", nil)
	store := storagetest.OpenSQLite(f)
	acc := accounts.New(store, accounts.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cr, err := core.New(snap, core.Deps{Store: store, Accounts: acc})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(spaParams().Encode())
	f.Add("client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A5174%2Fcb&response_type=code")
	f.Add("client_id=web&response_type=code&state=abcdefghij")
	f.Add("client_id=spa&client_id=web&redirect_uri=x")
	f.Add("client_id=spa&response_type=code&code_challenge_method=plain&code_challenge=x&prompt=none+login&max_age=-1")
	f.Add("request_uri=http://evil&client_id=spa")
	f.Fuzz(func(t *testing.T, query string) {
		form, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := cr.ParseAuthorize(t.Context(), form)
		allowed := func(to string) bool {
			cl := snap.Client(form.Get("client_id"))
			if cl == nil {
				return false
			}
			return slices.ContainsFunc(cl.RedirectURIs, func(r string) bool {
				u, _ := url.Parse(r)
				v, _ := url.Parse(to)
				return u != nil && v != nil && u.Scheme == v.Scheme && u.Host == v.Host && u.Path == v.Path && strings.HasPrefix(to, r[:len(r)-len(u.RawQuery)])
			})
		}
		if err != nil {
			var ae *core.AuthorizeError
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v, want *AuthorizeError", err, err)
			}
			if to := ae.RedirectURL(); to != "" && !allowed(to) {
				t.Fatalf("error redirects to %q", to)
			}
			return
		}
		if !slices.Contains(req.Client.RedirectURIs, req.RedirectURI) || req.Client.ID != form.Get("client_id") {
			t.Fatalf("accepted redirect %q for client %q", req.RedirectURI, req.Client.ID)
		}
	})
}
