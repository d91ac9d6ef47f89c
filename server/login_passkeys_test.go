package server_test

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/softauthn"
)

// Passkeys on the login page, over real HTTP with a software
// authenticator: the pages and their CSP, the JSON routes bound to the
// pending request like the password form, the add-passkey offer after a
// password sign-in (Add, Skip remembered, never to a user with a passkey),
// and the ID token's amr.

const passkeyOrigin = "http://localhost:8080"

// passkeyClients is browserClients in a realm with passkeys (relying
// party localhost, whose origin the software authenticator names), plus a
// browser client of rl_other, which has none.
func passkeyClients(yaml string) string {
	y := strings.Replace(browserClients(yaml), "{id: rl_test, name: Test,", "{id: rl_test, name: Test, passkeys: true,", 1)
	y = strings.Replace(y, "clients:\n", `clients:
  - id: web-other
    name: Other Realm App
    realm: rl_other
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [`+webRedirect+`]
    scopes: [openid, profile]
`, 1)
	return y + "webauthn: {rp_id: localhost, origins: [\"" + passkeyOrigin + "\"]}\n"
}

// postJSON posts body as JSON and returns the answer and its JSON object.
func (b *browser) postJSON(path string, body any) (page, map[string]any) {
	b.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		b.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.f.url(path), bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	p := b.do(req)
	var m map[string]any
	if err := json.Unmarshal([]byte(p.body), &m); err != nil {
		b.t.Fatalf("POST %s = %d, not a JSON object: %s", path, p.status, p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		b.t.Errorf("POST %s: Cache-Control %q, want no-store", path, cc)
	}
	return p, m
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// pendingOf is the JSON body naming form's pending request, with extra.
func pendingOf(form url.Values, extra map[string]any) map[string]any {
	m := map[string]any{"request": form.Get("request"), "csrf": form.Get("csrf")}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// optionsOf returns the publicKey options of a begin answer, as JSON, and
// their challenge.
func optionsOf(t *testing.T, p page, m map[string]any) ([]byte, string) {
	t.Helper()
	pk, ok := m["publicKey"].(map[string]any)
	if p.status != http.StatusOK || !ok {
		t.Fatalf("begin = %d %s", p.status, p.body)
	}
	raw, _ := json.Marshal(pk)
	challenge, _ := pk["challenge"].(string)
	return raw, challenge
}

// answerPasskey begins the login page's passkey sign-in of form and
// answers it with auth: the body the page's script would post to finish.
func (b *browser) answerPasskey(form url.Values, auth *softauthn.Authenticator) map[string]any {
	b.t.Helper()
	p, m := b.postJSON("/login/passkey/begin", pendingOf(form, nil))
	opts, challenge := optionsOf(b.t, p, m)
	if strings.Contains(string(opts), "allowCredentials") {
		b.t.Errorf("a discoverable sign-in names credentials: %s", opts)
	}
	as, err := auth.Assert(opts)
	if err != nil {
		b.t.Fatalf("Assert: %v", err)
	}
	return pendingOf(form, map[string]any{"challenge": challenge, "id": b64u(as.CredentialID), "rawId": b64u(as.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u(as.ClientDataJSON), "authenticatorData": b64u(as.AuthenticatorData),
			"signature": b64u(as.Signature), "userHandle": b64u(as.UserHandle)}})
}

// addPasskey runs the offer page's Add with auth and returns the finish.
func (b *browser) addPasskey(offer url.Values, auth *softauthn.Authenticator) (page, map[string]any) {
	b.t.Helper()
	p, m := b.postJSON("/login/passkey/add/begin", pendingOf(offer, nil))
	opts, challenge := optionsOf(b.t, p, m)
	att, err := auth.Register(opts)
	if err != nil {
		b.t.Fatalf("Register: %v", err)
	}
	return b.postJSON("/login/passkey/add/finish", pendingOf(offer, map[string]any{"challenge": challenge, "credentialUUID": m["credentialUUID"],
		"id": b64u(att.CredentialID), "rawId": b64u(att.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u(att.ClientDataJSON), "attestationObject": b64u(att.AttestationObject), "transports": []string{"internal"}}}))
}

// codeOf returns the code of a JSON answer's location (the client's
// redirect), failing otherwise.
func codeOf(t *testing.T, what string, p page, m map[string]any) string {
	t.Helper()
	loc, _ := m["location"].(string)
	u, err := url.Parse(loc)
	if p.status != http.StatusOK || err != nil || !strings.HasPrefix(loc, webRedirect+"?") || u.Query().Get("code") == "" {
		t.Fatalf("%s = %d %s, want the client's redirect with a code", what, p.status, p.body)
	}
	if u.Query().Get("state") != "state-0123456789" {
		t.Errorf("%s: redirect %s lacks the state", what, loc)
	}
	return u.Query().Get("code")
}

// amrOf exchanges code and returns the ID token's subject and amr.
func (b *browser) amrOf(code, client string) (string, string) {
	b.t.Helper()
	status, tok := b.exchange(code, client)
	idt, _ := tok["id_token"].(string)
	if status != http.StatusOK || idt == "" {
		b.t.Fatalf("exchange = %d %v", status, tok)
	}
	_, claims := b.f.verifyJWT(idt)
	var amr []string
	list, _ := claims["amr"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		amr = append(amr, s)
	}
	sub, _ := claims["sub"].(string)
	return sub, strings.Join(amr, " ")
}

var (
	scriptTagRe = regexp.MustCompile(`<script[^>]*>`)
	handlerRe   = regexp.MustCompile(`\son[a-z]+\s*=`)
	integrityRe = regexp.MustCompile(`integrity="(sha384-[^"]+)"`)
)

// wantPasskeyPage checks a page with the passkey script: the strict CSP
// plus our own script and fetches, one script tag with src and integrity,
// nothing inline.
func wantPasskeyPage(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	tags := scriptTagRe.FindAllString(p.body, -1)
	if len(tags) != 1 || !strings.HasPrefix(tags[0], `<script src="/login/assets/passkeys.js" integrity="sha384-`) ||
		!strings.Contains(p.body, tags[0]+"</script>") {
		t.Errorf("script tags %q, want the one embedded script, by src, empty", tags)
	}
	if handlerRe.MatchString(p.body) || externalRe.MatchString(p.body) || strings.Contains(p.body, "javascript:") {
		t.Errorf("the page has an inline handler or an external asset: %s", p.body)
	}
	if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.header)
	}
}

func eachBackend(t *testing.T, run func(t *testing.T, mysql bool)) {
	t.Run("sqlite", func(t *testing.T) { run(t, false) })
	t.Run("mysql", func(t *testing.T) { run(t, true) })
}

func sessionCookieSet(p page) string {
	for _, sc := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "latchkey_session=") && !strings.HasPrefix(sc, "latchkey_session=;") {
			return sc
		}
	}
	return ""
}

func TestPasskeyLoginPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, mysql bool) {
		f := newFixture(t, fixtureOpts{mysql: mysql, edit: passkeyClients})
		aliceID := f.addUser("alice", alicePassword)
		b := newBrowser(t, f)

		// The login page offers a passkey: the button, the autofill, the
		// script under a CSP that allows only it.
		p := b.get(authorizeURL("web"))
		wantPasskeyPage(t, p)
		for _, want := range []string{`id="passkey-button"`, `autocomplete="username webauthn"`, `name="password"`, `data-begin="/login/passkey/begin"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("login page lacks %s", want)
			}
		}
		js := b.get("/login/assets/passkeys.js")
		sum := sha512.Sum384([]byte(js.body))
		if m := integrityRe.FindStringSubmatch(p.body); js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") ||
			m == nil || html.UnescapeString(m[1]) != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("passkeys.js = %d %q, integrity %v", js.status, js.header.Get("Content-Type"), m)
		}

		// A password sign-in: the offer, not yet the code.
		form := loginForm(t, p)
		p = b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
		if p.status != http.StatusOK || !strings.Contains(p.body, "Add a passkey for faster sign-in?") || !strings.Contains(p.body, `id="skip"`) {
			t.Fatalf("password sign-in = %d %v %s, want the add-passkey offer", p.status, p.loc, p.body)
		}
		if sessionCookieSet(p) == "" {
			t.Errorf("the offer comes without the session cookie: %q", p.header.Values("Set-Cookie"))
		}
		wantPasskeyPage(t, p)
		offer := loginForm(t, p)
		// The offer's routes take the offer's request only: not a login
		// page's, even in the signed-in browser.
		other := loginForm(t, b.get(authorizeURL("web", "prompt", "login")))
		if p, m := b.postJSON("/login/passkey/add/begin", pendingOf(other, nil)); p.status != http.StatusForbidden {
			t.Errorf("add/begin with a login page's request = %d %v", p.status, m)
		}
		if p := b.post("/login/passkey/skip", other); p.status != http.StatusForbidden || p.loc != nil {
			t.Errorf("skip with a login page's request = %d %v", p.status, p.loc)
		}
		// Add: a passkey, then the code; the ID token says password.
		auth := softauthn.New("localhost", passkeyOrigin, softauthn.Options{})
		p, m := b.addPasskey(offer, auth)
		if sub, amr := b.amrOf(codeOf(t, "add/finish", p, m), "web"); sub != aliceID || amr != "pwd" {
			t.Errorf("after the password sign-in: sub %s amr %q, want %s [pwd]", sub, amr, aliceID)
		}
		if p, m := b.postJSON("/login/passkey/add/begin", pendingOf(offer, nil)); p.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error_description"]), "already used") {
			t.Errorf("the used offer again = %d %v", p.status, m)
		}

		// A passkey sign-in in a new browser: no username, no password; a
		// session cookie like a password's, and the code.
		b2 := newBrowser(t, f)
		form2 := loginForm(t, b2.get(authorizeURL("web")))
		answer := b2.answerPasskey(form2, auth)
		p, m = b2.postJSON("/login/passkey/finish", answer)
		code := codeOf(t, "finish", p, m)
		sc := sessionCookieSet(p)
		for _, want := range []string{"Path=/", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(sc, want) {
				t.Errorf("passkey sign-in Set-Cookie %q lacks %s", sc, want)
			}
		}
		if sub, amr := b2.amrOf(code, "web"); sub != aliceID || amr != "hwk user" {
			t.Errorf("after the passkey sign-in: sub %s amr %q, want %s [hwk user]", sub, amr, aliceID)
		}
		if p := b2.get(authorizeURL("web2")); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Errorf("single sign-on after a passkey sign-in = %d %v", p.status, p.loc)
		} else if _, amr := b2.amrOf(p.loc.Query().Get("code"), "web2"); amr != "hwk user" {
			t.Errorf("single sign-on's amr %q, want the session's [hwk user]", amr)
		}
		// The finished request: the password form's answer.
		if p, m := b2.postJSON("/login/passkey/begin", pendingOf(form2, nil)); p.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error_description"]), "expired or was already used") {
			t.Errorf("begin on a finished request = %d %v", p.status, m)
		}
		if p, m := b2.postJSON("/login/passkey/finish", answer); p.status != http.StatusBadRequest || m["location"] != nil {
			t.Errorf("finish posted again = %d %v", p.status, m)
		}

		// A replayed challenge, on another request: refused; the request
		// lives on and a fresh ceremony signs in.
		b3 := newBrowser(t, f)
		form3 := loginForm(t, b3.get(authorizeURL("web")))
		p, m = b3.postJSON("/login/passkey/finish", cloneMap(answer, "request", form3.Get("request"), "csrf", form3.Get("csrf")))
		if p.status != http.StatusUnauthorized || m["error"] != "passkey_refused" || !strings.Contains(fmt.Sprint(m["error_description"]), "challenge") || sessionCookieSet(p) != "" {
			t.Errorf("replayed challenge = %d %v", p.status, m)
		}
		p, m = b3.postJSON("/login/passkey/finish", b3.answerPasskey(form3, auth))
		codeOf(t, "finish after a refusal", p, m)

		// A challenge begun on one pending request of a browser, finished
		// on another of the same browser: refused (the ceremony is bound
		// to its request).
		bb := newBrowser(t, f)
		formA := loginForm(t, bb.get(authorizeURL("web")))
		formB := loginForm(t, bb.get(authorizeURL("web2")))
		onA := bb.answerPasskey(formA, auth)
		p, m = bb.postJSON("/login/passkey/finish", cloneMap(onA, "request", formB.Get("request"), "csrf", formB.Get("csrf")))
		if p.status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), "another ceremony") || sessionCookieSet(p) != "" {
			t.Errorf("a challenge of another request = %d %v", p.status, m)
		}

		// CSRF: the token missing or another request's, or the right
		// values from a browser that never saw the page: 403.
		b4 := newBrowser(t, f)
		form4 := loginForm(t, b4.get(authorizeURL("web")))
		foreign := loginForm(t, newBrowser(t, f).get(authorizeURL("web")))
		for name, tc := range map[string]struct {
			b    *browser
			body map[string]any
		}{
			"csrf missing":            {b4, pendingOf(cloneForm(form4, "csrf", ""), nil)},
			"csrf of another request": {b4, pendingOf(cloneForm(form4, "csrf", foreign.Get("csrf")), nil)},
			"another browser":         {newBrowser(t, f), pendingOf(form4, nil)},
		} {
			for _, path := range []string{"/login/passkey/begin", "/login/passkey/finish", "/login/passkey/add/begin", "/login/passkey/add/finish"} {
				if p, m := tc.b.postJSON(path, tc.body); p.status != http.StatusForbidden || m["error"] != "invalid_request" {
					t.Errorf("%s: %s = %d %v, want 403", name, path, p.status, m)
				}
			}
		}
		if p, m := b4.postJSON("/login/passkey/begin", pendingOf(cloneForm(form4, "request", "nope"), nil)); p.status != http.StatusBadRequest {
			t.Errorf("unknown request = %d %v", p.status, m)
		}
		// Bodies: JSON only, under the cap, of the right shape.
		for name, tc := range map[string]struct {
			ctype, body string
			status      int
		}{
			"a form":         {"application/x-www-form-urlencoded", "request=" + form4.Get("request") + "&csrf=" + form4.Get("csrf"), http.StatusUnsupportedMediaType},
			"malformed JSON": {"application/json", `{"request":`, http.StatusBadRequest},
			"oversized":      {"application/json", `{"request":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
			"bad base64url": {"application/json", mustJSONString(t, pendingOf(form4, map[string]any{"challenge": "x", "rawId": "***",
				"response": map[string]any{"clientDataJSON": "e30"}})), http.StatusBadRequest},
		} {
			path := "/login/passkey/finish"
			req, _ := http.NewRequest(http.MethodPost, f.url(path), strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if p := b4.do(req); p.status != tc.status {
				t.Errorf("%s = %d %.200s, want %d", name, p.status, p.body, tc.status)
			}
		}
		// Still usable after all that.
		p, m = b4.postJSON("/login/passkey/finish", b4.answerPasskey(form4, auth))
		codeOf(t, "finish after the refusals", p, m)

		// alice has a passkey now: her next password sign-in goes straight
		// to the client.
		b5 := newBrowser(t, f)
		if p := b5.post("/login", cloneForm(loginForm(t, b5.get(authorizeURL("web"))), "username", "alice", "password", alicePassword)); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Errorf("password sign-in of a user with a passkey = %d %s, want no offer", p.status, p.body)
		}

		// A client that needs consent: the script is sent to the consent
		// page, which this browser alone can open.
		b6 := newBrowser(t, f)
		form6 := loginForm(t, b6.get(authorizeURL("web3")))
		p, m = b6.postJSON("/login/passkey/finish", b6.answerPasskey(form6, auth))
		loc, _ := m["location"].(string)
		if p.status != http.StatusOK || !strings.HasPrefix(loc, "/consent?request=") {
			t.Fatalf("passkey sign-in to a consent client = %d %v", p.status, m)
		}
		if p := newBrowser(t, f).get(loc); p.status != http.StatusBadRequest || strings.Contains(p.body, `value="allow"`) {
			t.Errorf("the consent page in another browser = %d", p.status)
		}
		p = b6.get(loc)
		wantHTMLHeaders(t, p)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Third-Party App") || !strings.Contains(p.body, "alice") {
			t.Fatalf("consent page = %d %s", p.status, p.body)
		}
		p = b6.post("/consent", cloneForm(loginForm(t, p), "decision", "allow"))
		if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Fatalf("allow = %d %v %s", p.status, p.loc, p.body)
		}
		if _, amr := b6.amrOf(p.loc.Query().Get("code"), "web3"); amr != "hwk user" {
			t.Errorf("amr after consent %q, want [hwk user]", amr)
		}
	})
}

