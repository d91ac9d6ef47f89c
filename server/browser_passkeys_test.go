package server_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Passkeys in a real browser: headless Chromium with a virtual
// authenticator (the DevTools WebAuthn domain: a CTAP2 platform
// authenticator with resident keys that verifies the user and answers at
// once). The relying party's authorization code flow signs alice in with
// her password, she adds a passkey on the offer page that follows, signs
// out, and signs in again with the passkey alone through the login page's
// button; the ID tokens' amr say ["pwd"], then ["hwk", "user"].
//
// WebAuthn needs a secure context and a domain as relying-party id, so the
// issuer is http://localhost:PORT (Chromium counts localhost as secure)
// and the rp id defaults to localhost, the origin to the issuer's.

// issuerLine is the fixture's issuer, to run as http://localhost:PORT.
var issuerLine = regexp.MustCompile(`(?m)^issuer: http://127\.0\.0\.1:`)

func TestBrowserPasskeys(t *testing.T) {
	chrome := chromiumPath(t)
	rp := newRelyingParty(t, "rp")
	base := "http://" + rp.srv.Listener.Addr().String()
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		y = issuerLine.ReplaceAllString(y, "issuer: http://localhost:")
		y = strings.Replace(y, "{id: rl_test, name: Test,", "{id: rl_test, name: Test, passkeys: true,", 1)
		return strings.Replace(y, "clients:\n", "clients:\n"+browserClient("rp", "Passkey Test App", base, "none"), 1)
	}})
	if !strings.HasPrefix(f.snap.Issuer, "http://localhost:") || f.snap.WebAuthn.RPID != "localhost" || !f.snap.Realm("rl_test").Passkeys {
		t.Fatalf("issuer %s, rp id %q, passkeys %v: the fixture is not a passkey realm on localhost", f.snap.Issuer, f.snap.WebAuthn.RPID, f.snap.Realm("rl_test").Passkeys)
	}
	userID := f.addUser("alice", alicePassword)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	rp.start(ctx, f.snap.Issuer)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(390, 844))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	b := tab{t: t, ctx: bctx}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("LATCHKEY_SCREENSHOT_DIR")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signedIn := func(want string) {
		t.Helper()
		res := <-rp.result
		if res.err != nil {
			t.Fatalf("%v (page: %q)", res.err, b.text("result"))
		}
		if res.subject != userID || res.username != "alice" || !res.refresh {
			t.Fatalf("the relying party saw %+v, want user %s", res, userID)
		}
		if got := strings.Join(res.amr, " "); got != want {
			t.Fatalf("ID token amr = %q, want %q", res.amr, strings.Fields(want))
		}
	}

	// The tab's virtual authenticator: it lives as long as the tab, across
	// navigations, so the credential made below is there to sign in with.
	b.do("open a tab", chromedp.Navigate("about:blank"))
	if _, err := chromedp.Call(bctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	va, err := chromedp.Call(bctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	credentials := func() []*webauthn.Credential {
		t.Helper()
		got, err := chromedp.Call(bctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: va.AuthenticatorID})
		if err != nil {
			t.Fatalf("WebAuthn.getCredentials: %v", err)
		}
		return got.Credentials
	}

	// A password sign-in, then the offer: Add makes a passkey, and the
	// flow goes on to the relying party.
	b.do("open the relying party", chromedp.Navigate(rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("passkey-button")))
	if ac, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.ID("username"), "autocomplete")); err != nil || ac.Value != "username webauthn" {
		t.Errorf("username autocomplete = %+v, %v; want \"username webauthn\" (conditional mediation)", ac, err)
	}
	// The autofill's request, with no passkey to offer yet, says nothing.
	b.do("let the autofill's request settle", chromedp.Sleep(500*time.Millisecond))
	if quiet, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("login-error").hidden`)); err != nil || !quiet {
		t.Errorf("the login page shows an error before anything was asked (%v): %q", err, b.text("login-error"))
	}
	shot("passkey-login-page.png")
	b.do("sign in with the password",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("add-passkey")))
	if got := b.text("passkey-offer"); got != "Add a passkey for faster sign-in?" {
		t.Errorf("offer page heading = %q", got)
	}
	shot("passkey-offer.png")
	b.do("add a passkey", chromedp.Click(chromedp.ID("add-passkey")), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn("pwd")
	creds := credentials()
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v, want one resident credential of rp localhost", creds)
	}
	if passkeys, err := f.srv.Accounts().Credentials(f.ctx(), "rl_test", userID); err != nil || len(passkeys) != 2 {
		t.Fatalf("alice's credentials = %+v, %v; want her password and the passkey", passkeys, err)
	}

	// Signed out, the same tab (and authenticator) signs in with the
	// passkey alone through the button: no username, no password. The
	// virtual authenticator would answer the login page's conditional
	// request (the username field's autofill) at once, by itself; so that
	// the button is what signs in, the tab's pages are told, before their
	// own script runs, that this browser has no conditional mediation.
	noConditional, err := chromedp.Call(bctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Object.defineProperty(PublicKeyCredential, "isConditionalMediationAvailable", {value: () => Promise.resolve(false)});`,
	})
	if err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}
	b.do("sign out", chromedp.Navigate(rp.srv.URL+"/logout"), chromedp.WaitVisible(chromedp.ID("bye")))
	b.do("open the relying party again", chromedp.Navigate(rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("passkey-button")))
	b.do("sign in with the passkey button", chromedp.Click(chromedp.ID("passkey-button")), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn("hwk user")
	if got := b.text("result"); got != "signed in as alice" {
		t.Errorf("page = %q", got)
	}
	if n := len(credentials()); n != 1 {
		t.Errorf("the authenticator holds %d credentials after signing in, want 1", n)
	}
	// The passkey sign-in's session gives single sign-on like a password's.
	b.do("prompt=none", chromedp.Navigate(rp.srv.URL+"/?prompt=none"), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn("hwk user")
	// The next password sign-in offers nothing: alice has a passkey.
	b.do("sign in with the password again", chromedp.Navigate(rp.srv.URL+"/?prompt=login"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SetValue(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("result")))
	signedIn("pwd")

	// Conditional mediation: signed out, the login page's own autofill
	// request signs alice in with nothing clicked (the virtual
	// authenticator picks her passkey as a person would in the list).
	if _, err := chromedp.Call(bctx, cdppage.RemoveScriptToEvaluateOnNewDocument, cdppage.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: noConditional.Identifier}); err != nil {
		t.Fatalf("Page.removeScriptToEvaluateOnNewDocument: %v", err)
	}
	b.do("sign out again", chromedp.Navigate(rp.srv.URL+"/logout"), chromedp.WaitVisible(chromedp.ID("bye")))
	b.do("the login page's autofill", chromedp.Navigate(rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn("hwk user")
}
