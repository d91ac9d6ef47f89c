package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/secrethash"
)

func TestLoadDev(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	noEnv := env(nil)

	snap, created, err := LoadDev(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first LoadDev: created = false")
	}
	if want := "development defaults (" + filepath.Join(dataDir, DevConfigFile) + ")"; snap.Source != want {
		t.Fatalf("Source = %q, want %q", snap.Source, want)
	}
	if len(snap.Warnings) != 0 {
		t.Fatalf("generated config has warnings: %q", snap.Warnings)
	}

	info, err := os.Stat(dataDir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v, mode %v; want 0700", err, info.Mode().Perm())
	}
	for _, name := range []string{DevConfigFile, DevCredentialsFile, "signing-key.pem", "environment-key.pem", "credential-key.pem"} {
		info, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, info.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 5 {
		t.Errorf("data dir holds %d entries, want 5 (no temporary files left)", len(entries))
	}

	creds := readCredentials(t, filepath.Join(dataDir, DevCredentialsFile))
	wantKeys := []string{"DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_LEGACY_CLIENT_ID", "DEMO_ENVIRONMENT_GUID", "DEMO_ENVIRONMENT_KEY", "DEMO_CREDENTIAL_ID", "DEMO_CREDENTIAL_KEY", "DEMO_API_KEY", "DEMO_USERNAME", "DEMO_PASSWORD"}
	for _, k := range wantKeys {
		if creds[k] == "" {
			t.Errorf("credentials file lacks %s", k)
		}
	}

	if creds["DEMO_USERNAME"] != DevDemoUsername {
		t.Errorf("DEMO_USERNAME = %q, want %q", creds["DEMO_USERNAME"], DevDemoUsername)
	}
	if !regexp.MustCompile(`^[A-Za-z2-9]{5}(-[A-Za-z2-9]{5}){3}$`).MatchString(creds["DEMO_PASSWORD"]) {
		t.Errorf("DEMO_PASSWORD %q is not four groups of five random characters", creds["DEMO_PASSWORD"])
	}
	if n := len(creds["DEMO_PASSWORD"]); n < snap.Realm("rl_demo").PasswordMinLength {
		t.Errorf("DEMO_PASSWORD has %d characters, below the realm's minimum %d", n, snap.Realm("rl_demo").PasswordMinLength)
	}
	read, err := ReadDevCredentials(dataDir)
	if err != nil {
		t.Fatalf("ReadDevCredentials: %v", err)
	}
	if !reflect.DeepEqual(read, creds) {
		t.Errorf("ReadDevCredentials = %v, want %v", read, creds)
	}

	backend := snap.Client(creds["DEMO_CLIENT_ID"])
	if backend == nil || backend.AuthMethod != AuthSecretBasic || !backend.HasGrant(GrantJWTBearer) {
		t.Fatalf("demo-backend client: %+v", backend)
	}
	if ok, err := secrethash.Verify(backend.SecretHash, creds["DEMO_CLIENT_SECRET"]); !ok || err != nil {
		t.Fatalf("DEMO_CLIENT_SECRET does not verify against the config's secret_hash: %v %v", ok, err)
	}
	if ok, err := secrethash.Verify(snap.APIKeys[0].KeyHash, creds["DEMO_API_KEY"]); !ok || err != nil {
		t.Fatalf("DEMO_API_KEY does not verify against the config's key_hash: %v %v", ok, err)
	}
	legacy := snap.Client(creds["DEMO_LEGACY_CLIENT_ID"])
	if legacy == nil || legacy.AuthMethod != AuthNone || !reflect.DeepEqual(snap.Compat.Legacy.Clients, []string{"legacy-app"}) {
		t.Fatalf("legacy client %+v, compat %+v", legacy, snap.Compat.Legacy)
	}

	envm := snap.Environment(creds["DEMO_ENVIRONMENT_GUID"])
	if envm == nil || envm.Client != "demo-backend" || envm.PublicKeys[0].Alg != AlgRS256 {
		t.Fatalf("environment %+v", envm)
	}
	checkKeyPair(t, creds["DEMO_ENVIRONMENT_KEY"], envm.PublicKeys[0].Key)
	cred := snap.APICredential(creds["DEMO_CREDENTIAL_ID"])
	if cred == nil || cred.Client != "demo-backend" || !reflect.DeepEqual(cred.Scopes, LoginIDScopes) {
		t.Fatalf("api credential %+v", cred)
	}
	checkKeyPair(t, creds["DEMO_CREDENTIAL_KEY"], cred.PublicKeys[0].Key)

	yml, _ := os.ReadFile(filepath.Join(dataDir, DevConfigFile))
	for _, k := range []string{"DEMO_CLIENT_SECRET", "DEMO_API_KEY", "DEMO_PASSWORD"} {
		if bytes.Contains(yml, []byte(creds[k])) {
			t.Errorf("%s appears in %s", k, DevConfigFile)
		}
	}
	for _, section := range []string{"issuer:", "listen:", "trusted_proxies:", "database:", "signing_keys:", "passwords:", "tokens:", "access_token_format: jwt", "driver: sqlite", "realms:", "clients:", "environments:", "api_credentials:", "api_keys:", "compat:"} {
		if !bytes.Contains(yml, []byte(section)) {
			t.Errorf("%s does not write %q", DevConfigFile, section)
		}
	}
	if want := filepath.Join(dataDir, "latchkey.db"); snap.Database.DSN != want {
		t.Errorf("dsn %q, want %q", snap.Database.DSN, want)
	}

	again, created, err := LoadDev(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("second LoadDev: created = true")
	}
	if again.ActiveSigningKey().KID != snap.ActiveSigningKey().KID || again.Client("demo-backend").SecretHash != backend.SecretHash {
		t.Fatal("second LoadDev loaded a different config")
	}
	if kid, _ := Thumbprint(again.ActiveSigningKey().Key); kid != again.ActiveSigningKey().KID {
		t.Fatalf("signing kid %q is not the key's thumbprint %q", again.ActiveSigningKey().KID, kid)
	}
}

func TestLoadDevKeepsAnEditedFile(t *testing.T) {
	dataDir := t.TempDir()
	if _, _, err := LoadDev(dataDir, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, DevConfigFile)
	yml, _ := os.ReadFile(path)
	edited := strings.Replace(string(yml), "access_token_ttl: 15m", "access_token_ttl: 5m", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, created, err := LoadDev(dataDir, env(map[string]string{EnvListen: ":9999"}))
	if err != nil || created {
		t.Fatalf("LoadDev = %v, created %v", err, created)
	}
	if snap.Tokens.AccessTokenTTL.String() != "5m0s" || snap.Listen != ":9999" {
		t.Fatalf("ttl %s, listen %q: edit or override lost", snap.Tokens.AccessTokenTTL, snap.Listen)
	}
}

// TestReadDevCredentialsUnquotes: key paths with spaces or quotes are
// shell-quoted in the file; ReadDevCredentials gives them back as they were.
func TestReadDevCredentialsUnquotes(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "my data's dir")
	if _, _, err := LoadDev(dataDir, nil); err != nil {
		t.Fatal(err)
	}
	creds, err := ReadDevCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dataDir, "environment-key.pem"); creds["DEMO_ENVIRONMENT_KEY"] != want {
		t.Errorf("DEMO_ENVIRONMENT_KEY = %q, want %q", creds["DEMO_ENVIRONMENT_KEY"], want)
	}
	if _, err := ReadDevCredentials(t.TempDir()); err == nil {
		t.Error("ReadDevCredentials of a directory without the file succeeded")
	}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"'a b'", "a b"},
		{`'it'\''s'`, "it's"},
	} {
		if got, ok := shellUnquote(tc.in); !ok || got != tc.want {
			t.Errorf("shellUnquote(%s) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := shellUnquote("'open"); ok {
		t.Error("shellUnquote accepted an unbalanced quote")
	}
}

// readCredentials parses the NAME=VALUE lines of a dev-credentials file.
func readCredentials(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first && !strings.HasPrefix(line, "# Latchkey development credentials, generated ") {
			t.Fatalf("first line %q", line)
		}
		if name, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[name] = value
		}
	}
	return out
}