// Skip is a plain form post, remembered for the user on this browser; a
// passkey that did not verify the user is amr ["hwk"]; a realm without
// passkeys has no passkey routes or script.
func TestPasskeyOfferSkipAndRealms(t *testing.T) {
	eachBackend(t, func(t *testing.T, mysql bool) {
		f := newFixture(t, fixtureOpts{mysql: mysql, edit: passkeyClients})
		bobID := f.addUser("bob", alicePassword)
		f.addUser("carol", alicePassword)
		b := newBrowser(t, f)
		offerFor := func(b *browser, user string, extra ...string) (page, url.Values) {
			t.Helper()
			p := b.post("/login", cloneForm(loginForm(t, b.get(authorizeURL("web", extra...))), "username", user, "password", alicePassword))
			if p.status != http.StatusOK || !strings.Contains(p.body, "Add a passkey") {
				return p, nil
			}
			return p, loginForm(t, p)
		}
		_, offer := offerFor(b, "bob")
		if offer == nil {
			t.Fatal("no offer after bob's first password sign-in")
		}
		// Skip without the offer's browser, then Skip.
		if p := newBrowser(t, f).post("/login/passkey/skip", offer); p.status == http.StatusSeeOther {
			t.Errorf("skip from another browser = %d %v", p.status, p.loc)
		}
		p := b.post("/login/passkey/skip", offer)
		if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Fatalf("skip = %d %v %s", p.status, p.loc, p.body)
		}
		var skipCookie string
		for _, sc := range p.header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "latchkey_pkskip_") {
				skipCookie = sc
			}
		}
		if !strings.Contains(skipCookie, "Max-Age=") || !strings.Contains(skipCookie, "HttpOnly") || strings.Contains(skipCookie, bobID) {
			t.Errorf("skip cookie %q: want a long-lived HttpOnly cookie that does not show the user id", skipCookie)
		}
		if sub, amr := b.amrOf(p.loc.Query().Get("code"), "web"); sub != bobID || amr != "pwd" {
			t.Errorf("after skip: %s %q", sub, amr)
		}
		if p := b.post("/login/passkey/skip", offer); p.status != http.StatusBadRequest || p.loc != nil {
			t.Errorf("skip posted twice = %d %v", p.status, p.loc)
		}
		// Remembered on this browser, for bob only; a new browser asks once.
		if p, offer := offerFor(b, "bob", "prompt", "login"); offer != nil || p.status != http.StatusSeeOther {
			t.Errorf("bob's next sign-in on the same browser = %d, want no offer", p.status)
		}
		if _, offer := offerFor(b, "carol", "prompt", "login"); offer == nil {
			t.Errorf("carol on bob's browser was not offered a passkey")
		}
		if _, offer := offerFor(newBrowser(t, f), "bob"); offer == nil {
			t.Errorf("bob on a new browser was not offered a passkey")
		}

		// carol adds a passkey with an authenticator that does not verify
		// the user: her passkey sign-ins are amr ["hwk"].
		b2 := newBrowser(t, f)
		_, offer = offerFor(b2, "carol")
		if offer == nil {
			t.Fatal("no offer for carol")
		}
		auth := softauthn.New("localhost", passkeyOrigin, softauthn.Options{UserNotVerified: true})
		p, m := b2.addPasskey(offer, auth)
		codeOf(t, "carol's add/finish", p, m)
		b3 := newBrowser(t, f)
		p, m = b3.postJSON("/login/passkey/finish", b3.answerPasskey(loginForm(t, b3.get(authorizeURL("web"))), auth))
		if _, amr := b3.amrOf(codeOf(t, "carol's passkey sign-in", p, m), "web"); amr != "hwk" {
			t.Errorf("a passkey sign-in without user verification: amr %q, want [hwk]", amr)
		}
		// A realm without passkeys, beside one that has them: its page has
		// no script, and its requests get 404 from the passkey routes.
		bo := newBrowser(t, f)
		po := bo.get(authorizeURL("web-other"))
		wantHTMLHeaders(t, po)
		if strings.Contains(po.body, "passkey") || strings.Contains(po.body, "webauthn") {
			t.Errorf("the login page of a realm without passkeys mentions them: %s", po.body)
		}
		formO := loginForm(t, po)
		for _, path := range []string{"/login/passkey/begin", "/login/passkey/finish", "/login/passkey/add/begin", "/login/passkey/add/finish"} {
			if p, m := bo.postJSON(path, pendingOf(formO, nil)); p.status != http.StatusNotFound {
				t.Errorf("%s for a realm without passkeys = %d %v", path, p.status, m)
			}
		}
	})
}

// A snapshot without any passkey realm: the routes answer 404, the pages
// stay script-free (wantHTMLHeaders in the tests above).
func TestPasskeyRoutesWithoutPasskeys(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	form := loginForm(t, b.get(authorizeURL("web")))
	if p, m := b.postJSON("/login/passkey/begin", pendingOf(form, nil)); p.status != http.StatusNotFound {
		t.Errorf("begin without passkeys = %d %v", p.status, m)
	}
	p := b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Errorf("password sign-in without passkeys = %d %s, want no offer", p.status, p.body)
	}
}

func cloneMap(m map[string]any, kv ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
