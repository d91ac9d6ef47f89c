package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzTokenEndpoint sends arbitrary form bodies and Authorization headers to
// the real token endpoint: whatever arrives, the answer is a 2xx or 4xx with
// an RFC 6749 JSON body — never a 500, never something else.
func FuzzTokenEndpoint(f *testing.F) {
	fx := newFixture(f, fixtureOpts{})
	f.Add("grant_type=client_credentials&scope=read", "Basic c3ZjOnNlY3JldA==")
	f.Add("grant_type=%zz", "")
	f.Add("grant_type=password&username=a&password=b&client_id=public-app", "")
	f.Add("grant_type=refresh_token&refresh_token=lk_rt_x&client_id=public-app", "")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c", "Basic !!!")
	f.Add("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.&grant_type=client_credentials", "")
	f.Add("grant_type=urn%3Alatchkey%3Aparams%3Agrant-type%3Ainternal&client_id=svc", "Bearer x")
	f.Fuzz(func(t *testing.T, body, authorization string) {
		req, err := http.NewRequest(http.MethodPost, fx.url("/oauth2/token"), strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			req.Header["Authorization"] = []string{authorization}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skip() // the client refused to send it (e.g. a header with a newline)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if resp.StatusCode >= 500 || json.Unmarshal(raw, &m) != nil {
			t.Fatalf("body %q, auth %q: %d %s", body, authorization, resp.StatusCode, raw)
		}
		if resp.StatusCode >= 400 && m["error"] == nil {
			t.Fatalf("a %d without an RFC 6749 error: %s", resp.StatusCode, raw)
		}
	})
}