// checkKeyPair checks that the private key file holds the private half of pub.
func checkKeyPair(t *testing.T, file string, pub any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(priv.Public(), pub) {
		t.Fatalf("%s is not the private key of the configured public key", file)
	}
}

// TestLoadDevIssuerFollowsListen: the development config names no issuer, so
// LATCHKEY_LISTEN moves the issuer with the port.
func TestLoadDevIssuerFollowsListen(t *testing.T) {
	dataDir := t.TempDir()
	for _, tc := range []struct{ listen, issuer string }{
		{"", "http://127.0.0.1:8080"},
		{"127.0.0.1:9191", "http://127.0.0.1:9191"},
		{"0.0.0.0:9191", "http://127.0.0.1:9191"},
		{":9192", "http://127.0.0.1:9192"},
		{"[::1]:9193", "http://[::1]:9193"},
		{"localhost:9194", "http://localhost:9194"},
	} {
		snap, _, err := LoadDev(dataDir, env(map[string]string{EnvListen: tc.listen}))
		if err != nil {
			t.Fatal(err)
		}
		if snap.Issuer != tc.issuer {
			t.Errorf("LATCHKEY_LISTEN=%q: issuer %q, want %q", tc.listen, snap.Issuer, tc.issuer)
		}
		if len(snap.Warnings) != 0 {
			t.Errorf("LATCHKEY_LISTEN=%q: warnings %q", tc.listen, snap.Warnings)
		}
	}
	snap, _, err := LoadDev(dataDir, env(map[string]string{EnvListen: "127.0.0.1:9191", EnvIssuer: "https://auth.example.com"}))
	if err != nil || snap.Issuer != "https://auth.example.com" {
		t.Fatalf("LATCHKEY_ISSUER: issuer %v, %v", snap.Issuer, err)
	}
}

// TestIssuerPortWarning: an issuer on this machine that names another port
// than listen (an older development file, with LATCHKEY_LISTEN) is warned
// about, with the variable to set.
func TestIssuerPortWarning(t *testing.T) {
	dir := keyDir(t, "")
	yml := base + "issuer: http://127.0.0.1:8080\n"
	for _, tc := range []struct {
		env  map[string]string
		warn string
	}{
		{map[string]string{EnvListen: "127.0.0.1:9090"}, `t.yaml:7: issuer: http://127.0.0.1:8080 names port 8080, but the server listens on 127.0.0.1:9090 (from LATCHKEY_LISTEN), so tokens and discovery name the wrong address; set LATCHKEY_ISSUER=http://127.0.0.1:9090, or remove issuer: to derive it from listen`},
		{map[string]string{EnvListen: "127.0.0.1:8080"}, ""},
		{map[string]string{EnvListen: "0.0.0.0:9090"}, ""}, // published through another port, maybe: no guess
		{map[string]string{EnvListen: "127.0.0.1:9090", EnvIssuer: "https://auth.example.com"}, ""},
	} {
		snap, err := Parse("t.yaml", []byte(yml), dir, env(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(snap.Warnings, "\n"); got != tc.warn {
			t.Errorf("env %v: warnings\n%s\nwant\n%s", tc.env, got, tc.warn)
		}
	}
}

// TestLoadDevSurfaces: the development config switches on the surfaces that
// are built: all four (LoginID's passkey routes answer 501 until passkeys come).
func TestLoadDevSurfaces(t *testing.T) {
	snap, _, err := LoadDev(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := snap.Compat
	if !c.WorkAPI.Enabled || !c.Legacy.Enabled || !c.AuthRocket.Enabled || !c.LoginID.Enabled {
		t.Fatalf("compat %+v: want every built surface on", c)
	}
}

// TestLoadDevPasskeys: the development config leaves passkeys off (its
// issuer, http://127.0.0.1:8080, is an IP address) but writes the webauthn
// section; switched on, passkeys need the issuer on http://localhost:8080.
func TestLoadDevPasskeys(t *testing.T) {
	dataDir := t.TempDir()
	snap, _, err := LoadDev(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.PasskeysEnabled() {
		t.Fatal("development defaults have passkeys on")
	}
	want := WebAuthn{RPID: "127.0.0.1", RPDisplayName: "127.0.0.1", Origins: []string{"http://127.0.0.1:8080"},
		UserVerification: UserVerificationPreferred, Timeout: 2 * time.Minute}
	if !reflect.DeepEqual(snap.WebAuthn, want) {
		t.Errorf("WebAuthn = %#v\nwant %#v", snap.WebAuthn, want)
	}
	path := filepath.Join(dataDir, DevConfigFile)
	yml, _ := os.ReadFile(path)
	for _, s := range []string{"\nwebauthn:\n", "  user_verification: preferred", "  timeout: 120s", "http://localhost:8080", "    passkeys: false"} {
		if !bytes.Contains(yml, []byte(s)) {
			t.Errorf("%s does not write %q", DevConfigFile, s)
		}
	}
	on := bytes.Replace(yml, []byte("    passkeys: false"), []byte("    passkeys: true"), 1)
	if err := os.WriteFile(path, on, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadDev(dataDir, nil); err == nil || !strings.Contains(err.Error(), "realms[0].passkeys: realm rl_demo has passkeys, but the relying-party id defaults to the issuer's host 127.0.0.1, an IP address") {
		t.Fatalf("passkeys on the IP issuer: %v", err)
	}
	for _, e := range []map[string]string{{EnvIssuer: "http://localhost:8080"}, {EnvListen: "localhost:8080"}} {
		snap, _, err := LoadDev(dataDir, env(e))
		if err != nil {
			t.Fatalf("%v: %v", e, err)
		}
		if !snap.PasskeysEnabled() || snap.WebAuthn.RPID != "localhost" || !reflect.DeepEqual(snap.WebAuthn.Origins, []string{"http://localhost:8080"}) || len(snap.Warnings) != 0 {
			t.Errorf("%v: passkeys %v, WebAuthn %+v, warnings %q", e, snap.PasskeysEnabled(), snap.WebAuthn, snap.Warnings)
		}
	}
}
